"""Many series: the data stages (ingest, features, window) on a generated long table of 12, 120
and 1,000 series of two years each (up to 17.5 M hourly readings), timed with their peak memory.

    python -m benchmarks.many_series --series 12 120 1000   # -> benchmarks/results/

Each stage runs as the pipeline runs it (`python -m stages.<name>`, its MLflow logging included),
in a scratch project whose params.yaml is this repository's with `data.format: table`, in a
process of its own, so that its peak resident memory (`/usr/bin/time`'s maximum RSS) is its own.
The table is one Parquet file (series id, naive local timestamp, load), as a utility's export
or a database dump would give it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from benchmarks.epochs import cpu_flags
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import write_json

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
HOURS = 2 * 8760
STAGES = {
    "ingest": ["raw", "ingested.parquet", "data_quality.json"],
    "features": ["ingested.parquet", "features.parquet"],
    "window": ["features.parquet", "windows", "windows.json"],
}


def write_table(path: Path, series: int, hours: int = HOURS, seed: int = 0) -> int:
    """`series` generated loads of `hours` hours each, in one Parquet file, written a batch of
    series at a time; returns the rows written."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2022-01-01", periods=hours, freq="h")
    hour, day = stamps.hour.to_numpy(), stamps.dayofweek.to_numpy()
    profile = 1 + 0.2 * np.sin(2 * np.pi * (hour - 6) / 24) - 0.08 * (day >= 5)
    season = 1 + 0.15 * np.cos(2 * np.pi * stamps.day_of_year.to_numpy() / 365.25)
    schema = pa.schema(
        [("feeder", pa.string()), ("local_time", pa.timestamp("s")), ("mw", pa.float64())]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, series, 50):
            names, loads = [], []
            for s in range(first, min(first + 50, series)):
                level = rng.uniform(5, 500)
                noise = rng.normal(0, 0.02, hours)
                loads.append((level * profile * season * (1 + noise)).round(3))
                names.append(np.full(hours, f"feeder-{s:04d}"))
            n = len(names)
            writer.write_table(
                pa.table(
                    {
                        "feeder": np.concatenate(names),
                        "local_time": np.tile(stamps.to_numpy().astype("datetime64[s]"), n),
                        "mw": np.concatenate(loads),
                    },
                    schema=schema,
                )
            )
    return series * hours


def scratch_project(root: Path) -> None:
    """This repository's params with the table of `root/raw/table` as the data."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"] |= {
        "format": "table",
        "path": "raw/table",
        "columns": {"series": "feeder", "timestamp": "local_time", "load": "mw"},
        "regions": [],
    }
    params["project"] = {"name": "many-series"}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_stage(root: Path, stage: str) -> dict[str, float]:
    """Run one stage in `root`; its wall time and peak resident memory."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": ""}
    environment.pop("MLFLOW_TRACKING_URI")
    command = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", f"stages.{stage}"]
    done = subprocess.run(
        [*command, *STAGES[stage]], cwd=root, env=environment, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise LoadForecastError(f"stage {stage} failed:\n{done.stderr[-3000:]}")
    seconds, peak_kib = done.stderr.strip().splitlines()[-1].split()
    return {"seconds": float(seconds), "peak_mib": round(int(peak_kib) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[12, 120, 1000])
    parser.add_argument("--hours", type=int, default=HOURS)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    runs = []
    for series in args.series:
        root = Path(tempfile.mkdtemp(prefix=f"many-series-{series}-"))
        try:
            (root / "raw" / "table").mkdir(parents=True)
            rows = write_table(root / "raw" / "table" / "readings.parquet", series, args.hours)
            scratch_project(root)
            stages = {stage: run_stage(root, stage) for stage in STAGES}
        finally:
            shutil.rmtree(root, ignore_errors=True)
        runs.append({"series": series, "rows": rows, "stages": stages})
        log.info("%s", runs[-1])
    for run in runs:  # per million rows, to see that neither grows faster than the rows
        for figures in run["stages"].values():
            figures["seconds_per_million_rows"] = round(figures["seconds"] / run["rows"] * 1e6, 2)
            figures["mib_per_million_rows"] = round(figures["peak_mib"] / run["rows"] * 1e6, 1)
    output = args.output or REPO / f"benchmarks/results/many-series-{datetime.now(UTC):%Y%m%d}.json"
    write_json(
        output,
        {
            "benchmark": "many_series",
            "hours_per_series": args.hours,
            "machine": {"cpu_flags": cpu_flags(), "cores": os.cpu_count()},
            "runs": runs,
        },
    )


if __name__ == "__main__":
    run_command(main)
