"""Data preparation, the study's code against our ingest + features + window, on the same CPU.

Each variant runs in its own fresh process, which reports its wall time and peak RSS; results go
to benchmarks/results/data_prep.json. Neither variant writes files (the study's never did), so
the figures compare computation alone.

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

RESULT = Path(__file__).parent / "results" / "data_prep.json"


def run_variant(variant: str, data_dir: Path) -> dict:
    """Prepare the data once, in this process; return what was made, the seconds and peak RSS."""
    from benchmarks.study_reference import study_params, study_preprocess
    from stages.features import add_time_features
    from stages.ingest import ingest
    from stages.window import build_windows

    params = study_params()  # the study's features and windows, made our way
    regions = params.data.regions
    started = time.perf_counter()  # imports excluded: both variants load the same libraries
    if variant == "study":
        files = [data_dir / f"{r}_hourly.csv" for r in regions]
        train_x, _, test_x, _, _ = study_preprocess(files)
        made = {
            "train_windows": len(train_x),
            "test_windows": sum(map(len, test_x.values())),
            "dtype": str(train_x.dtype),
        }
    else:
        table, _ = ingest(data_dir, regions, params.ingest)
        series, index, _, _ = build_windows(add_time_features(table, False), params.window)
        made = {
            "train_windows": int((index["split"] == "train").sum()),
            "test_windows": int((index["split"] == "test").sum()),
            "dtype": str(series.dtype),
        }
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {**made, "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1)}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--variant", choices=("study", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # a child process: measure one variant, print JSON
        print(json.dumps(run_variant(args.variant, args.data_dir)))
        return

    results = {}
    for variant in ("ours", "study"):
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
            check=True,
        )
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
        "peak_rss_ratio": round(
            results["study"]["peak_rss_mib"] / results["ours"]["peak_rss_mib"], 1
        ),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
