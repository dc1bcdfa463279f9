"""Day-ahead recursion with the state carried from hour to hour against a fresh window per hour,
chosen on the validation days: for every seed of each trained forecaster and their averaged
forecast, the sMAPE over the next 24 hours from every validation midnight, and the seconds
each way takes (`loadforecast.dayahead.recursive`).

    python -m benchmarks.dayahead_state --windows data/windows --models data/models/*.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks.epochs import cpu_flags
from loadforecast import dayahead
from loadforecast.errors import run_command
from loadforecast.files import write_json
from loadforecast.forecaster import Forecaster
from loadforecast.metrics import seed_column
from loadforecast.model import select_device
from loadforecast.windows import load_windows

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=Path, required=True, help="the window stage's output")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="forecasters")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    device = select_device("cpu")
    windows = load_windows(args.windows)
    origins = dayahead.issue_origins(windows, split=args.split)
    series = torch.from_numpy(windows.series)
    rows = torch.tensor(origins["label_row"].to_numpy())
    results: dict[str, dict] = {"carried": {}, "window": {}}
    seconds = {"carried": 0.0, "window": 0.0}
    for path in args.models:
        forecaster = Forecaster.load(path, device)
        forecaster.recipe.check_windows(windows, str(path))
        cell = forecaster.recipe.config.cell
        predictors = {
            seed_column(cell, seed): [model]
            for seed, model in zip(forecaster.seeds, forecaster.models, strict=True)
        } | {cell: forecaster.models}
        for way in results:
            scaled = {}
            for name, models in predictors.items():
                started = time.perf_counter()
                scaled[name] = dayahead.recursive(
                    models, series, rows, windows, carry_state=way == "carried"
                )
                seconds[way] += time.perf_counter() - started
            scores = dayahead.score(windows, origins, scaled)
            results[way] |= {name: round(s["smape_day"], 5) for name, s in scores.items()}
            print(way, results[way], flush=True)
    stamp = datetime.now(UTC)
    output = args.output or RESULTS / f"dayahead-state-cpu-{stamp:%Y%m%d}.json"
    write_json(
        output,
        {
            "benchmark": f"day-ahead sMAPE (%) over the {args.split} days: state carried or not",
            "date": stamp.isoformat(timespec="seconds"),
            "command": "python -m benchmarks.dayahead_state " + " ".join(sys.argv[1:]),
            "torch": torch.__version__,
            **cpu_flags(),
            "split": args.split,
            "origins": len(origins),
            "smape_day": results,
            "seconds": {way: round(s, 1) for way, s in seconds.items()},
        },
    )
    print(f"-> {output}")


if __name__ == "__main__":
    run_command(main)
