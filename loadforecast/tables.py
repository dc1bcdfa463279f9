"""Long tables of readings: one row per reading, with a series id, a timestamp and a load column
(named by `data.columns`), in CSV (optionally gzipped) or Parquet files: one file, a directory of
them (a Parquet dataset partitioned by series, `series=<id>/...parquet`, included), or a glob.
Only the declared columns are read (`data.columns`, and `data.covariates` but those marked
ignored), and a column that is not declared is an error, so no column becomes a feature unasked.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loadforecast.config import ReadingsParams
from loadforecast.errors import LoadForecastError
from loadforecast.hourly import to_local_time

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
PANDAS_INDEX = re.compile(r"__index_level_\d+__")  # a DataFrame index pandas wrote to Parquet


def table_files(path: Path) -> list[Path]:
    """The CSV and Parquet files `path` names: itself, those under it, or those it matches."""
    if path.is_file():
        return [path]
    if path.is_dir():
        base, candidates = path, sorted(p for p in path.rglob("*") if p.is_file())
    else:
        base = glob_base(path)
        candidates = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
    files = [  # hidden files and folders below the named place are left alone
        p
        for p in candidates
        if p.name.endswith(TABLE_SUFFIXES)
        and not any(part.startswith(".") for part in p.relative_to(base).parts)
    ]
    if not files:
        raise LoadForecastError(
            f"{path}: no CSV or Parquet file there (data.path names a file, a directory or a "
            "glob of them)"
        )
    return files


def read_table(path: Path, readings: ReadingsParams, ahead: bool = False) -> pd.DataFrame:
    """Every reading of the files `path` names as (region, timestamp, load_mw, then each used
    covariate), timestamps in local time of `readings.timezone`, uncleaned. With `ahead`, a row
    may leave the load empty (NaN): a forecast request's hours ahead, carrying their known
    covariates. Errors name the file, the column or the line."""
    files = table_files(path)
    base = None if path.is_file() else path if path.is_dir() else glob_base(path)
    frames = [_read_file(file, readings, base, ahead) for file in files]
    return pd.concat(frames, ignore_index=True)


def glob_base(pattern: Path) -> Path:
    """The part of a glob before its first wildcard (`data/*/x.parquet` -> `data`)."""
    fixed = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path()


def _read_file(
    path: Path, readings: ReadingsParams, base: Path | None, ahead: bool
) -> pd.DataFrame:
    columns, covariates = readings.columns, readings.used_covariates
    names = {"series": columns.series, "timestamp": columns.timestamp, "load": columns.load}
    is_csv = not path.name.endswith((".parquet", ".pq"))
    partitions = _partition_values(path, base)
    try:
        if is_csv:
            with pacsv.open_csv(path) as reader:  # the header and first block only
                present = reader.schema.names
        else:
            present = pq.read_schema(path).names
    except (pa.ArrowException, OSError, EOFError, UnicodeError) as err:
        raise LoadForecastError(
            f"{path}: not a readable {'CSV' if is_csv else 'Parquet'} file ({err})"
        ) from err
    for role, name in names.items():
        if name not in present and name not in partitions:
            raise LoadForecastError(
                f"{path}: no column {name!r} (data.columns.{role}); its columns are "
                f"{present}: name the {role} column in data.columns.{role}"
            )
    for name, role in covariates.items():
        if name not in present:
            raise LoadForecastError(
                f"{path}: no column {name!r}, declared a {role} covariate (data.covariates); "
                f"its columns are {present}"
            )
    declared = {*names.values(), *readings.covariates}
    undeclared = [c for c in present if c not in declared and not PANDAS_INDEX.fullmatch(c)]
    if undeclared:
        raise LoadForecastError(
            f"{path}: column(s) {undeclared} are not declared: name each in data.covariates "
            "as known (known in advance for the hours ahead), observed (known up to the latest "
            "reading) or ignored"
        )
    wanted = [name for name in [*names.values(), *covariates] if name in present]
    try:
        if is_csv:
            options = pacsv.ConvertOptions(
                include_columns=wanted, column_types={name: pa.string() for name in wanted}
            )
            parse = pacsv.ParseOptions(ignore_empty_lines=False)  # so that lines count right
            table = pacsv.read_csv(path, parse_options=parse, convert_options=options)
        else:
            table = pq.read_table(path, columns=wanted)
    except (pa.ArrowException, OSError, EOFError, UnicodeError) as err:
        raise LoadForecastError(f"{path}: {err}") from err
    frame = table.to_pandas()
    if is_csv:  # blank lines, read as rows of empty text
        frame = frame[(frame[wanted] != "").any(axis=1)]
    frame = frame.reset_index(names="__position__")
    for name, value in partitions.items():
        if name not in frame:
            frame[name] = value

    def name_row(row: int) -> str:  # a CSV's first data row is line 2; Parquet's rows from 0
        position = int(frame["__position__"].iloc[row])
        return f"{path}, line {position + 2}" if is_csv else f"{path}, row {position}"

    stamps = to_local_time(frame[columns.timestamp], readings.timezone, name_row)
    numbers = {"load_mw": numeric(frame[columns.load], columns.load, name_row, empty=ahead)}
    for name in covariates:  # an empty cell is a missing value, a gap like a missing hour
        numbers[name] = numeric(frame[name], name, name_row, empty=True)
    series = frame[columns.series]
    if series.isna().any():
        row = int(np.argmax(series.isna().to_numpy()))
        raise LoadForecastError(f"{name_row(row)}: no {columns.series} (the series id)")
    return pd.DataFrame(
        {"region": series.astype(str).to_numpy(), "timestamp": stamps.to_numpy(), **numbers}
    )


def numeric(
    column: pd.Series, name: str, name_row: Callable[[int], str], empty: bool
) -> np.ndarray:
    """A column of numbers as float64 (with `empty`, empty cells as NaN), or an error that names
    the first row holding something else."""
    blank = (column.isna() | (column.astype(str).str.strip() == "")).to_numpy()
    values = pd.to_numeric(column.where(~blank), errors="coerce").to_numpy(dtype=np.float64)
    bad = (np.isnan(values) & ~blank) | (blank & (not empty))
    if bad.any():
        row = int(np.argmax(bad))
        raise LoadForecastError(f"{name_row(row)}: {name} = {column.iloc[row]!r} is not a number")
    return values


def _partition_values(path: Path, base: Path | None) -> dict[str, str]:
    """`key=value` directories between `base` and the file (a hive-partitioned dataset)."""
    if base is None:
        return {}
    parts = path.relative_to(base).parts[:-1]
    return {key: unquote(value) for key, value in (p.split("=", 1) for p in parts if "=" in p)}
