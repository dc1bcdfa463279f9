"""The backtest (`loadforecast.backtest`) of the utility's year alone, without the rest of the
pipeline: to compare backtest settings, such as starts from the previous refit, on the same
months.

    python -m benchmarks.backtest --set backtest.warm_start=true train.init_from=pretrained/pjm \
        --output benchmarks/results/backtest-utility-warm-cpu-YYYYMMDD.json

The utility's readings, cleaning, calendar and covariates are those of
`benchmarks.single_series` (its temperature `known`); the recipe is params.yaml's with the
`--set` changes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks.epochs import cpu_flags
from benchmarks.single_series import (
    SHARED,
    UTILITY,
    UTILITY_CALENDAR,
    hourly_table,
    with_changes,
)
from loadforecast.backtest import Plan, backtest
from loadforecast.calendar import add_time_features
from loadforecast.data import read_readings
from loadforecast.errors import run_command
from loadforecast.files import write_json
from loadforecast.forecaster import Recipe
from loadforecast.model import select_device
from loadforecast.settings import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="extend", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    params = with_changes(load_params(), args.set)
    covariates = {"temp_c": "known"}
    readings = UTILITY.changed(covariates={"temp_c": "known", "workday": "ignored"})
    calendar = params.features.changed(**UTILITY_CALENDAR)
    path = SHARED / "utility-year" / "demand_temperature.csv"
    table = hourly_table(read_readings([path], UTILITY), params, UTILITY.frequency)
    features = add_time_features(table, calendar)

    def recipe_of(cell, config, windows) -> Recipe:
        return Recipe.for_windows(cell, config, windows, params.ingest, calendar, readings)

    settings = params.backtest
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        result = backtest(
            features,
            params.window,
            covariates,
            params.train,
            params.seeds,
            tuple(params.evaluate.baselines),
            Plan(settings.days, settings.refit_days, settings.warm_start),
            recipe_of,
            select_device(args.device),
            params.evaluate.batch_size,
            Path(scratch),
        )
    write_json(
        args.output,
        {
            "benchmark": "backtest",
            "command": " ".join(["python -m benchmarks.backtest", *sys.argv[1:]]),
            "date": f"{datetime.now(UTC):%Y-%m-%d}",
            "changes": args.set,
            "machine": {"cpu_flags": cpu_flags(), "threads": torch.get_num_threads()},
            "seconds": round(time.perf_counter() - started, 1),
            **result,
        },
    )


if __name__ == "__main__":
    run_command(main)
