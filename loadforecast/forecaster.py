"""The forecaster: a trained cell as every consumer uses it, and the one way to forecast.

`network_forecasts` forecasts from origins of a scaled series: every hour ahead at every quantile of
each seed's network. Evaluate, the day-ahead tables, training's validation figure, the command,
the MLflow model and the benchmarks all forecast through it; `Forecaster.forecast` first turns a
user's recent readings into such a series (`loadforecast.readings`).

One artefact (`Forecaster.save`, `Forecaster.load`) holds everything a forecast needs: the network
weights of each seed (their forecasts are averaged), the architecture, the input spec, the feature
list and per-region scalers of the windows it was trained on, and the cleaning and calendar recipe,
so a model can never meet scalers it was not trained with. A region the model was not trained on
is refused: the network has never seen its level.
"""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from loadforecast.checks import (
    Guard,
    ReadingChecks,
    failed_checks,
    local_checks,
    same_hour_last_week,
)
from loadforecast.config import FeaturesParams, IngestParams, ReadingsParams
from loadforecast.data import PJM_READINGS
from loadforecast.errors import LoadForecastError
from loadforecast.files import atomic_path
from loadforecast.hourly import utc_offsets
from loadforecast.model import ModelConfig, RNNForecaster, autocast
from loadforecast.quantiles import average_seeds, calibrated, next_hour, ordered, to_megawatts
from loadforecast.readings import HOUR, check_readings, missing_hours, model_rows
from loadforecast.scaling import Scalers
from loadforecast.windows import InputSpec, Windows, gather, gather_horizons

log = logging.getLogger(__name__)

BATCH_SIZE = 1024  # windows per forward pass: the fastest on 2 CPU cores (docs/speed.md)


@dataclass(frozen=True)
class Recipe:
    """Everything but the weights: how readings become the network's input, and back."""

    name: str  # shown in every forecast, e.g. "gru (seeds 42, 43, 44)"
    config: ModelConfig
    spec: InputSpec
    features: list[str]
    scalers: Scalers  # region -> per-feature training min and max
    ingest: IngestParams
    calendar: FeaturesParams
    readings: ReadingsParams  # the format, time zone and resolution of the readings

    @classmethod
    def for_windows(
        cls,
        name: str,
        config: ModelConfig,
        windows: Windows,
        ingest: IngestParams,
        calendar: FeaturesParams,
        readings: ReadingsParams,
    ) -> Recipe:
        """The recipe of a model trained on `windows`: their layout and scalers."""
        calendar.check_degree_hours(readings.used_covariates)
        return cls(
            name,
            config,
            windows.spec,
            windows.features,
            windows.scalers,
            ingest,
            calendar,
            readings,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": asdict(self.config),
            "spec": asdict(self.spec),
            "features": self.features,
            "scalers": self.scalers,
            "ingest": self.ingest.model_dump(),
            "calendar": stored_calendar(self.calendar),
            "readings": self.readings.model_dump(),
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Recipe:
        return cls(
            stored["name"],
            ModelConfig(**stored["config"]),
            InputSpec.from_dict(stored["spec"]),
            list(stored["features"]),
            stored["scalers"],
            IngestParams.model_validate(stored["ingest"]),
            FeaturesParams.model_validate(_calendar_of_old_models(stored["calendar"])),
            ReadingsParams.model_validate(stored.get("readings", PJM_READINGS.model_dump())),
        )

    def check_windows(self, windows: Windows, what: str) -> None:
        """Refuse windows of another layout, features or scaling than the model's own."""
        if (windows.spec, windows.features, windows.scalers) != (
            self.spec,
            self.features,
            self.scalers,
        ):
            raise LoadForecastError(
                f"{what}: trained on windows {asdict(self.spec)} of {self.features} with their "
                f"own scalers, but the windows are {asdict(windows.spec)} of {windows.features}"
                f"{' (scaled alike)' if windows.scalers == self.scalers else ', scaled otherwise'}"
                "; retrain it on these windows"
            )


def stored_calendar(calendar: FeaturesParams) -> dict[str, Any]:
    """The calendar as a forecaster stores it: `degree_hours` only when there are any, so that a
    forecaster without them is saved as forecasters were before they existed."""
    stored = calendar.model_dump()
    if not stored["degree_hours"]:
        del stored["degree_hours"]
    return stored


def _calendar_of_old_models(stored: dict[str, Any]) -> dict[str, Any]:
    """A saved calendar (`stored_calendar`); models saved before `holidays` named a country
    flagged US federal holidays when it was true."""
    stored = {"degree_hours": {}, **stored}
    if isinstance(stored.get("holidays"), bool):
        country = "US" if stored["holidays"] else None
        return {"holiday_subdivision": None, "extra_holidays": [], **stored, "holidays": country}
    return stored


def check_hours(hours: object, most: int) -> int:
    """The number of hours to forecast, or an error that says what is allowed: `most` is the
    model's horizons."""
    if not (isinstance(hours, int) and not isinstance(hours, bool) and 1 <= hours <= most):
        raise LoadForecastError(
            f"hours = {hours!r}: this model forecasts between 1 and {most} hours ahead; a longer "
            "forecast needs a model trained for it"
        )
    return hours


def check_quantiles(requested: Sequence[float] | None, trained: Sequence[float]) -> list[float]:
    """The quantile levels to give, sorted (None: every one the model was trained for), or an
    error naming a level it cannot give: only its own (`train.quantiles`) are forecast."""
    if requested is None:
        return list(trained)
    for level in requested:
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
            raise LoadForecastError(f"quantile {level!r}: a level is a number between 0 and 1")
    given = [level for level in trained if np.isclose(requested, level).any()]
    untrained = [level for level in requested if not np.isclose(trained, level).any()]
    if untrained:
        have = f"its quantiles are {list(trained)}" if trained else "it forecasts no quantiles"
        raise LoadForecastError(
            f"quantile(s) {untrained}: the model was not trained for them ({have}); train a "
            "multi-horizon model with these levels among its quantiles"
        )
    return given


def network_forecasts(
    models: Sequence[RNNForecaster],
    series: torch.Tensor,
    rows: torch.Tensor,
    spec: InputSpec,
    hours: int = 1,
    batch_size: int = BATCH_SIZE,
    precision: str = "fp32",
) -> np.ndarray:
    """Scaled forecasts (seeds, origins, hours, levels) of the `hours` from each of `rows` on
    (label rows of `series`), each network from the `lookback`-hour window before its origin (a
    zero state); `series` needs the known inputs of those hours only. A decoder's quantiles are
    `quantiles.ordered` (the first hour's median is the one-hour head's); a network without one
    forecasts the next hour only, its level the median."""
    return np.stack(
        [_forecast(m, series, rows, spec, hours, batch_size, precision) for m in models]
    )


@torch.inference_mode()
def _forecast(
    model: RNNForecaster,
    series: torch.Tensor,
    rows: torch.Tensor,
    spec: InputSpec,
    hours: int,
    batch_size: int,
    precision: str,
) -> np.ndarray:
    config = model.config
    if not 1 <= hours <= config.horizons:
        raise ValueError(f"hours = {hours}: the network forecasts 1 to {config.horizons}")
    parts = [torch.empty(0, hours, len(config.levels), device=series.device)]
    for chunk in rows.split(batch_size) if len(rows) else ():  # no network run on no rows
        inputs = gather(series, chunk, spec)[0]
        with autocast(series.device, precision):
            outputs = model.encode(inputs)
            next_hour = model.head_forecast(outputs[:, -1], inputs[:, -1]).float()
        if model.decoder is None:
            parts.append(next_hour[:, None, None])
            continue
        known = gather_horizons(series, chunk, spec, hours)[0]
        with autocast(series.device, precision):
            quantiles = model.decode(outputs[:, -1], known, inputs[:, -1, 0]).float()
        parts.append(ordered(quantiles, next_hour, config.median))
    return torch.cat(parts).cpu().numpy()


# What reading a file that is not a saved forecaster raises, besides the loader's own errors.
NOT_OURS = (OSError, RuntimeError, KeyError, TypeError, EOFError, IndexError, ValueError)


class Forecaster:
    """A cell's networks (one per seed) with their recipe, on one device.

    `seeds` name the networks; `runs` records the MLflow runs that trained them (`cell`: the
    seeds' averaged model, `seeds`: one per seed), when they were tracked; `validation` the
    figures they were trained to (`val_smape`, the mean over seeds, and each naive baseline's,
    `naive`), when there was a validation part. `calibration` holds, per seed, each region's
    split-conformal offsets (horizons, levels) of the quantiles, in scaled units, learnt on the
    validation part (`training.calibration_offsets`); a region without any is not shifted.
    `guards` hold each region's limits for its readings and its fallback's errors
    (`checks.guards`), learnt on the training part.
    """

    def __init__(
        self,
        recipe: Recipe,
        states: list[dict],
        seeds: list[int],
        device: torch.device | str = "cpu",
        runs: dict[str, Any] | None = None,
        validation: dict[str, Any] | None = None,
        calibration: list[dict[str, np.ndarray]] | None = None,
        guards: dict[str, Guard] | None = None,
    ) -> None:
        if len(states) != len(seeds):
            raise ValueError(f"{len(states)} networks for {len(seeds)} seeds")
        self.calibration = calibration or [{} for _ in seeds]
        if len(self.calibration) != len(seeds):
            raise ValueError(f"{len(self.calibration)} calibrations for {len(seeds)} seeds")
        self.guards = guards or {}
        self.recipe, self.states, self.seeds = recipe, states, list(seeds)
        self.device, self.runs = torch.device(device), runs or {}
        self.validation = validation or {}
        self.models = []
        for state in states:
            model = RNNForecaster(recipe.config).to(self.device)
            model.load_state_dict(state)
            self.models.append(model.eval())

    def renamed(self, name: str) -> Forecaster:
        """The same networks under another name (shown in every forecast)."""
        forecaster = copy.copy(self)
        forecaster.recipe = replace(self.recipe, name=name)
        return forecaster

    def forecast_rows(
        self,
        series: torch.Tensor,
        rows: torch.Tensor,
        regions: np.ndarray,
        hours: int = 1,
        batch_size: int = BATCH_SIZE,
        precision: str = "fp32",
    ) -> tuple[np.ndarray, np.ndarray]:
        """The scaled forecasts from `rows`, the origins of `regions` (`network_forecasts`): the
        seeds' averaged quantiles (origins, hours, levels), which is the forecast, and each
        seed's own (seeds, origins, hours, levels), each calibrated for its region."""
        spec = self.recipe.spec
        per_seed = network_forecasts(self.models, series, rows, spec, hours, batch_size, precision)
        median = self.recipe.config.median
        for seed, offsets in enumerate(self.calibration):
            if offsets:
                shift = np.zeros(per_seed.shape[1:], dtype=per_seed.dtype)
                for region, offset in offsets.items():
                    shift[np.asarray(regions) == region] = np.asarray(offset)[:hours]
                per_seed[seed] = calibrated(per_seed[seed], shift, median)
        return average_seeds(per_seed), per_seed

    def next_hour(
        self,
        series: torch.Tensor,
        rows: torch.Tensor,
        regions: np.ndarray,
        batch_size: int = BATCH_SIZE,
        precision: str = "fp32",
    ) -> np.ndarray:
        """Every seed's scaled point forecast (seeds, origins) of the hour after each of `rows`."""
        _, per_seed = self.forecast_rows(series, rows, regions, 1, batch_size, precision)
        return next_hour(per_seed, self.recipe.config.median)

    def forecast(
        self,
        readings: pd.DataFrame,
        hours: int = 1,
        quantiles: Sequence[float] | None = None,
        checks: ReadingChecks | None = None,
    ) -> pd.DataFrame:
        """Each region's next `hours` hours after its latest reading, in MW: the seeds' averaged
        median as `forecast_mw`, and beside it the `quantiles` asked for (p10, p50, p90; of
        those the model was trained for; None: all of them), up to its horizons.

        Timestamps with a UTC offset are converted to the model's time zone, naive ones are its
        local time; readings more often than hourly are averaged to hours as ingest does. Each
        forecast hour is local time, with its UTC offset beside it. A model trained with
        covariates reads them as columns of `readings`: an observed one up to the latest
        reading, a known one also for every hour ahead, in rows after the latest reading whose
        load_mw is empty.

        Each region's readings pass `checks` first (`loadforecast.checks`): a failed check
        refuses the forecast, or forecasts that region from the same hour last week, its
        `quality` saying which checks failed ("fallback: jump"); "ok" otherwise."""
        config = self.recipe.config
        check_hours(hours, config.horizons)
        levels = check_quantiles(quantiles, config.quantiles)
        readings = check_readings(readings, self.recipe.readings)
        if readings["load_mw"].isna().all():
            raise LoadForecastError("readings: no rows with a load")
        checks = local_checks(checks or ReadingChecks(), self.recipe.readings.timezone)
        if not self.guards:
            log.warning("%s: saved without its readings' limits: no jump check", self.recipe.name)
        known = [c for c, role in self.recipe.readings.used_covariates.items() if role == "known"]
        order, regions, parts, firsts, starts, fallbacks = [], [], [], [], [], {}
        offset = 0
        for region, rows in readings.groupby("region", sort=False):
            order.append(region)
            rows = rows.drop(columns="region").set_index("timestamp")
            past = rows["load_mw"].notna()
            loads = rows.loc[past, "load_mw"]
            hourly = loads.groupby(loads.index.floor("h")).mean()
            ahead = pd.date_range(hourly.index[-1] + HOUR, periods=hours, freq="h")
            missing = {name: missing_hours(rows[~past], name, ahead) for name in known}
            guard = self.guards.get(region)
            failed = failed_checks(hourly, loads.index.max(), missing, ahead, region, guard, checks)
            refused = [line for check, line in failed.items() if check not in checks.fallback]
            if refused:
                raise LoadForecastError("; ".join(refused))
            if failed:
                for line in failed.values():
                    log.warning("%s: forecast from the same hour last week", line)
                fallback = same_hour_last_week(hourly, ahead[0], hours, guard, region)
                fallbacks[region] = (ahead[0], fallback, f"fallback: {', '.join(failed)}")
                continue
            scaled, first = model_rows(rows[past], region, self.recipe, hours, rows[~past])
            regions.append(region)
            parts.append(scaled)
            firsts.append(first)
            starts.append(offset + len(scaled) - hours)
            offset += len(scaled)
        tables = {}
        if regions:
            series = torch.from_numpy(np.concatenate(parts)).to(self.device)
            origins = torch.tensor(starts, device=self.device)
            scaled, _ = self.forecast_rows(series, origins, np.asarray(regions), hours)
            megawatts = to_megawatts(scaled, np.asarray(regions), self.recipe.scalers)
            for region, first, values in zip(regions, firsts, megawatts, strict=True):
                tables[region] = self._table(region, first, values, levels, "ok")
        for region, (first, values, quality) in fallbacks.items():
            tables[region] = self._table(region, first, values, levels, quality)
        return pd.concat([tables[region] for region in order], ignore_index=True)

    def _table(
        self,
        region: str,
        first: pd.Timestamp,
        megawatts: np.ndarray,
        levels: list[float],
        quality: str,
    ) -> pd.DataFrame:
        """One region's forecast (hours, levels) in MW as the rows `forecast` returns."""
        config = self.recipe.config
        columns = {
            name: megawatts[:, i]
            for i, (level, name) in enumerate(
                zip(config.quantiles, config.quantile_names, strict=True)
            )
            if level in levels
        }
        stamps = pd.Series(pd.date_range(first, periods=len(megawatts), freq="h"))
        return pd.DataFrame(
            {
                "region": region,
                "timestamp": stamps,
                "utc_offset": utc_offsets(stamps, self.recipe.readings.timezone),
                "horizon": np.arange(1, len(megawatts) + 1),
                "forecast_mw": megawatts[:, config.median],
                **columns,
                "model": self.recipe.name,
                "quality": quality,
            }
        )

    def save(self, path: Path) -> None:
        """Write the whole forecaster to `path`, atomically."""
        stored = {
            "recipe": self.recipe.to_dict(),
            "seeds": self.seeds,
            "states": [{k: v.cpu() for k, v in state.items()} for state in self.states],
            "runs": self.runs,
            "validation": self.validation,
            "calibration": [
                {region: torch.as_tensor(offset) for region, offset in offsets.items()}
                for offsets in self.calibration
            ],
            "guards": {region: asdict(guard) for region, guard in self.guards.items()},
        }
        with atomic_path(path) as tmp:
            torch.save(stored, tmp)

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> Forecaster:
        """A forecaster saved by `save`, or an error that says what `path` is instead."""
        path = Path(path)
        if not path.is_file():
            raise LoadForecastError(
                f"{path}: no such file: train a forecaster there first, or forecast from an "
                "MLflow model (models:/<project>-gru@champion)"
            )
        try:
            stored = torch.load(path, map_location=device, weights_only=True)
            recipe = Recipe.from_dict(stored["recipe"])
            return cls(
                recipe,
                stored["states"],
                stored["seeds"],
                device,
                stored["runs"],
                stored.get("validation"),
                [
                    {region: offset.cpu().numpy() for region, offset in offsets.items()}
                    for offsets in stored.get("calibration", [])
                ]
                or None,
                {
                    region: Guard(guard["jump_mw"], tuple(guard["weekly_error_mw"]))
                    for region, guard in stored.get("guards", {}).items()
                },
            )
        except (*NOT_OURS, pickle.UnpicklingError) as err:
            raise LoadForecastError(f"{path}: not a saved forecaster of this project") from err
