"""ingest: raw readings -> one tidy, clean, hourly Parquet table and a data-quality report
(`loadforecast.data` reads, `loadforecast.cleaning` cleans; the counts also go to MLflow)."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loadforecast.data import read_regions, table_schema
from loadforecast.errors import run_command
from loadforecast.files import atomic_path, write_json
from loadforecast.settings import load_params
from stages import repo

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("table", type=Path, help="output Parquet file")
    parser.add_argument("report", type=Path, help="output data-quality JSON")
    args = parser.parse_args()
    params = load_params()
    source = params.data.raw_source(args.raw_dir)
    table, report = read_regions(source, params.data.regions, params.ingest, params.data.readings)
    with atomic_path(args.table) as tmp:
        pq.write_table(
            pa.Table.from_pandas(table, schema=table_schema(table), preserve_index=False), tmp
        )
    write_json(args.report, report)
    log.info("%d rows of %d regions -> %s", len(table), len(report), args.table)

    from loadforecast import tracking  # MLflow is imported only by the stages that log

    repo.track(params.project.name)
    with tracking.start_run("ingest"):
        regions = ",".join(report)
        if len(regions) > 500:  # MLflow keeps a parameter's first 6,000 characters at most
            regions = f"{len(report)} series: {','.join(list(report)[:10])},..."
        tracking.mlflow.log_params({"regions": regions, **params.ingest.model_dump()})
        tracking.mlflow.log_metrics(
            {
                f"{metric_name(region)}.{key}": value
                for region, counts in report.items()
                for key, value in counts.items()
                if isinstance(value, int)
            }
        )
        tracking.mlflow.log_artifact(str(args.report))


def metric_name(series: str) -> str:
    """A series id as MLflow takes it in a metric name (letters, digits, _ - . space /)."""
    return re.sub(r"[^\w\-. /]", "_", series)


if __name__ == "__main__":
    run_command(main)
