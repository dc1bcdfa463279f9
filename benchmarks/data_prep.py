"""Data preparation, the study's code against our ingest + features + window, on the same CPU.

Each variant runs in its own fresh process, which reports its wall time and peak RSS; results go
to benchmarks/results/data_prep.json. `ours` makes the study's features and windows; `ours_defaults`
those of params.yaml (sin/cos calendar, holidays, validation split, a week of history per label).
No variant writes files (the study's never did), so the figures compare computation alone.

    python -m benchmarks.data_prep --data-dir ../shared/data/pjm-hourly
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loadforecast.files import write_json

RESULT = Path(__file__).parent / "results" / "data_prep.json"
VARIANTS = ("ours", "ours_defaults", "study")


def run_variant(variant: str, data_dir: Path) -> dict:
    """Prepare the data once, in this process; return what was made, the seconds and peak RSS."""
    from benchmarks.study_reference import study_params, study_preprocess
    from loadforecast.calendar import add_time_features
    from loadforecast.data import read_regions, region_file
    from loadforecast.settings import load_params
    from loadforecast.windows import build_windows

    params = load_params() if variant == "ours_defaults" else study_params()
    regions = params.data.regions
    imported_mib = resident_mib()
    started = time.perf_counter()  # imports excluded: every variant loads the same libraries
    if variant == "study":
        files = [region_file(data_dir, r) for r in regions]
        train_x, _, test_x, _, _ = study_preprocess(files)
        made = {
            "train_windows": len(train_x),
            "test_windows": sum(map(len, test_x.values())),
            "dtype": str(train_x.dtype),
            "windows_mib": round((train_x.nbytes + sum(x.nbytes for x in test_x.values())) / 2**20),
        }
    else:
        table, _ = read_regions(data_dir, regions, params.ingest)
        features = add_time_features(table, params.features)
        windows, _ = build_windows(features, params.window)
        made = {
            "train_windows": len(windows.split("train")),
            "test_windows": len(windows.split("test")),
            "dtype": str(windows.series.dtype),
            "series_mib": round(windows.series.nbytes / 2**20, 1),
        }
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        **made,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_mib, 1),
        "rss_after_imports_mib": round(imported_mib, 1),
    }


def resident_mib() -> float:
    """This process's resident memory now (the libraries it imported, before any data)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="directory of <REGION>_hourly.csv files"
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # a child process: measure one variant, print JSON
        print(json.dumps(run_variant(args.variant, args.data_dir)))
        return

    results = {}
    for variant in VARIANTS:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.data_prep",
                "--data-dir",
                str(args.data_dir),
                "--variant",
                variant,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode:
            sys.exit(f"{variant}: {child.stderr.strip().splitlines()[-1]}")
        results[variant] = json.loads(child.stdout.strip().splitlines()[-1])
        print(variant, results[variant], flush=True)

    import numpy
    import pandas
    import sklearn
    import torch

    report = {
        "benchmark": "data preparation: the study's code vs ingest + features + window",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.data_prep --data-dir <dir of the region CSVs>",
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "versions": {
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pandas.__version__,
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
        },
        "results": results,
        "speedup": round(results["study"]["seconds"] / results["ours"]["seconds"], 1),
        "speedup_defaults": round(
            results["study"]["seconds"] / results["ours_defaults"]["seconds"], 1
        ),
        "peak_rss_ratio": round(
            results["study"]["peak_rss_mib"] / results["ours"]["peak_rss_mib"], 1
        ),
    }
    write_json(RESULT, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
