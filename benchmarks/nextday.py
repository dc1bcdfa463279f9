"""Day-ahead as a market issues it: from the readings up to 09:00, the next calendar day (hours
15 to 38 ahead of 10:00), forecast recursively by today's one-hour models and baselines, on the
test part (issue 19's "before" figures, next to the 23:00 table that `evaluate` writes).

    python -m benchmarks.nextday --windows data/windows --models data/models/*.pt

Origins are the test labels at 10:00 followed by 37 more test labels in one unbroken stretch.
Each cell is scored per seed (each feeding back its own forecasts, the state carried as
`evaluate` carries it) and as the seeds' averaged forecast; gradient boosting is fitted as
`evaluate` fits it and fed back the same way; the same hour last week is always a real reading,
and "the same hour, latest day" is the latest reading at the target's hour of day before the
origin (a day back for hours 15-24 ahead, two days for 25-38).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmarks.epochs import cpu_flags
from loadforecast.baselines import fit_gradient_boosting
from loadforecast.errors import run_command
from loadforecast.files import write_json
from loadforecast.forecaster import CarriedStep, Forecaster, feed_back
from loadforecast.metrics import seed_column, smape
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import Windows, chunk_ends, load_windows

RESULTS = Path(__file__).parent / "results"
ISSUE_HOUR = 10  # the first hour forecast: readings up to 09:00
HOURS = 38  # to the end of the next calendar day
NEXT_DAY = slice(14, 38)  # horizons 15-38


def origins_at(windows: Windows, hour: int, hours: int, split: str = "test"):
    """The labels of `split` at `hour` followed by `hours - 1` more labels of it, unbroken."""
    index = windows.index.sort_values("label_row")
    in_split = (index["split"] == split).to_numpy()
    ends, _ = chunk_ends(index["label_row"].to_numpy(), in_split, hours, hours)
    labels = windows.split(split)
    whole = labels["label_row"].isin(ends - (hours - 1))
    return labels[whole & (labels["label_time"].dt.hour == hour)].sort_values("label_row")


def recursion(step, series, rows: np.ndarray, windows: Windows, hours: int = HOURS) -> np.ndarray:
    """Scaled forecasts (origins, hours), each origin on its own copy of the hours it reads."""
    on_device = isinstance(series, torch.Tensor)
    arange = torch.arange if on_device else np.arange
    history, width = windows.spec.history, series.shape[1]
    rows = torch.from_numpy(rows.copy()) if on_device else rows
    local = series[rows[:, None] + arange(-history, hours)].reshape(-1, width)
    starts = arange(len(rows)) * (history + hours) + history
    forecasts = feed_back(step, local, starts, hours, windows.spec.columns(width)[2])
    if on_device:
        return torch.stack(forecasts, dim=1).numpy()
    return np.stack(forecasts, axis=1)


def latest_same_hour(series: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each origin and horizon, the reading at the target's hour of day on the latest day
    before the origin."""
    horizons = np.arange(1, HOURS + 1)
    back = 24 * np.ceil(horizons / 24).astype(int)
    return series[rows[:, None] + horizons - 1 - back, LOAD_COLUMN]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=Path, required=True, help="the window stage's output")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="forecasters")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    windows = load_windows(args.windows)
    origins = origins_at(windows, ISSUE_HOUR, HOURS)
    rows, regions = origins["label_row"].to_numpy(), origins["region"].to_numpy()
    series = torch.from_numpy(windows.series)
    scaled, seconds, cells = {}, {}, []
    for path in args.models:
        forecaster = Forecaster.load(path)
        cell = forecaster.recipe.config.cell
        cells.append(cell)
        started = time.perf_counter()
        for seed, model in zip(forecaster.seeds, forecaster.models, strict=True):
            step = CarriedStep([model], windows.spec)
            scaled[seed_column(cell, seed)] = recursion(step, series, rows, windows)
        scaled[f"{cell}_ensemble"] = recursion(
            CarriedStep(forecaster.models, windows.spec), series, rows, windows
        )
        seconds[cell] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    gbm = fit_gradient_boosting(windows, seed=42)
    scaled["gradient_boosting"] = recursion(
        lambda local, at: gbm(local, at, regions), windows.series, rows, windows
    )
    seconds["gradient_boosting"] = round(time.perf_counter() - started, 1)
    scaled["same_hour_last_week"] = windows.series[
        rows[:, None] + np.arange(HOURS) - 168, LOAD_COLUMN
    ]
    scaled["same_hour_latest_day"] = latest_same_hour(windows.series, rows)

    targets = rows[:, None] + np.arange(HOURS)
    repeat = np.repeat(regions[:, None], HOURS, axis=1).ravel()
    actual = windows.unscale_load(windows.series[targets.ravel(), LOAD_COLUMN], repeat)
    actual = actual.reshape(targets.shape)
    report = {}
    for name, values in scaled.items():
        forecast = windows.unscale_load(np.asarray(values).ravel(), repeat).reshape(targets.shape)
        by_region = {
            region: smape(forecast[regions == region], actual[regions == region], axis=0)
            for region in dict.fromkeys(regions)
        }
        by_horizon = np.mean(list(by_region.values()), axis=0)
        report[name] = {
            "smape_by_horizon": by_horizon.round(4).tolist(),
            "nextday_smape": float(by_horizon[NEXT_DAY].mean()),
            "regions_nextday_smape": {r: float(v[NEXT_DAY].mean()) for r, v in by_region.items()},
        }
    for cell in cells:
        columns = [c for c in report if c.startswith(f"{cell}_seed")]
        curves = np.array([report[c]["smape_by_horizon"] for c in columns])
        report[cell] = {
            "smape_by_horizon": curves.mean(axis=0).round(4).tolist(),
            "nextday_smape": float(curves[:, NEXT_DAY].mean()),
            "nextday_smape_seeds": [float(c[NEXT_DAY].mean()) for c in curves],
        }
    output = args.output or RESULTS / f"nextday-cpu-{datetime.now(UTC):%Y%m%d}.json"
    write_json(
        output,
        {
            "benchmark": "next calendar day issued at 10:00 (horizons 15-38), test part",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "origins": len(origins),
            "machine": cpu_flags(),
            "seconds": seconds,
            "predictors": report,
        },
    )
    for name, figures in report.items():
        print(f"{name:24s} {figures['nextday_smape']:.3f}")


if __name__ == "__main__":
    run_command(main)
