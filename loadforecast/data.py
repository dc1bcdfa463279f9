"""The data contract: raw readings in, one tidy hourly table (region, timestamp, load_mw) out,
cleaned by `loadforecast.cleaning`.

Two formats (`data.format`): `pjm`, PJM's region files (`<REGION>_hourly.csv` or `.csv.gz`, header
`Datetime,<REGION>_MW`, naive local time), read here; and `table`, a long table of many series
(`loadforecast.tables`). Timestamps become local wall-clock time of `data.timezone` and readings
hourly means (`loadforecast.hourly`). Malformed input is refused by file and line.
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

from loadforecast.cleaning import clean_readings
from loadforecast.config import ColumnsParams, IngestParams, ReadingsParams
from loadforecast.errors import LoadForecastError
from loadforecast.tables import read_table

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
# PJM's files as the study read them: naive US Eastern time, hourly.
PJM_READINGS = ReadingsParams(
    format="pjm",
    columns=ColumnsParams(series="region", timestamp="timestamp", load="load_mw"),
    timezone="America/New_York",
    frequency="auto",
    covariates={},
)


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


def read_raw(source: Path, regions: list[str], readings: ReadingsParams) -> pd.DataFrame:
    """The uncleaned readings (region, timestamp, load_mw) of `regions` (every series of a table
    when empty) from the PJM files in the directory `source`, or the long table it names."""
    if readings.format == "pjm":
        if not regions:
            raise LoadForecastError("no regions to read (data.regions is empty)")
        frames = []
        for region in regions:
            path = region_file(source, region)
            if path is None:
                raise LoadForecastError(
                    f"{source}: no {region}_hourly.csv for region {region} (data.regions)"
                )
            frames.append(read_region_csv(path, region).assign(region=region))
        return pd.concat(frames, ignore_index=True)
    table = read_table(source, readings)
    if not regions:
        return table
    present = set(table["region"].unique())
    absent = [r for r in regions if r not in present]
    if absent:
        shown = sorted(present)[:10]
        raise LoadForecastError(
            f"{source}: no series {', '.join(absent)} in column {readings.columns.series!r} "
            f"(data.regions); it holds {len(present)} series, e.g. {shown}"
        )
    return table[table["region"].isin(regions)]


def read_regions(
    source: Path,
    regions: list[str],
    params: IngestParams,
    readings: ReadingsParams = PJM_READINGS,
):
    """Read and clean every region; return the tidy table (region, timestamp, load_mw and each
    used covariate) and the per-region report."""
    raw = read_raw(source, regions, readings)
    values = ["timestamp", "load_mw", *readings.used_covariates]
    frames, report = [], {}
    for region, rows in raw.groupby("region", sort=False):
        try:
            hourly, report[region] = clean_readings(rows[values], params, readings.frequency)
        except LoadForecastError as err:
            raise LoadForecastError(f"{source}, series {region}: {err}") from None
        log.info("%s: %s", region, report[region])
        frames.append(hourly.reset_index().assign(region=region)[["region", *values]])
    return pd.concat(frames, ignore_index=True), report


def table_schema(table: pd.DataFrame) -> pa.Schema:
    """The ingested table's schema: `SCHEMA`, then each covariate as float32 like the load."""
    extra = [pa.field(c, pa.float32(), nullable=False) for c in table.columns[len(SCHEMA) :]]
    return pa.schema([*SCHEMA, *extra])


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


def read_readings(paths: list[Path], readings: ReadingsParams = PJM_READINGS) -> pd.DataFrame:
    """Every file's readings as (region, timestamp, load_mw and each used covariate), uncleaned:
    PJM files (a region each, named by its header) or long tables, as `readings` says. A table's
    rows may leave the load empty: the hours ahead of a forecast, with their known covariates."""
    frames = []
    for path in paths:
        if readings.format == "table":
            frames.append(read_table(path, readings, ahead=True))
        else:
            region = region_of(path)
            frames.append(read_region_csv(path, region).assign(region=region))
    columns = ["region", "timestamp", "load_mw", *readings.used_covariates]
    return pd.concat(frames, ignore_index=True)[columns]
