"""Day-ahead forecasts of the test period: from every midnight, the next 24 hours.

A utility issues them before midnight, from readings up to 23:00. Each cell forecasts
recursively, its state carried from hour to hour: each hour's forecast becomes the next hour's
last load, while the calendar of the hours ahead is known and the lag channels read real
readings wherever they reach back past the origin (the load a day and a week earlier, at every
horizon of a day). A cell is scored per seed (each feeding back its own forecasts) and as the
seeds' averaged forecast (feeding back the average). The baselines are fed back the same way:
the fitted ones (linear, gradient boosting) read their own forecasts as their recent lags, while
persistence repeats the last reading before midnight and the same hour a day or a week earlier
is always a real reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd
import torch

from loadforecast.baselines import Predictor
from loadforecast.forecaster import CarriedStep, Forecaster, feed_back, next_hour
from loadforecast.metrics import seed_column, smape, spread
from loadforecast.model import RNNForecaster
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import InputSpec, Windows, chunk_ends

HOURS = 24


def midnight_origins(windows: Windows, split: str = "test") -> pd.DataFrame:
    """The windows of `split` whose label is a midnight followed by 23 more labels of the split
    in the same unbroken stretch of hours: the first hour of each day forecast."""
    index = windows.index.sort_values("label_row")
    in_split = (index["split"] == split).to_numpy()
    ends, _ = chunk_ends(index["label_row"].to_numpy(), in_split, HOURS, HOURS)
    labels = windows.split(split)
    whole_day = labels["label_row"].isin(ends - (HOURS - 1))
    return labels[whole_day & (labels["label_time"].dt.hour == 0)].sort_values("label_row")


def from_origins(step: Callable, series, origins, spec: InputSpec) -> np.ndarray:
    """Scaled forecasts (origins, 24) of the hours from each origin on. Each origin gets its own
    copy of the hours from `spec.history` before it to 24 after, into which its forecasts are
    fed back (`forecaster.feed_back`, which also holds the observed covariates at their value
    before the origin). The series is a NumPy array or a tensor on the models' device."""
    on_device = isinstance(series, torch.Tensor)
    arange = partial(torch.arange, device=series.device) if on_device else np.arange
    history, width = spec.history, series.shape[1]
    local = series[origins[:, None] + arange(-history, HOURS)].reshape(-1, width)
    starts = arange(len(origins)) * (history + HOURS) + history
    forecasts = feed_back(step, local, starts, HOURS, spec.columns(width)[2])
    if on_device:
        return torch.stack(forecasts, dim=1).cpu().numpy()
    return np.stack(forecasts, axis=1).astype(np.float32)


@torch.inference_mode()
def recursive(
    models: Sequence[RNNForecaster],
    series: torch.Tensor,
    origins: torch.Tensor,
    windows: Windows,
    precision: str = "fp32",
    carry_state: bool = True,
) -> np.ndarray:
    """Scaled day-ahead forecasts of a model, or of several fed back their average: with the
    state carried from hour to hour (`forecaster.CarriedStep`), or (`carry_state=False`) each
    hour from a fresh window."""
    if carry_state:
        step = CarriedStep(models, windows.spec, precision)
    else:

        def step(local: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            return next_hour(models, local, rows, windows.spec, precision)

    return from_origins(step, series, origins, windows.spec)


def baseline_days(
    predictors: dict[str, Predictor], windows: Windows, origins: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Scaled day-ahead forecasts of the baselines, fed back like the models'. A repeat of a
    day or a week back reads only real readings; persistence repeats the last one."""
    rows, regions = origins["label_row"].to_numpy(), origins["region"].to_numpy()
    return {
        name: from_origins(
            lambda local, at, p=predict: p(local, at, regions),
            windows.series,
            rows,
            windows.spec,
        )
        for name, predict in predictors.items()
    }


def score(windows: Windows, origins: pd.DataFrame, scaled: dict[str, np.ndarray]) -> dict:
    """Per predictor: sMAPE by horizon (1-24) and over the day, as the mean of the regions'
    figures (like the one-hour table), and each region's."""
    regions = origins["region"].to_numpy()
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(HOURS)
    repeat = np.repeat(regions[:, None], HOURS, axis=1).ravel()
    actual = windows.unscale_load(windows.series[rows.ravel(), LOAD_COLUMN], repeat)
    actual = actual.reshape(rows.shape)
    report = {}
    for name, values in scaled.items():
        forecast = windows.unscale_load(values.ravel(), repeat).reshape(rows.shape)
        by_region = {
            region: smape(forecast[regions == region], actual[regions == region], axis=0)
            for region in dict.fromkeys(regions)
        }
        by_horizon = np.mean(list(by_region.values()), axis=0)
        report[name] = curve_scores(by_horizon) | {
            "regions": {region: curve_scores(v) for region, v in by_region.items()}
        }
    return report


def curve_scores(by_horizon: np.ndarray) -> dict:
    """sMAPE by hour ahead, and over the day (their mean)."""
    return {"smape_by_horizon": by_horizon.tolist(), "smape_day": float(np.mean(by_horizon))}


def day_ahead(
    cells: dict[str, Forecaster],
    windows: Windows,
    series: torch.Tensor,
    precision: str = "fp32",
    baselines: dict[str, Predictor] | None = None,
) -> dict:
    """The day-ahead table: each cell's seeds (their mean and spread) and averaged forecast,
    and the baselines, scored by horizon over every test-period midnight ({} without one)."""
    origins = midnight_origins(windows)
    if origins.empty:
        return {}
    rows = torch.tensor(origins["label_row"].to_numpy(), device=series.device)
    scaled, seed_columns = {}, {}
    for cell, forecaster in cells.items():
        seed_columns[cell] = [seed_column(cell, seed) for seed in forecaster.seeds]
        for column, model in zip(seed_columns[cell], forecaster.models, strict=True):
            scaled[column] = recursive([model], series, rows, windows, precision)
        scaled[cell] = recursive(forecaster.models, series, rows, windows, precision)
    day_baselines = baseline_days(baselines or {}, windows, origins)
    scaled |= day_baselines
    scores = score(windows, origins, scaled)
    models = {}
    for cell, columns in seed_columns.items():
        curves = np.array([scores[c]["smape_by_horizon"] for c in columns])
        day_mean, day_std = spread(curves.mean(axis=1))
        models[cell] = {
            "smape_by_horizon": curves.mean(axis=0).tolist(),
            "smape_day": day_mean,
            "smape_day_std": day_std,
            "regions": {
                region: curve_scores(
                    np.mean([scores[c]["regions"][region]["smape_by_horizon"] for c in columns], 0)
                )
                for region in scores[columns[0]]["regions"]
            },
        }
    return {
        "origins": len(origins),
        "models": models,
        "ensembles": {cell: scores[cell] for cell in cells},
        "baselines": {name: scores[name] for name in day_baselines},
        "seeds": {c: scores[c] for columns in seed_columns.values() for c in columns},
    }
