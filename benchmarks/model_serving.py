"""The registered models as a forecaster uses them: time to load and to forecast one region and
all, and the largest difference from evaluate's forecast of each region's last test hour.

    python -m benchmarks.model_serving            # from the repository root, after dvc repro

Reads `data/ingested.parquet`, `data/predictions.parquet` and the repository's MLflow store
(or MLFLOW_TRACKING_URI); writes `benchmarks/results/models-cpu-<date>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
HOURS = 300  # readings per region handed to the model (it reads the last 257)


def median_seconds(call, repeats: int = 5) -> float:
    call()  # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--alias", default="challenger")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    import mlflow
    import pandas as pd

    out = {"import_mlflow_s": round(time.perf_counter() - started, 2)}
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    table = pd.read_parquet("data/ingested.parquet")
    last_test_hours = pd.read_parquet("data/predictions.parquet").groupby("region").tail(1)
    recent = table.groupby("region").tail(HOURS)
    one_region = recent[recent["region"] == recent["region"].iloc[0]]
    for cell in args.cells:
        started = time.perf_counter()
        model = mlflow.pyfunc.load_model(f"models:/pjm-load-{cell}@{args.alias}")
        out[f"{cell}_load_s"] = round(time.perf_counter() - started, 2)
        out[f"{cell}_predict_one_region_s"] = round(
            median_seconds(lambda m=model: m.predict(one_region)), 3
        )
        out[f"{cell}_predict_all_regions_s"] = round(
            median_seconds(lambda m=model: m.predict(recent)), 3
        )
        differences = []
        for _, row in last_test_hours.iterrows():
            before = table[
                (table["region"] == row["region"]) & (table["timestamp"] < row["label_time"])
            ]
            got = model.predict(before.tail(HOURS))
            assert got["timestamp"].iloc[0] == row["label_time"], (got, row)
            differences.append(abs(got["forecast_mw"].iloc[0] - row[cell]) / row[cell])
        out[f"{cell}_max_relative_difference_from_evaluate"] = max(differences)
    stamp = datetime.now(UTC)
    output = args.output or RESULTS / f"models-cpu-{stamp:%Y%m%d}.json"
    report = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "cpu_cores": os.cpu_count(),
        "mlflow": mlflow.__version__,
        "regions": int(recent["region"].nunique()),
        "hours_per_region": HOURS,
        **out,
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
