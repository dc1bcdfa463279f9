"""Day-ahead recipes compared on the validation part only: each saved forecaster (one per
variant, trained by `dvc repro` or `python -m stages.train` in a copy with its params) forecast
from the validation part's origins at both issue times (`loadforecast.dayahead.ISSUES`) as
evaluate forecasts the test part's, beside the naive day-ahead baselines, with its one-hour
validation sMAPE (`Forecaster.validation`). The test part is not read.

    python -m benchmarks.dayahead_selection --windows data/windows \
        --models every_hour=runA/data/models/lstm.pt multi_horizon=runB/data/models/lstm.pt
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks.epochs import cpu_flags
from loadforecast.baselines import REPEATS, fit_baselines
from loadforecast.dayahead import ISSUES, baseline_days, issue_forecasts, issue_origins, score
from loadforecast.files import write_json
from loadforecast.forecaster import Forecaster
from loadforecast.windows import load_windows

RESULTS = Path(__file__).parent / "results"
SUMMARY = ("smape_day", "pinball_day", "coverage_p10_p90_day", "width_p10_p90_day")


def compare(windows_dir: Path, variants: dict[str, Path]) -> dict:
    """Per issue time and variant (and baseline): the day's sMAPE, and with quantiles the
    pinball loss, P10-P90 coverage and width, with the one-hour validation sMAPE."""
    windows = load_windows(windows_dir)
    series = torch.from_numpy(windows.series)
    torch.set_grad_enabled(False)
    report: dict = {"issues": {}, "one_hour_val_smape": {}, "settings": {}}
    for name, path in variants.items():
        forecaster = Forecaster.load(path)
        report["one_hour_val_smape"][name] = forecaster.validation.get("val_smape")
        report["settings"][name] = forecaster.recipe.to_dict()["config"]
    repeats = fit_baselines(windows, tuple(REPEATS), seed=0)
    started = time.perf_counter()
    for issued, issue in ISSUES.items():
        origins = issue_origins(windows, issue, split="val")
        table: dict = {"origins": len(origins)}
        for name, path in variants.items():
            cells = {name: Forecaster.load(path)}
            scaled, levels = issue_forecasts(cells, windows, series, origins, issue)
            figures = score(windows, origins, {name: scaled[name]}, issue, levels)[name]
            table[name] = {k: figures[k] for k in SUMMARY if k in figures}
        naive = baseline_days(repeats, windows, origins, issue.hours)
        for name, figures in score(windows, origins, naive, issue).items():
            table[name] = {"smape_day": figures["smape_day"]}
        report["issues"][issued] = table
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=Path, required=True)
    parser.add_argument("--models", nargs="+", required=True, metavar="NAME=PATH")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    variants = dict(item.split("=", 1) for item in args.models)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu_flags(),
        **compare(args.windows, {k: Path(v) for k, v in variants.items()}),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    write_json(args.output or RESULTS / f"dayahead-selection-cpu-{stamp}.json", report)
    for issued, table in report["issues"].items():
        print(issued, {k: v for k, v in table.items() if k != "origins"})
    print("one hour (val sMAPE):", report["one_hour_val_smape"])


if __name__ == "__main__":
    main()
