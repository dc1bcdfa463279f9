"""The data contract: raw PJM region files (`<REGION>_hourly.csv` or `.csv.gz`, header
`Datetime,<REGION>_MW`, US Eastern wall-clock time) in, one tidy hourly table (region, timestamp,
load_mw) out, cleaned by `loadforecast.cleaning`. Malformed files are refused by file and line.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from loadforecast.cleaning import clean_series
from loadforecast.config import IngestParams
from loadforecast.errors import LoadForecastError

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
SCHEMA = pa.schema(
    [
        pa.field("region", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("s"), nullable=False),  # local wall-clock time
        pa.field("load_mw", pa.float32(), nullable=False),
    ]
)
RAW_SUFFIXES = (".csv", ".csv.gz")


def region_file(directory: Path, region: str) -> Path | None:
    """The raw file of `region` in `directory` (`<REGION>_hourly.csv` or `.csv.gz`), if any."""
    for suffix in RAW_SUFFIXES:
        candidate = directory / f"{region}_hourly{suffix}"
        if candidate.is_file():
            return candidate
    return None


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
        raise LoadForecastError(f"{path}: the file is empty") from err
    except UnicodeDecodeError as err:
        raise LoadForecastError(f"{path}: not UTF-8 text (byte {err.start})") from err
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise LoadForecastError(f"{path}: unreadable gzip data ({err})") from err
    except pd.errors.ParserError as err:
        raise LoadForecastError(f"{path}: {err}") from err

    header = [c.strip() for c in raw.columns]
    expected = ["Datetime", f"{region}_MW"]
    if header != expected:
        raise LoadForecastError(
            f"{path}: header is {','.join(header)!r}, expected {','.join(expected)!r}"
        )
    raw.columns = ["timestamp", "load_mw"]
    raw = raw.apply(lambda column: column.str.strip())
    raw = raw[(raw["timestamp"] != "") | (raw["load_mw"] != "")]  # blank lines
    if raw.empty:
        raise LoadForecastError(f"{path}: no data rows below the header")

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
            raise LoadForecastError(
                f"{path}, line {line[first]}: {raw[name].iloc[first]!r} is not {what}"
            )
    return pd.DataFrame({"timestamp": timestamps.to_numpy(), "load_mw": loads.to_numpy()})


def read_regions(raw_dir: Path, regions: list[str], params: IngestParams):
    """Read and clean every region; return the tidy table and the per-region report."""
    if not regions:
        raise LoadForecastError("no regions to read (data.regions is empty)")
    frames, report = [], {}
    for region in regions:
        path = region_file(raw_dir, region)
        if path is None:
            raise LoadForecastError(
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


def region_of(path: Path) -> str:
    """The region a raw file holds, from its `Datetime,<REGION>_MW` header."""
    try:
        header = [c.strip() for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    except (OSError, ValueError, UnicodeError, EOFError) as err:
        if not path.is_file():
            raise LoadForecastError(f"{path}: no such file") from err
        read_region_csv(path, "REGION")  # says what is wrong with the file, and where
        raise LoadForecastError(f"{path}: not a readings file ({err})") from err
    if len(header) != 2 or header[0] != "Datetime" or not header[1].endswith("_MW"):
        raise LoadForecastError(
            f"{path}: header is {','.join(header)!r}, expected 'Datetime,<REGION>_MW' "
            "(the raw files' format: one region per file)"
        )
    return header[1].removesuffix("_MW")


def read_readings(paths: list[Path]) -> pd.DataFrame:
    """Every file's readings as (region, timestamp, load_mw), uncleaned."""
    frames = []
    for path in paths:
        region = region_of(path)
        frames.append(read_region_csv(path, region).assign(region=region))
    return pd.concat(frames, ignore_index=True)[["region", "timestamp", "load_mw"]]
