"""The registered models as a forecaster uses them: time to load and to forecast one region and
all, and the largest difference from evaluate's forecast of each region's last test hour; and the
time a user waits for the next hour and the next day, one region and all, from the forecast
command (a new process each time) and from `mlflow models serve` (once it is up).

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
import subprocess
import sys
import tempfile
import time
import urllib.request
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


def command_seconds(model: str, files: list[Path], hours: int, output: Path) -> float:
    """Wall time of the forecast command, process start to CSV written (median of 3)."""
    command = [sys.executable, "-m", "loadforecast.cli", "forecast", model, *map(str, files)]
    command += ["--hours", str(hours), "--output", str(output)]
    return median_seconds(
        lambda: subprocess.run(command, check=True, capture_output=True), repeats=3
    )


def server_seconds(uri: str, readings, hours: int) -> float:
    """Time of one POST to a served model, request to parsed answer (median of 5)."""
    frame = readings.assign(timestamp=readings["timestamp"].astype(str))
    body = json.dumps(
        {
            "dataframe_split": json.loads(frame.to_json(orient="split", index=False)),
            "params": {"hours": hours},
        }
    ).encode()

    def call() -> None:
        request = urllib.request.Request(
            f"{uri}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())["predictions"]
        assert len(answer) == hours * readings["region"].nunique()

    return median_seconds(call)


def user_latency(cell: str, alias: str, recent, one_region, out: dict) -> None:
    """The forecast command's and the model server's latency for 1 and 24 hours."""
    from benchmarks.servers import mlflow_server

    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for region, frame in recent.groupby("region"):
            path = Path(scratch) / f"{region}_hourly.csv"
            frame.rename(columns={"timestamp": "Datetime", "load_mw": f"{region}_MW"})[
                ["Datetime", f"{region}_MW"]
            ].to_csv(path, index=False)
            files.append(path)
        first = [f for f in files if f.name.startswith(one_region["region"].iloc[0] + "_")]
        output = Path(scratch) / "forecast.csv"
        for model in (f"data/models/{cell}.pt", f"models:/pjm-load-{cell}@{alias}"):
            name = "checkpoint" if model.endswith(".pt") else "registry"
            for hours in (1, 24):
                for regions, chosen in (("one_region", first), ("all_regions", files)):
                    key = f"{cell}_command_{name}_{regions}_{hours}h_s"
                    out[key] = round(command_seconds(model, chosen, hours, output), 2)
        serve = ["models", "serve", "-m", f"models:/pjm-load-{cell}@{alias}"]
        started = time.perf_counter()
        log = Path(scratch) / "serve.log"
        with mlflow_server([*serve, "--env-manager", "local"], log) as uri:
            out[f"{cell}_server_start_s"] = round(time.perf_counter() - started, 1)
            for hours in (1, 24):
                for regions, frame in (("one_region", one_region), ("all_regions", recent)):
                    key = f"{cell}_server_{regions}_{hours}h_s"
                    out[key] = round(server_seconds(uri, frame, hours), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--alias", default="challenger")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--no-user-latency", action="store_true", help="skip the command's and server's times"
    )
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
        if not args.no_user_latency:
            user_latency(cell, args.alias, recent, one_region, out)
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
