"""Day-ahead forecasts of the test period: from every midnight, the next 24 hours.

A utility issues them before midnight, from readings up to 23:00. Each cell forecasts
recursively: each hour's forecast becomes the next hour's last load, while the calendar of the
hours ahead is known and the lag channels read real readings wherever they reach back past the
origin (the load a day and a week earlier, at every horizon of a day). A cell is scored per seed
(each feeding back its own forecasts) and as the seeds' averaged forecast (feeding back the
average). The baselines that make sense a day ahead need no recursion: the last reading before
midnight (persistence), and the same hour a day and a week earlier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from stages.batches import LOAD_COLUMN, Windows, gather
from stages.model import RNNForecaster, autocast

HOURS = 24
BASELINE_LAGS = {"persistence": None, "same_hour_yesterday": 24, "same_hour_last_week": 168}


def midnight_origins(windows: Windows, test: pd.DataFrame) -> pd.DataFrame:
    """The test windows whose label is a midnight followed by 23 more test labels, an hour
    apart: the first hour of each day forecast."""
    test = test.sort_values("label_row")
    rows = test["label_row"].to_numpy()
    times = test["label_time"].to_numpy()
    is_test = pd.Series(np.arange(len(rows)), index=rows)
    ahead = rows + HOURS - 1
    position = is_test.reindex(ahead).to_numpy()
    whole_day = ~np.isnan(position)
    last = np.where(whole_day, np.nan_to_num(position).astype(int), 0)
    whole_day &= times[last] - times == np.timedelta64(HOURS - 1, "h")
    midnight = pd.DatetimeIndex(times).hour == 0
    return test[whole_day & midnight]


@torch.inference_mode()
def recursive(
    models: Sequence[RNNForecaster],
    series: torch.Tensor,
    origins: torch.Tensor,
    windows: Windows,
    precision: str = "fp32",
) -> np.ndarray:
    """Scaled forecasts (origins, 24) of the hours from each origin on, fed back one by one;
    with several models, their average is the forecast fed back."""
    spec = windows.spec
    history = spec.history
    span = torch.arange(-history, HOURS, device=series.device)
    local = series[origins[:, None] + span].reshape(-1, series.shape[1])  # each origin's own copy
    starts = torch.arange(len(origins), device=series.device) * (history + HOURS) + history
    forecasts = []
    for hour in range(HOURS):
        inputs = gather(local, starts + hour, spec)[0]
        with autocast(series.device, precision):
            outputs = torch.stack([m.next_hour(inputs).float() for m in models])
        forecast = outputs.mean(dim=0)
        local[starts + hour, LOAD_COLUMN] = forecast
        forecasts.append(forecast)
    return torch.stack(forecasts, dim=1).cpu().numpy()


def baseline_forecasts(
    windows: Windows, origins: pd.DataFrame, names: Sequence[str] = tuple(BASELINE_LAGS)
) -> dict[str, np.ndarray]:
    """Scaled (origins, 24) forecasts of the baselines among `names` that need no recursion
    and read no further back than the windows' history (which never crosses a gap)."""
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(HOURS)
    loads = windows.series[:, LOAD_COLUMN]
    out = {}
    for name, lag in BASELINE_LAGS.items():
        if name not in names or (lag or 1) > windows.spec.history:
            continue
        source = np.repeat(rows[:, :1] - 1, HOURS, axis=1) if lag is None else rows - lag
        out[name] = loads[source]
    return out


def smape_table(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """sMAPE (%) of each (origin, hour): 2|F-A| / (|F|+|A|) * 100, 0 where both are 0."""
    denominator = np.abs(forecast) + np.abs(actual)
    ratio = np.divide(
        2 * np.abs(forecast - actual),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return 100 * ratio


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
        errors = smape_table(actual, forecast)
        by_region = {
            region: errors[regions == region].mean(axis=0) for region in dict.fromkeys(regions)
        }
        by_horizon = np.mean(list(by_region.values()), axis=0)
        report[name] = {
            "smape_by_horizon": by_horizon.tolist(),
            "smape_day": float(by_horizon.mean()),
            "regions": {
                region: {"smape_by_horizon": v.tolist(), "smape_day": float(v.mean())}
                for region, v in by_region.items()
            },
        }
    return report


def day_ahead(
    cells: dict[str, list[tuple[int, RNNForecaster]]],
    windows: Windows,
    test: pd.DataFrame,
    series: torch.Tensor,
    precision: str = "fp32",
    baselines: Sequence[str] = tuple(BASELINE_LAGS),
) -> dict:
    """The day-ahead table: each cell's seeds (their mean and spread) and averaged forecast,
    and the baselines, scored by horizon over every test-period midnight ({} without one)."""
    origins = midnight_origins(windows, test)
    if origins.empty:
        return {}
    rows = torch.tensor(origins["label_row"].to_numpy(), device=series.device)
    scaled, seed_columns = {}, {}
    for cell, models in cells.items():
        seed_columns[cell] = [f"{cell}_seed{seed}" for seed, _ in models]
        for column, (_, model) in zip(seed_columns[cell], models, strict=True):
            scaled[column] = recursive([model], series, rows, windows, precision)
        scaled[cell] = recursive([m for _, m in models], series, rows, windows, precision)
    day_baselines = baseline_forecasts(windows, origins, baselines)
    scaled |= day_baselines
    scores = score(windows, origins, scaled)
    models = {}
    for cell, columns in seed_columns.items():
        curves = np.array([scores[c]["smape_by_horizon"] for c in columns])
        days = curves.mean(axis=1)
        models[cell] = {
            "smape_by_horizon": curves.mean(axis=0).tolist(),
            "smape_day": float(days.mean()),
            "smape_day_std": float(days.std(ddof=1)) if len(days) > 1 else 0.0,
        }
    return {
        "origins": len(origins),
        "models": models,
        "ensembles": {cell: scores[cell] for cell in cells},
        "baselines": {name: scores[name] for name in day_baselines},
        "seeds": {c: scores[c] for columns in seed_columns.values() for c in columns},
    }
