"""The forecaster: a trained cell as every consumer uses it. Recent hourly readings in, the next
hour's load out, or the next `hours` hours' (recursively, each forecast fed back as the latest
load).

One artefact (`Forecaster.save`, `Forecaster.load`) holds everything a forecast needs: the network
weights of each seed (their forecasts are averaged), the architecture, the input spec, the feature
list and per-region scalers of the windows it was trained on, and the cleaning and calendar recipe.
The train stage writes it; evaluate, the `loadforecast forecast` command and the MLflow model
(`loadforecast.tracking.pyfunc`) load it, so a model can never meet scalers it was not trained
with. It forecasts a window as evaluate does (in float32: a model trained with
`train.precision: bf16` is evaluated under bf16 autocast, and differs from it by that rounding).

A region the model was not trained on is refused: its scaler is fitted on that region's training
hours, and the network has never seen its level, so a forecast would be a guess.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from loadforecast.calendar import add_time_features
from loadforecast.cleaning import clean_readings
from loadforecast.config import FeaturesParams, IngestParams, ReadingsParams
from loadforecast.data import PJM_READINGS
from loadforecast.errors import LoadForecastError
from loadforecast.files import atomic_path
from loadforecast.hourly import to_local_time, utc_offsets
from loadforecast.model import ModelConfig, RNNForecaster, autocast, forecast_horizons
from loadforecast.scaling import LOAD_COLUMN, Scalers, scale, unscale, unscale_load
from loadforecast.windows import InputSpec, Windows, gather, reaching_ahead

READINGS = ["region", "timestamp", "load_mw"]
FORECAST = ["region", "timestamp", "utc_offset", "horizon", "forecast_mw", "model"]
HOUR = pd.Timedelta(hours=1)
MAX_HOURS = 168  # a week: beyond it, the week-old load itself would be a forecast


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
            "calendar": self.calendar.model_dump(),
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
                "; rerun train (dvc repro)"
            )


def _calendar_of_old_models(stored: dict[str, Any]) -> dict[str, Any]:
    """A saved calendar; models saved before `holidays` named a country flagged US federal
    holidays when it was true."""
    if isinstance(stored.get("holidays"), bool):
        country = "US" if stored["holidays"] else None
        return {"holiday_subdivision": None, "extra_holidays": [], **stored, "holidays": country}
    return stored


def check_hours(hours: object, most: int = MAX_HOURS) -> int:
    """The number of hours to forecast, or an error that says what is allowed: `most` is a
    multi-horizon model's horizons."""
    if not (isinstance(hours, int) and not isinstance(hours, bool) and 1 <= hours <= most):
        longer = (
            f"; the model forecasts {most} hours ahead (train.horizon_hours): a longer forecast "
            "needs a model trained for it"
            if most < MAX_HOURS
            else ""
        )
        raise LoadForecastError(f"hours = {hours!r}: forecast between 1 and {most} hours{longer}")
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
            f"quantile(s) {untrained}: the model was not trained for them ({have}); train one "
            "with train.objective = multi_horizon and train.quantiles including them"
        )
    return given


def model_rows(
    readings: pd.DataFrame,
    region: str,
    recipe: Recipe,
    hours: int = 1,
    ahead: pd.DataFrame | None = None,
) -> tuple[np.ndarray, pd.Timestamp]:
    """The scaled rows that forecast the `hours` hours after the last reading, and the first of
    them: the last `spec.reach` hours of `readings` (indexed by local time: load_mw and each
    covariate) cleaned as ingest cleans them (and stored, like its table, as float32), then the
    forecast hours (their calendar is known in advance, their known covariates come from
    `ahead`, indexed by local time; their loads are unknown, zero here, and filled in by the
    forecasts as they are made, like their observed covariates)."""
    if region not in recipe.scalers:
        raise LoadForecastError(
            f"region {region!r}: the model was trained on {sorted(recipe.scalers)} only; "
            "train it on this region's history first"
        )
    covariates = recipe.readings.used_covariates
    latest = readings.index.max()
    missing = [c for c in covariates if pd.isna(readings[c].loc[[latest]]).all()]
    if missing:
        raise LoadForecastError(
            f"region {region!r}: the latest reading ({latest}) has no {', '.join(missing)}; "
            "every reading needs the model's covariates, or leave that reading out"
        )
    frame = readings.reset_index(names="timestamp")
    table, report = clean_readings(frame, recipe.ingest, recipe.readings.frequency)
    if len(table) and table.index[-1] != latest.floor("h") and report["reading_minutes"] < 60:
        per_hour = 60 // report["reading_minutes"]
        raise LoadForecastError(
            f"region {region!r}: the latest hour ({latest.floor('h')}) has "
            f"{int((readings.index.floor('h') == latest.floor('h')).sum())} of its {per_hour} "
            f"readings; an hour needs at least {(per_hour + 1) // 2} to count: wait for them, or "
            "leave that hour's readings out to forecast it"
        )
    if len(table) and table.index[-1] != latest.floor("h"):
        raise LoadForecastError(
            f"region {region!r}: the latest reading ({latest}, "
            f"{readings['load_mw'].loc[latest]!r} MW) is implausible beside the hours before it "
            f"(ingest.outlier_ratio = {recipe.ingest.outlier_ratio}); check it, or leave it out "
            "to forecast that hour"
        )
    needed = recipe.spec.reach
    last = table.index[-1] if len(table) else None
    recent = table[table.index > last - needed * HOUR] if last is not None else table
    if len(recent) < needed:
        missing = "" if last is None else f" from {last - (needed - 1) * HOUR} to {last}"
        raise LoadForecastError(
            f"region {region!r}: {len(recent)} usable hours of the {needed} consecutive hours "
            f"before the forecast{missing} (after cleaning: gaps over "
            f"{recipe.ingest.max_fill_hours} hours are not filled); give at least {needed} "
            "recent hourly readings without a longer gap"
        )
    future = pd.DataFrame(index=pd.date_range(last + HOUR, periods=hours, freq="h"))
    future["load_mw"] = 0.0
    for name, role in covariates.items():
        future[name] = known_ahead(ahead, name, future.index, region) if role == "known" else 0.0
    recent = recent.astype(np.float32).astype(np.float64)
    frame = pd.concat([recent, future]).reset_index(names="timestamp")
    frame = add_time_features(frame, recipe.calendar)
    values = frame[recipe.features].to_numpy(np.float64)
    return scale(values, recipe.scalers[region]), last + HOUR


def known_ahead(
    ahead: pd.DataFrame | None, name: str, hours: pd.DatetimeIndex, region: str
) -> np.ndarray:
    """A known covariate's hourly means over `hours` (the hours ahead) from the request's rows
    after the latest reading, or an error naming the first hour it is missing for."""
    given = pd.Series(dtype=np.float64) if ahead is None else ahead[name].dropna()
    values = given.groupby(given.index.floor("h")).mean().reindex(hours)
    if values.isna().any():
        first = values.index[values.isna().to_numpy()][0]
        raise LoadForecastError(
            f"region {region!r}: known covariate {name!r} is missing for {first} (hour "
            f"{hours.get_loc(first) + 1} of the {len(hours)} ahead); give its value for every "
            "hour ahead, in rows after the latest reading with load_mw empty"
        )
    return values.to_numpy(np.float64)


def feed_back(step: Callable, series, label_rows, hours: int, held: slice) -> list:
    """`hours` forecasts from each of `label_rows` on, the recursion every multi-hour forecast
    shares: each hour's forecast, `step(series, rows)`, is written into `series` (in place; a
    NumPy array or a tensor) as that hour's load before the next hour is forecast, so the inputs
    read it as their latest load while the calendar, the known covariates and the older lags
    stay as they are. The `held` columns (the observed covariates, `InputSpec.columns`) of each
    hour forecast are given their value at the latest reading: past it they are not known."""
    forecasts = []
    for hour in range(hours):
        forecast = step(series, label_rows + hour)
        series[label_rows + hour, LOAD_COLUMN] = forecast
        series[label_rows + hour, held] = series[label_rows - 1, held]
        forecasts.append(forecast)
    return forecasts


def next_hour(
    models: Sequence[RNNForecaster],
    series: torch.Tensor,
    label_rows: torch.Tensor,
    spec: InputSpec,
    precision: str = "fp32",
) -> torch.Tensor:
    """Scaled forecasts of the hours at `label_rows`: the average of the `models`' (seeds')."""
    inputs = gather(series, label_rows, spec)[0]
    with autocast(series.device, precision):
        return torch.stack([m.next_hour(inputs).float() for m in models]).mean(dim=0)


class CarriedStep:
    """The step of a recursion (`feed_back`) that carries each model's state from hour to hour:
    the first call runs the models over each whole `lookback`-hour window, every later call one
    hour on, the hour just forecast and written in. Calls must be for consecutive hours.

    Each hour's forecast then reads the 90 hours of its first window and the hours since (up to
    113 a day ahead, within the 48-255 hours the every-hour objective trains on), where a fresh
    window per hour (`next_hour`) would re-run 90 hours from a zero state: 24 times the work a
    day ahead, and no better on the validation days (README, "Speed").
    """

    def __init__(self, models: Sequence[RNNForecaster], spec: InputSpec, precision: str = "fp32"):
        self.models, self.spec, self.precision = models, spec, precision
        self.states: list | None = None

    def __call__(self, series: torch.Tensor, label_rows: torch.Tensor) -> torch.Tensor:
        first = self.states is None
        # then only the hour just forecast, with its calendar, covariates and lags
        spec = self.spec if first else replace(self.spec, lookback=1)
        inputs = gather(series, label_rows, spec)[0]
        states = self.states or [None] * len(self.models)
        with autocast(series.device, self.precision):
            stepped = [m.step(inputs, state) for m, state in zip(self.models, states, strict=True)]
        self.states = [state for _, state in stepped]
        return torch.stack([forecast.float() for forecast, _ in stepped]).mean(dim=0)


def check_readings(frame: pd.DataFrame, readings: ReadingsParams) -> pd.DataFrame:
    """The readings (region, timestamp, load_mw and the model's covariates) with the right
    types, timestamps in local time of `readings.timezone` (naive ones are taken as local time
    already), or one error that says what is wrong. A row may leave load_mw empty only after
    its region's latest reading, where it carries the known covariates of an hour ahead."""
    covariates = readings.used_covariates
    expected = [*READINGS, *covariates]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise LoadForecastError(f"readings: missing column(s) {missing}; expected {expected}")
    undeclared = [c for c in frame.columns if c not in expected and c not in readings.covariates]
    if undeclared:
        raise LoadForecastError(
            f"readings: column(s) {undeclared} are not inputs of this model (it reads "
            f"{expected}); leave them out"
        )
    frame = frame[expected].copy()
    stamps = to_local_time(
        frame["timestamp"], readings.timezone, lambda row: f"readings, row {row}"
    )
    frame["timestamp"], frame["region"] = stamps, frame["region"].astype(str)
    for name in ["load_mw", *covariates]:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() & frame[name].notna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise LoadForecastError(
                f"readings, row {row}: {name} {frame[name].iloc[row]!r} is not a number"
            )
        frame[name] = values.astype(np.float64)
    empty = frame["load_mw"].isna().to_numpy()
    latest = frame["timestamp"].where(~empty).groupby(frame["region"]).transform("max")
    early = empty & ~(frame["timestamp"] > latest).to_numpy()
    if early.any():
        row = int(np.flatnonzero(early)[0])
        raise LoadForecastError(
            f"readings, row {row}: load_mw is empty at {frame['timestamp'].iloc[row]}, not "
            "after the region's latest reading; only the hours ahead (with the known "
            "covariates) may leave it empty"
        )
    if empty.any() and "known" not in covariates.values():
        row = int(np.argmax(empty))
        raise LoadForecastError(
            f"readings, row {row}: load_mw is empty; this model takes no known covariates, so "
            "the readings need no rows for the hours ahead: leave them out"
        )
    return frame


# What reading a file that is not a saved forecaster raises, besides the loader's own errors.
NOT_OURS = (OSError, RuntimeError, KeyError, TypeError, EOFError, IndexError, ValueError)


class Forecaster:
    """A cell's networks (one per seed) with their recipe, on one device.

    `seeds` name the networks; `runs` records the MLflow runs that trained them (`cell`: the
    seeds' averaged model, `seeds`: one per seed), when they were tracked; `validation` the
    figures they were trained to (`val_smape`, the mean over seeds, and each naive baseline's,
    `naive`), when there was a validation part.
    """

    def __init__(
        self,
        recipe: Recipe,
        states: list[dict],
        seeds: list[int],
        device: torch.device | str = "cpu",
        runs: dict[str, Any] | None = None,
        validation: dict[str, Any] | None = None,
    ) -> None:
        if len(states) != len(seeds):
            raise ValueError(f"{len(states)} networks for {len(seeds)} seeds")
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

    @torch.inference_mode()
    def forecast(
        self, readings: pd.DataFrame, hours: int = 1, quantiles: Sequence[float] | None = None
    ) -> pd.DataFrame:
        """Each region's next `hours` hours after its latest reading, in MW. A multi-horizon
        model forecasts them all at once, with its quantiles as columns (p10, p50, p90: the
        `quantiles` asked for, of those it was trained for; None: all of them) beside
        `forecast_mw` (the median), up to its `horizons`. A one-hour model recurses: each hour's
        forecast is the next hour's last load; the calendar of the hours ahead is known, and the lag
        channels read real readings wherever the lag reaches back past the latest one (for the
        week-old load, all of a day ahead). Each seed's state is carried from hour to hour
        (`CarriedStep`), as evaluate's day-ahead table carries it.

        Timestamps with a UTC offset are converted to the model's time zone (`data.timezone`),
        naive ones are its local time; readings more often than hourly are averaged to hours as
        ingest does. Each forecast hour is local time, with its UTC offset beside it.

        A model trained with covariates reads them as columns of `readings`: an observed one
        up to the latest reading (held at that value through a multi-hour forecast), a known
        one also for every hour ahead, in rows after the latest reading whose load_mw is
        empty."""
        config = self.recipe.config
        check_hours(hours, config.horizons if config.multi_horizon else MAX_HOURS)
        levels = check_quantiles(quantiles, config.quantiles)
        readings = check_readings(readings, self.recipe.readings)
        if readings["load_mw"].isna().all():
            raise LoadForecastError("readings: no rows with a load")
        regions, parts, firsts, starts = [], [], [], []
        offset = 0
        for region, rows in readings.groupby("region", sort=False):
            rows = rows.drop(columns="region").set_index("timestamp")
            past = rows["load_mw"].notna()
            scaled, first = model_rows(rows[past], region, self.recipe, hours, rows[~past])
            regions.append(region)
            parts.append(scaled)
            firsts.append(first)
            starts.append(offset + len(scaled) - hours)
            offset += len(scaled)
        series = torch.from_numpy(np.concatenate(parts)).to(self.device)
        label_rows = torch.tensor(starts, device=self.device)
        repeat = np.repeat(regions, hours)
        columns = {}  # the quantiles asked for
        if config.multi_horizon:
            spec = self.recipe.spec
            scaled = np.mean(
                [forecast_horizons(m, series, label_rows, spec, hours=hours) for m in self.models],
                axis=0,
            )  # (regions, hours, quantiles)
            for i, (level, name) in enumerate(
                zip(config.quantiles, config.quantile_names, strict=True)
            ):
                if level in levels:
                    columns[name] = unscale_load(
                        scaled[..., i].ravel(), repeat, self.recipe.scalers
                    )
            scaled = scaled[..., config.median]
        else:
            step = CarriedStep(self.models, self.recipe.spec)
            held = self.recipe.spec.columns(series.shape[1])[2]
            scaled = torch.stack(feed_back(step, series, label_rows, hours, held), dim=1)
            scaled = scaled.cpu().numpy()
        forecast_mw = unscale_load(scaled.ravel(), repeat, self.recipe.scalers)
        stamps = pd.Series([first + k * HOUR for first in firsts for k in range(hours)])
        return pd.DataFrame(
            {
                "region": repeat,
                "timestamp": stamps,
                "utc_offset": utc_offsets(stamps, self.recipe.readings.timezone),
                "horizon": np.tile(np.arange(1, hours + 1), len(regions)),
                "forecast_mw": forecast_mw,
                **columns,
                "model": self.recipe.name,
            }
        )[[*FORECAST[:-1], *columns, "model"]]

    def save(self, path: Path) -> None:
        """Write the whole forecaster to `path`, atomically."""
        stored = {
            "recipe": self.recipe.to_dict(),
            "seeds": self.seeds,
            "states": [{k: v.cpu() for k, v in state.items()} for state in self.states],
            "runs": self.runs,
            "validation": self.validation,
        }
        with atomic_path(path) as tmp:
            torch.save(stored, tmp)

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> Forecaster:
        """A forecaster saved by `save`, or an error that says what `path` is instead."""
        path = Path(path)
        if not path.is_file():
            raise LoadForecastError(
                f"{path}: no such file: build it (dvc repro, or dvc pull from the team's "
                "remote), or forecast from an MLflow model (models:/<project>-gru@champion)"
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
            )
        except (*NOT_OURS, pickle.UnpicklingError) as err:
            raise LoadForecastError(f"{path}: not a saved forecaster of this project") from err


def recent_readings(windows: Windows, hours: int, ahead: int = 1) -> pd.DataFrame:
    """Real readings to show the model's input with: the `hours` hours before the first
    region's last validation label (else its last training label) with `ahead` labels from it
    on, in MW and each covariate's units, from the windows; with known covariates, then a row
    for each of those `ahead` hours, load empty, carrying them (a multi-horizon model reads them
    for every hour it forecasts). Every label has at least `hours` consecutive hours before it."""
    index = windows.index.sort_values("label_row")
    region = index["region"].iloc[0]
    own = index[index["region"] == region]
    seen = own["split"].isin(("train", "val")).to_numpy()
    last = own[reaching_ahead(own["label_row"].to_numpy(), seen, ahead)].iloc[-1]
    rows = np.arange(last["label_row"] - hours, last["label_row"])
    width = len(windows.features)
    first_covariate = width - windows.spec.known - windows.spec.observed
    frame = pd.DataFrame(
        {
            "region": region,
            "timestamp": pd.date_range(end=last["label_time"] - HOUR, periods=hours, freq="h"),
            **{
                windows.features[column]: unscale(
                    windows.series[rows, column], np.full(hours, region), windows.scalers, column
                )
                for column in (LOAD_COLUMN, *range(first_covariate, width))
            },
        }
    )
    if not windows.spec.known:
        return frame
    _, known, _ = windows.spec.columns(width)
    later = np.arange(last["label_row"], last["label_row"] + ahead)
    hours_ahead = {
        "region": region,
        "timestamp": pd.date_range(last["label_time"], periods=ahead, freq="h"),
        "load_mw": np.nan,
        **{
            windows.features[column]: unscale(
                windows.series[later, column], np.full(ahead, region), windows.scalers, column
            )
            for column in range(known.start, known.stop)
        },
    }
    return pd.concat([frame, pd.DataFrame(hours_ahead)], ignore_index=True)
