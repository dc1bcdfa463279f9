"""A trained cell as a forecaster uses it: recent hourly readings in, the next hour's load out.

`LoadForecaster` is an MLflow pyfunc model. Its one artefact holds everything a forecast needs:
the network weights of each seed (their forecasts are averaged), the architecture, the input
spec, the feature list and per-region scalers of the windows it was trained on, and the cleaning
and calendar recipe. With this package's code bundled beside it (`code_paths`),
`mlflow.pyfunc.load_model(uri).predict(readings)` needs neither a checkout nor the window
artefacts, and forecasts a window exactly as `evaluate` does.

A region the model was not trained on is refused: its scaler is fitted on that region's training
hours, and the network has never seen its level, so a forecast would be a guess.
"""

from __future__ import annotations

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
FORECAST = ["region", "timestamp", "forecast_mw", "model"]
HOUR = pd.Timedelta(hours=1)
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


def model_rows(readings: pd.Series, region: str, recipe: Recipe) -> tuple[np.ndarray, pd.Timestamp]:
    """The scaled rows of the window that forecasts the hour after the last reading, and that
    hour: the last `hours_needed` hours cleaned as ingest cleans them (and stored, like its
    table, as float32), then the forecast hour (its calendar is known; its load is not read)."""
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
    hours = pd.DataFrame(
        {
            "timestamp": [*recent.index, last + HOUR],
            "load_mw": [*recent.to_numpy(dtype=np.float32).astype(np.float64), np.nan],
        }
    )
    hours = add_time_features(hours, recipe.calendar.cyclic, recipe.calendar.holidays)
    values = hours[recipe.features].to_numpy(np.float64)
    values[-1, LOAD_COLUMN] = 0.0  # the forecast hour's load: unknown, never read
    scaler = recipe.scalers[region]
    return scale(values, np.asarray(scaler["min"]), np.asarray(scaler["max"])), last + HOUR


def check_readings(frame: pd.DataFrame) -> pd.DataFrame:
    """The readings with the right types, or one error that says what is wrong."""
    missing = [c for c in READINGS if c not in frame.columns]
    if missing:
        raise PipelineError(f"readings: missing column(s) {missing}; expected {READINGS}")
    frame = frame[READINGS].copy()
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
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

    @torch.inference_mode()
    def next_hour(self, readings: pd.DataFrame) -> pd.DataFrame:
        """One forecast per region: the hour after its last reading, in MW."""
        readings = check_readings(readings)
        if readings.empty:
            raise PipelineError("readings: no rows")
        regions, windows, targets = [], [], []
        for region, rows in readings.groupby("region", sort=False):
            readings_of_region = rows.set_index("timestamp")["load_mw"]
            scaled, target = model_rows(readings_of_region, region, self.recipe)
            series = torch.from_numpy(scaled).to(self.device)
            last = torch.tensor([len(scaled) - 1], device=self.device)
            windows.append(gather(series, last, self.recipe.spec)[0])
            regions.append(region)
            targets.append(target)
        inputs = torch.cat(windows)
        scaled = np.mean([m.next_hour(inputs).float().cpu().numpy() for m in self.models], axis=0)
        low = np.array([self.recipe.scalers[r]["min"][LOAD_COLUMN] for r in regions])
        high = np.array([self.recipe.scalers[r]["max"][LOAD_COLUMN] for r in regions])
        return pd.DataFrame(
            {
                "region": regions,
                "timestamp": targets,
                "forecast_mw": low + scaled.astype(np.float64) * (high - low),
                "model": self.recipe.name,
            }
        )


def save(path: Path, recipe: Recipe, states: list[dict]) -> None:
    torch.save({"recipe": recipe.to_dict(), "states": states}, path)


def load(path: Path, device: torch.device) -> Forecasts:
    stored = torch.load(path, map_location=device, weights_only=True)
    return Forecasts(Recipe.from_dict(stored["recipe"]), stored["states"], device)


def recent_readings(windows: Windows, hours: int) -> pd.DataFrame:
    """Real readings to show the model's input with: the last `hours` consecutive hours of the
    first region's validation part (else its training part), in MW, from the windows."""
    index = windows.index.sort_values("label_row")
    region = index["region"].iloc[0]
    for split in ("val", "train"):
        rows = index[(index["region"] == region) & (index["split"] == split)].tail(hours)
        stamps = pd.DatetimeIndex(rows["label_time"])
        if len(rows) == hours and (np.diff(stamps) == HOUR).all():
            loads = windows.series[rows["label_row"].to_numpy(), LOAD_COLUMN]
            return pd.DataFrame(
                {
                    "region": region,
                    "timestamp": stamps,
                    "load_mw": windows.unscale_load(loads, np.full(hours, region)),
                }
            )
    raise PipelineError(f"region {region!r}: no {hours} consecutive hours to show the model with")
