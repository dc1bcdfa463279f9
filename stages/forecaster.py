"""A trained cell as a forecaster uses it: recent hourly readings in, the next hour's load out,
or the next `hours` hours' (recursively, each forecast fed back as the latest load).

`LoadForecaster` is an MLflow pyfunc model. Its one artefact holds everything a forecast needs:
the network weights of each seed (their forecasts are averaged), the architecture, the input
spec, the feature list and per-region scalers of the windows it was trained on, and the cleaning
and calendar recipe. With this package's code bundled beside it (`code_paths`),
`mlflow.pyfunc.load_model(uri).predict(readings)` needs neither a checkout nor the window
artefacts, and forecasts a window as `evaluate` does (in float32: a model trained with
`train.precision: bf16` is evaluated under bf16 autocast, and differs from it by that rounding).

A region the model was not trained on is refused: its scaler is fitted on that region's training
hours, and the network has never seen its level, so a forecast would be a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stages.batches import LOAD_COLUMN, InputSpec, Windows, gather
from stages.errors import PipelineError
from stages.features import add_time_features
from stages.ingest import clean_series
from stages.model import ModelConfig, RNNForecaster
from stages.params import FeaturesParams, IngestParams

READINGS = ["region", "timestamp", "load_mw"]
FORECAST = ["region", "timestamp", "horizon", "forecast_mw", "model"]
HOUR = pd.Timedelta(hours=1)
MAX_HOURS = 168  # a week: beyond it, the week-old load itself would be a forecast
LOCAL_TIME = "America/New_York"


@dataclass(frozen=True)
class Recipe:
    """Everything but the weights: how readings become the network's input, and back."""

    name: str  # shown in every forecast, e.g. "gru (seeds 42, 43, 44)"
    config: ModelConfig
    spec: InputSpec
    features: list[str]
    scalers: dict[str, dict[str, list[float]]]  # region -> per-feature training min and max
    ingest: IngestParams
    calendar: FeaturesParams

    @property
    def hours_needed(self) -> int:
        """Consecutive readings a forecast reads: the lookback, and the longest lag before it."""
        return self.spec.lookback + max(self.spec.lags, default=1) - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": asdict(self.config),
            "spec": asdict(self.spec),
            "features": self.features,
            "scalers": self.scalers,
            "ingest": asdict(self.ingest),
            "calendar": asdict(self.calendar),
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Recipe:
        return cls(
            stored["name"],
            ModelConfig(**stored["config"]),
            InputSpec.from_dict(stored["spec"]),
            list(stored["features"]),
            stored["scalers"],
            IngestParams(**stored["ingest"]),
            FeaturesParams(**stored["calendar"]),
        )


def scale(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Min-max scaling with the window stage's arithmetic (scikit-learn's MinMaxScaler)."""
    span = high - low
    factor = 1.0 / np.where(span == 0.0, 1.0, span)
    return (values * factor + (0.0 - low * factor)).astype(np.float32)


def model_rows(
    readings: pd.Series, region: str, recipe: Recipe, hours: int = 1
) -> tuple[np.ndarray, pd.Timestamp]:
    """The scaled rows that forecast the `hours` hours after the last reading, and the first of
    them: the last `hours_needed` hours cleaned as ingest cleans them (and stored, like its
    table, as float32), then the forecast hours (their calendar is known in advance; their
    loads are unknown, zero here, and filled in by the forecasts as they are made)."""
    if region not in recipe.scalers:
        raise PipelineError(
            f"region {region!r}: the model was trained on {sorted(recipe.scalers)} only; "
            "train it on this region's history first"
        )
    frame = pd.DataFrame({"timestamp": readings.index, "load_mw": readings.to_numpy()})
    series, _ = clean_series(frame, recipe.ingest)
    latest = readings.index.max()
    if len(series) and series.index[-1] != latest:
        raise PipelineError(
            f"region {region!r}: the latest reading ({latest}, {readings[latest]!r} MW) is "
            f"implausible beside the hours before it (ingest.outlier_ratio = "
            f"{recipe.ingest.outlier_ratio}); check it, or leave it out to forecast that hour"
        )
    needed = recipe.hours_needed
    last = series.index[-1] if len(series) else None
    recent = series[series.index > last - needed * HOUR] if last is not None else series
    if len(recent) < needed:
        missing = "" if last is None else f" from {last - (needed - 1) * HOUR} to {last}"
        raise PipelineError(
            f"region {region!r}: {len(recent)} usable hours of the {needed} consecutive hours "
            f"before the forecast{missing} (after cleaning: gaps over "
            f"{recipe.ingest.max_fill_hours} hours are not filled); give at least {needed} "
            "recent hourly readings without a longer gap"
        )
    future = pd.date_range(last + HOUR, periods=hours, freq="h")
    frame = pd.DataFrame(
        {
            "timestamp": [*recent.index, *future],
            "load_mw": [*recent.to_numpy(dtype=np.float32).astype(np.float64), *[0.0] * hours],
        }
    )
    frame = add_time_features(frame, recipe.calendar.cyclic, recipe.calendar.holidays)
    values = frame[recipe.features].to_numpy(np.float64)
    scaler = recipe.scalers[region]
    return scale(values, np.asarray(scaler["min"]), np.asarray(scaler["max"])), last + HOUR


def feed_back(step: Callable, series, label_rows, hours: int) -> list:
    """`hours` forecasts from each of `label_rows` on, the recursion every multi-hour forecast
    shares: each hour's forecast, `step(series, rows)`, is written into `series` (in place; a
    NumPy array or a tensor) as that hour's load before the next hour is forecast, so the inputs
    read it as their latest load while the calendar and the older lags stay as they are."""
    forecasts = []
    for hour in range(hours):
        forecast = step(series, label_rows + hour)
        series[label_rows + hour, LOAD_COLUMN] = forecast
        forecasts.append(forecast)
    return forecasts


def check_readings(frame: pd.DataFrame) -> pd.DataFrame:
    """The readings with the right types, or one error that says what is wrong."""
    missing = [c for c in READINGS if c not in frame.columns]
    if missing:
        raise PipelineError(f"readings: missing column(s) {missing}; expected {READINGS}")
    frame = frame[READINGS].copy()
    try:
        stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
    except ValueError:  # offsets that differ (a daylight-saving change) in pandas 3
        stamps = None
    if stamps is None or stamps.dtype == object:  # ... and in pandas 2: read them as UTC
        stamps = pd.to_datetime(frame["timestamp"], errors="coerce", utc=True)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna())[0])
        raise PipelineError(
            f"readings, row {row}: timestamp {frame['timestamp'].iloc[row]!r} is not a time"
        )
    loads = pd.to_numeric(frame["load_mw"], errors="coerce")
    if loads.isna().any():
        row = int(np.flatnonzero(loads.isna())[0])
        raise PipelineError(
            f"readings, row {row}: load_mw {frame['load_mw'].iloc[row]!r} is not a number"
        )
    if stamps.dt.tz is not None:  # PJM's readings, and the model's calendar, are Eastern time
        stamps = stamps.dt.tz_convert(LOCAL_TIME).dt.tz_localize(None)
    frame["timestamp"], frame["load_mw"] = stamps, loads.astype(np.float64)
    frame["region"] = frame["region"].astype(str)
    return frame


class Forecasts:
    """The networks of one recipe on one device, forecasting scaled windows."""

    def __init__(self, recipe: Recipe, states: list[dict], device: torch.device) -> None:
        self.recipe, self.device = recipe, device
        self.models = []
        for state in states:
            model = RNNForecaster(recipe.config).to(device)
            model.load_state_dict(state)
            self.models.append(model.eval())

    def next_hour(self, series: torch.Tensor, label_rows: torch.Tensor) -> torch.Tensor:
        """Scaled forecasts of the hours at `label_rows`: the seeds' average, as evaluate's."""
        inputs = gather(series, label_rows, self.recipe.spec)[0]
        return torch.stack([m.next_hour(inputs).float() for m in self.models]).mean(dim=0)

    @torch.inference_mode()
    def forecast(self, readings: pd.DataFrame, hours: int = 1) -> pd.DataFrame:
        """Each region's next `hours` hours after its latest reading, in MW. Recursive: each
        hour's forecast is the next hour's last load; the calendar of the hours ahead is known,
        and the lag channels read real readings wherever the lag reaches back past the latest
        one (for the week-old load, all of a day ahead)."""
        if not (isinstance(hours, int) and 1 <= hours <= MAX_HOURS):
            raise PipelineError(f"hours = {hours!r}: forecast between 1 and {MAX_HOURS} hours")
        readings = check_readings(readings)
        if readings.empty:
            raise PipelineError("readings: no rows")
        regions, parts, firsts, starts = [], [], [], []
        offset = 0
        for region, rows in readings.groupby("region", sort=False):
            readings_of_region = rows.set_index("timestamp")["load_mw"]
            scaled, first = model_rows(readings_of_region, region, self.recipe, hours)
            regions.append(region)
            parts.append(scaled)
            firsts.append(first)
            starts.append(offset + len(scaled) - hours)
            offset += len(scaled)
        series = torch.from_numpy(np.concatenate(parts)).to(self.device)
        label_rows = torch.tensor(starts, device=self.device)
        steps = torch.stack(feed_back(self.next_hour, series, label_rows, hours), dim=1)
        low = np.array([self.recipe.scalers[r]["min"][LOAD_COLUMN] for r in regions])
        high = np.array([self.recipe.scalers[r]["max"][LOAD_COLUMN] for r in regions])
        forecast_mw = low[:, None] + steps.cpu().numpy().astype(np.float64) * (high - low)[:, None]
        return pd.DataFrame(
            {
                "region": np.repeat(regions, hours),
                "timestamp": [first + k * HOUR for first in firsts for k in range(hours)],
                "horizon": np.tile(np.arange(1, hours + 1), len(regions)),
                "forecast_mw": forecast_mw.ravel(),
                "model": self.recipe.name,
            }
        )


def save(path: Path, recipe: Recipe, states: list[dict]) -> None:
    torch.save({"recipe": recipe.to_dict(), "states": states}, path)


def load(path: Path, device: torch.device) -> Forecasts:
    stored = torch.load(path, map_location=device, weights_only=True)
    return Forecasts(Recipe.from_dict(stored["recipe"]), stored["states"], device)


def recent_readings(windows: Windows, hours: int) -> pd.DataFrame:
    """Real readings to show the model's input with: the `hours` hours before the first
    region's last validation label (else its last training label), in MW, from the windows.
    Every label has at least that many consecutive hours before it."""
    index = windows.index.sort_values("label_row")
    region = index["region"].iloc[0]
    own = index[(index["region"] == region) & index["split"].isin(("train", "val"))]
    last = own.iloc[-1]
    rows = np.arange(last["label_row"] - hours, last["label_row"])
    return pd.DataFrame(
        {
            "region": region,
            "timestamp": pd.date_range(end=last["label_time"] - HOUR, periods=hours, freq="h"),
            "load_mw": windows.unscale_load(
                windows.series[rows, LOAD_COLUMN], np.full(hours, region)
            ),
        }
    )
