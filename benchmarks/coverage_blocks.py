"""How far a P10-P90 coverage figure moves on a test part as short as a year's (36 days).

    python -m benchmarks.coverage_blocks --days 36 \
        --output benchmarks/results/coverage-blocks-cpu-YYYYMMDD.json

Run in a repository holding a full run's outputs (`data/windows`, `data/models`): each cell's
forecast as users get it (`Forecaster.forecast_rows`: the seeds' averaged, calibrated quantiles)
of both issue times on each region's test part, then the coverage of every stretch of `--days`
consecutive days of it. A single series' year leaves a test part of about 36 days; the spread of
these blocks is how much of a coverage figure on such a part is the month rather than the
calibration.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks.epochs import cpu_flags
from loadforecast.dayahead import ISSUES, issue_origins
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import write_json
from loadforecast.forecaster import Forecaster
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import META_FILE, Windows, load_windows

log = logging.getLogger(__name__)


def block_coverages(days: np.ndarray, covered: np.ndarray, block_days: int) -> np.ndarray:
    """Coverage (%) of every `block_days` consecutive calendar days from the first forecast's
    day to the last's: the mean of `covered` (each forecast's share of hours inside its
    interval) over the forecasts whose `days` (datetime64[D]) fall in the block."""
    days = np.asarray(days, dtype="datetime64[D]")
    first, last = days.min(), days.max()
    starts = np.arange(first, last - np.timedelta64(block_days - 1, "D") + 1)
    return np.array(
        [100 * covered[(days >= start) & (days < start + block_days)].mean() for start in starts]
    )


def daily_coverage(
    forecaster: Forecaster, windows: Windows
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each region's test forecasts of both issue times: their issue days and the share of
    their scored hours inside the P10-P90 interval of the forecast users get."""
    series = torch.from_numpy(windows.series)
    days: dict[str, list] = {}
    for issue in ISSUES.values():
        origins = issue_origins(windows, issue, "test")
        rows, regions = origins["label_row"].to_numpy(), origins["region"].to_numpy()
        quantiles, _ = forecaster.forecast_rows(series, torch.tensor(rows), regions, issue.hours)
        scored = np.arange(issue.hours)[issue.scored]
        actual = windows.series[rows[:, None] + scored, LOAD_COLUMN]
        low, high = quantiles[:, issue.scored, 0], quantiles[:, issue.scored, -1]
        covered = ((actual >= low) & (actual <= high)).mean(axis=1)
        issued = origins["label_time"].to_numpy().astype("datetime64[D]")
        for region in np.unique(regions):
            mine = regions == region
            days.setdefault(region, []).append((issued[mine], covered[mine]))
    return {
        region: (np.concatenate([d for d, _ in parts]), np.concatenate([c for _, c in parts]))
        for region, parts in days.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=36, help="days per block")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository with a run")
    parser.add_argument("--output", type=Path, required=True, help="output JSON")
    args = parser.parse_args()
    if args.days < 1:
        parser.error(f"--days {args.days}: expected 1 or more")
    windows_dir, models = args.root / "data" / "windows", args.root / "data" / "models"
    paths = sorted(models.glob("*.pt"))
    if not (windows_dir / META_FILE).exists() or not paths:
        raise LoadForecastError(
            f"{args.root}: no full run's outputs ({windows_dir} and {models}/*.pt); "
            "run dvc repro there first"
        )
    windows = load_windows(windows_dir)
    results: dict = {}
    for path in paths:
        forecaster = Forecaster.load(path)
        for region, (days, covered) in daily_coverage(forecaster, windows).items():
            blocks = block_coverages(days, covered, args.days)
            results.setdefault(path.stem, {})[region] = {
                "test_days": len(np.unique(days)),
                "coverage": round(100 * float(covered.mean()), 1),
                "blocks": len(blocks),
                "block_std": round(float(blocks.std()), 2),
                "block_p5_p95": [round(float(np.percentile(blocks, p)), 1) for p in (5, 95)],
                "share_within_75_85": round(float(np.mean((blocks >= 75) & (blocks <= 85))), 3),
            }
            log.info("%s %s: %s", path.stem, region, results[path.stem][region])
    write_json(
        args.output,
        {
            "command": "python -m benchmarks.coverage_blocks " + " ".join(sys.argv[1:]),
            **cpu_flags(),
            "block_days": args.days,
            "results": results,
        },
    )
    print(f"-> {args.output}")


if __name__ == "__main__":
    run_command(main)
