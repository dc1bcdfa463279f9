"""ingest: raw region CSVs -> one tidy, clean, hourly Parquet table and a data-quality report.

Cleaning policy (deterministic; each step counted per region in the report):
1. Exact duplicate rows are dropped.
2. Readings sharing one timestamp are merged (`ingest.duplicates`, default mean). In these files the
   timestamps are US Eastern wall-clock time, so the repeated autumn daylight-saving hour appears
   twice; merging keeps a regular 24-hour local day, which is what the calendar features and the
   same-hour-yesterday baseline assume.
3. Readings <= 0 MW, or outside [r, 1/r] times the median of the 7 hours centred on them
   (`ingest.outlier_ratio` = r), are flagged as implausible and removed.
4. Missing hours (the skipped spring hour, other gaps, removed readings) are filled by time
   interpolation when the gap is at most `ingest.max_fill_hours` long; longer gaps are left out,
   and the window stage never builds a window or label across them. Hours missing at either end
   of a series are trimmed.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from stages.acquire import region_file
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, write_json
from stages.params import IngestParams, load_params

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
SCHEMA = pa.schema(
    [
        pa.field("region", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("s"), nullable=False),  # local wall-clock time
        pa.field("load_mw", pa.float32(), nullable=False),
    ]
)
NEIGHBOURHOOD_HOURS = 7


def read_region_csv(path: Path, region: str) -> pd.DataFrame:
    """Read one raw file into (timestamp, load_mw), refusing anything malformed by file and line."""
    strict = _read_strict(path, region)
    return strict if strict is not None else _read_and_diagnose(path, region)


def _read_strict(path: Path, region: str) -> pd.DataFrame | None:
    """The common, well-formed file at pyarrow's speed; None if anything is off, so that the
    careful reader can say what and where."""
    names = ["Datetime", f"{region}_MW"]
    types = {names[0]: pa.timestamp("s"), names[1]: pa.float64()}
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
        well_formed = (
            table.column_names == names
            and table.num_rows > 0
            and table.schema.types == list(types.values())
            and not any(column.null_count for column in table.columns)
        )
    except (pa.ArrowException, OSError, EOFError, UnicodeError):
        return None
    if not well_formed:
        return None
    timestamps, loads = (column.to_numpy() for column in table.columns)
    return pd.DataFrame({"timestamp": timestamps, "load_mw": loads})


def _read_and_diagnose(path: Path, region: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(
            path,
            dtype=str,
            skip_blank_lines=False,
            keep_default_na=False,
            encoding="utf-8-sig",
            compression="infer",
        )
    except pd.errors.EmptyDataError as err:
        raise PipelineError(f"{path}: the file is empty") from err
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path}: not UTF-8 text (byte {err.start})") from err
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise PipelineError(f"{path}: unreadable gzip data ({err})") from err
    except pd.errors.ParserError as err:
        raise PipelineError(f"{path}: {err}") from err

    header = [c.strip() for c in raw.columns]
    expected = ["Datetime", f"{region}_MW"]
    if header != expected:
        raise PipelineError(
            f"{path}: header is {','.join(header)!r}, expected {','.join(expected)!r}"
        )
    raw.columns = ["timestamp", "load_mw"]
    raw = raw.apply(lambda column: column.str.strip())
    raw = raw[(raw["timestamp"] != "") | (raw["load_mw"] != "")]  # blank lines
    if raw.empty:
        raise PipelineError(f"{path}: no data rows below the header")

    line = raw.index.to_numpy() + 2  # 1-based, after the header
    timestamps = pd.to_datetime(raw["timestamp"], format=TIMESTAMP_FORMAT, errors="coerce")
    loads = pd.to_numeric(raw["load_mw"], errors="coerce")
    for name, parsed, what in (
        ("timestamp", timestamps, "a timestamp like 2018-01-01 00:00:00"),
        ("load_mw", loads, "a number of megawatts"),
    ):
        bad = parsed.isna().to_numpy()
        if bad.any():
            first = int(np.argmax(bad))
            raise PipelineError(
                f"{path}, line {line[first]}: {raw[name].iloc[first]!r} is not {what}"
            )
    return pd.DataFrame({"timestamp": timestamps.to_numpy(), "load_mw": loads.to_numpy()})


def clean_series(
    frame: pd.DataFrame, params: IngestParams
) -> tuple[pd.Series, dict[str, int | str]]:
    """Apply the cleaning policy to one region; return the hourly series and what was done."""
    exact_duplicates = int(frame.duplicated().sum())
    frame = frame.drop_duplicates()
    shared_timestamps = int(frame["timestamp"].duplicated().sum())
    merged = frame.groupby("timestamp", sort=True)["load_mw"].agg(params.duplicates)

    series = merged.asfreq("h")
    missing_hours = int(series.isna().sum())

    median = series.rolling(NEIGHBOURHOOD_HOURS, center=True, min_periods=3).median()
    ratio = series / median
    implausible = (
        (series <= 0) | (ratio < params.outlier_ratio) | (ratio > 1 / params.outlier_ratio)
    )
    series = series.mask(implausible)

    gap = series.isna()
    gap_id = (gap != gap.shift()).cumsum()
    gap_length = gap.groupby(gap_id).transform("size").where(gap, 0)
    fill = gap & (gap_length <= params.max_fill_hours)
    series = series.where(~fill, series.interpolate(method="time", limit_area="inside"))
    filled = fill & series.notna()
    left_out = gap & ~filled
    first, last = series.first_valid_index(), series.last_valid_index()
    inside = (series.index > first) & (series.index < last)
    series = series.dropna()

    report = {
        "rows_raw": len(frame) + exact_duplicates,
        "exact_duplicate_rows": exact_duplicates,
        "duplicate_timestamps_merged": shared_timestamps,
        "missing_hours": missing_hours,
        "implausible_readings": int(implausible.sum()),
        "hours_filled": int(filled.sum()),
        "gaps_filled": int(gap_id[filled].nunique()),
        "gaps_split": int(gap_id[left_out & inside].nunique()),  # interior gaps only
        "hours_left_out": int(left_out.sum()),  # in split gaps or trimmed from either end
        "rows_clean": len(series),
        "first_hour": str(series.index.min()),
        "last_hour": str(series.index.max()),
    }
    return series, report


def ingest(raw_dir: Path, regions: tuple[str, ...], params: IngestParams):
    """Read and clean every region; return the tidy table and the per-region report."""
    if not regions:
        raise PipelineError("params.yaml: data.regions is empty")
    frames, report = [], {}
    for region in regions:
        path = region_file(raw_dir, region)
        if path is None:
            raise PipelineError(
                f"{raw_dir}: no {region}_hourly.csv for region {region} (data.regions)"
            )
        series, report[region] = clean_series(read_region_csv(path, region), params)
        log.info("%s: %s", region, report[region])
        frames.append(
            pd.DataFrame(
                {"region": region, "timestamp": series.index, "load_mw": series.to_numpy()}
            )
        )
    return pd.concat(frames, ignore_index=True), report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("table", type=Path, help="output Parquet file")
    parser.add_argument("report", type=Path, help="output data-quality JSON")
    args = parser.parse_args()
    params = load_params()
    table, report = ingest(args.raw_dir, params.data.regions, params.ingest)
    with atomic_path(args.table) as tmp:
        pq.write_table(pa.Table.from_pandas(table, schema=SCHEMA, preserve_index=False), tmp)
    write_json(args.report, report)
    log.info("%d rows of %d regions -> %s", len(table), len(report), args.table)

    from stages import tracking  # MLflow is imported only by the stages that log

    with tracking.start_run(run_name="ingest"):
        tracking.mlflow.log_params({"regions": ",".join(report), **asdict(params.ingest)})
        tracking.mlflow.log_metrics(
            {
                f"{region}.{key}": value
                for region, counts in report.items()
                for key, value in counts.items()
                if isinstance(value, int)
            }
        )
        tracking.mlflow.log_artifact(str(args.report))


if __name__ == "__main__":
    run_stage(main)
