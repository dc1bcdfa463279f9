"""Small data: the pipeline's default recipe (params.yaml) on one generated feeder of 12 weeks
and of a year, the common case of a user's own data, scored against every baseline one hour and
one day ahead. The networks must beat the naive baselines (persistence, the same hour yesterday
and last week) on both.

    python -m benchmarks.small_data --weeks 12 52 --output benchmarks/results/small-data.json
    python -m benchmarks.small_data --write-table mine.csv --weeks 13   # a user's export

The second writes generated feeders as a utility's long table (docs/your-data.md):
columns `utc_time` (UTC, ISO 8601), `area` and `demand_mw`, for `--series` in `--zone`.

Runs the library's own steps, as the stages do: clean, calendar, windows, train every seed of
both cells, then evaluate's one-hour and day-ahead tables on the test part. The feeder is a
load with daily, weekly and yearly cycles, a temperature it follows (heating and cooling) and
weather that persists for days, so that no repeat of the past is exact.
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.epochs import cpu_flags
from loadforecast import dayahead
from loadforecast.baselines import fit_baselines, one_hour
from loadforecast.calendar import add_time_features
from loadforecast.checks import guards
from loadforecast.cleaning import clean_series
from loadforecast.errors import run_command
from loadforecast.files import atomic_path, write_json
from loadforecast.forecaster import Recipe
from loadforecast.metrics import predictions_frame, score, seed_column
from loadforecast.model import select_device
from loadforecast.quantiles import average_seeds
from loadforecast.seeds import train_seeds, trained_forecaster, val_smape
from loadforecast.settings import load_params
from loadforecast.training import model_config
from loadforecast.windows import build_windows

log = logging.getLogger(__name__)
NAIVE = ("persistence", "same_hour_yesterday", "same_hour_last_week")


def feeder(hours: int, seed: int = 0, start: str = "2023-01-02") -> pd.DataFrame:
    """One feeder's hourly load in MW, and the temperature that drives it."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=hours, freq="h")
    hour, weekend = stamps.hour.to_numpy(), stamps.day_of_week.to_numpy() >= 5
    season = np.sin(2 * np.pi * (stamps.day_of_year.to_numpy() - 110) / 365.25)
    weather = np.zeros(hours)
    shocks = rng.normal(0, 0.35, hours)
    for t in range(1, hours):  # fronts that last for days
        weather[t] = 0.985 * weather[t - 1] + shocks[t]
    temperature = 11 + 10 * season + 4 * np.sin(2 * np.pi * (hour - 9) / 24) + weather
    profile = (
        np.exp(-((hour - 8.5) ** 2) / 6) * np.where(weekend, 0.3, 0.9)
        + np.exp(-((hour - 19) ** 2) / 8) * 1.0
        + np.where((hour >= 9) & (hour <= 17), np.where(weekend, 0.2, 0.6), 0.0)
    )
    noise = np.zeros(hours)
    innovations = rng.normal(0, 0.6, hours)
    for t in range(1, hours):
        noise[t] = 0.8 * noise[t - 1] + innovations[t]
    load = (
        40
        + 18 * profile
        + 1.1 * np.maximum(0, 14 - temperature)
        + 1.6 * np.maximum(0, temperature - 21)
        + noise
    )
    return pd.DataFrame({"timestamp": stamps, "load_mw": load.round(2), "temp_c": temperature})


def users_table(weeks: int, series: list[str], zone: str) -> pd.DataFrame:
    """Generated feeders, local time in `zone`, as a long table stamped in UTC (the hour the
    clocks skip does not exist there, and the hour they repeat is given once)."""
    frames = []
    for i, name in enumerate(series):
        local = feeder(weeks * 168, seed=i)
        aware = local["timestamp"].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        kept = aware.notna()
        frames.append(
            pd.DataFrame(
                {
                    "utc_time": aware[kept].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%MZ"),
                    "area": name,
                    "demand_mw": local.loc[kept, "load_mw"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def evaluate(weeks: int, params, device: torch.device) -> dict:
    """Train both cells on one feeder of `weeks` weeks; their test figures and the baselines'."""
    started = time.perf_counter()
    raw = feeder(weeks * 168, seed=weeks)
    series, _ = clean_series(raw[["timestamp", "load_mw"]], params.ingest, params.data.frequency)
    table = pd.DataFrame(
        {"region": "FEEDER", "timestamp": series.index, "load_mw": series.to_numpy()}
    )
    windows, counts = build_windows(add_time_features(table, params.features), params.window)
    test = windows.split("test")
    torch_series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(test["label_row"].to_numpy(), device=device)
    scaled, forecasters, seed_columns, trained = {}, {}, {}, {}
    for cell in ("gru", "lstm"):
        config = model_config(cell, windows, params.train)
        seeds = train_seeds(
            windows, config, params.train, params.seeds, device, params.evaluate.batch_size
        )
        recipe = Recipe.for_windows(
            cell, config, windows, params.ingest, params.features, params.data.readings
        )
        limits = guards(windows, config.levels)
        forecasters[cell] = trained_forecaster(recipe, seeds, limits, device)
        seed_columns[cell] = [seed_column(cell, s) for s in params.seeds]
        per_seed = forecasters[cell].next_hour(torch_series, rows, test["region"].to_numpy())
        scaled |= dict(zip(seed_columns[cell], per_seed, strict=True))
        scaled[cell] = average_seeds(per_seed)
        val = val_smape(windows, seeds)
        val_seeds = [val_smape(windows, [s])["val_smape"] for s in seeds]
        trained[cell] = {
            "val_smape": float(np.mean(val_seeds)),
            "val_smape_ensemble": val["val_smape"],
            "kept_epochs": [
                min(s.history, key=lambda r: r.get("val_loss", 0))["epoch"] for s in seeds
            ],
            "steps": sum(r.get("steps", 0) for r in seeds[0].history),
            "epochs": len(seeds[0].history),
        }
    predictors = fit_baselines(windows, params.evaluate.baselines, params.seeds[0])
    baselines = one_hour(predictors, windows, test)
    mean, _ = score(predictions_frame(windows, test, scaled | baselines), [*scaled, *baselines])
    day = dayahead.day_ahead(forecasters, windows, torch_series, "fp32", predictors)[0]["23:00"]
    one = {name: mean[name]["smape"] for name in mean}
    cells = {
        cell: float(np.mean([one[c] for c in columns])) for cell, columns in seed_columns.items()
    }
    day_smape = {cell: day["models"][cell]["smape_day"] for cell in seed_columns}
    day_smape |= {f"{c}_ensemble": day["ensembles"][c]["smape_day"] for c in seed_columns}
    day_smape |= {name: day["baselines"][name]["smape_day"] for name in day["baselines"]}
    one_hour_smape = cells | {f"{c}_ensemble": one[c] for c in seed_columns}
    one_hour_smape |= {name: one[name] for name in baselines}
    beaten = {
        horizon: {
            cell: all(figures[cell] < figures[n] for n in NAIVE if n in figures)
            for cell in seed_columns
        }
        for horizon, figures in (("one_hour", one_hour_smape), ("day_ahead", day_smape))
    }
    return {
        "weeks": weeks,
        "hours": len(table),
        "windows": counts["FEEDER"],
        "training": trained,
        "test_smape": one_hour_smape,
        "dayahead_smape": day_smape,
        "day_origins": day["origins"],
        "beats_every_naive_baseline": beaten,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, nargs="+", default=[12, 52])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--write-table", type=Path, help="write a user's table here, and stop")
    parser.add_argument("--series", nargs="+", default=["EW", "SC"])
    parser.add_argument("--zone", default="Europe/London")
    args = parser.parse_args()
    if args.write_table:
        table = users_table(args.weeks[0], args.series, args.zone)
        with atomic_path(args.write_table) as tmp:
            table.to_csv(tmp, index=False)
        log.info("%d readings of %s -> %s", len(table), args.series, args.write_table)
        return
    if args.output is None:
        parser.error("--output is required")
    params = load_params()
    device = select_device(args.device)
    runs = []
    for weeks in args.weeks:
        runs.append(evaluate(weeks, params, device))
        log.info("%s", runs[-1])
    write_json(
        args.output,
        {
            "benchmark": "small_data",
            "params": {"train": params.train.model_dump(), "window": params.window.model_dump()},
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cpu_flags": cpu_flags(),
                "cores": torch.get_num_threads(),
                "torch": torch.__version__,
            },
            "runs": runs,
        },
    )


if __name__ == "__main__":
    run_command(main)
