"""Recent readings to a network's inputs: readings checked (columns, types, time zone), cleaned
as ingest cleans them, put on the local hourly clock, given the calendar and known covariates of
the hours ahead, and scaled with the forecaster's own scalers. Errors name the row, the hour or
the value."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from loadforecast.calendar import add_time_features
from loadforecast.cleaning import clean_readings
from loadforecast.config import ReadingsParams
from loadforecast.errors import LoadForecastError
from loadforecast.hourly import to_local_time
from loadforecast.scaling import LOAD_COLUMN, scale, unscale
from loadforecast.windows import Windows, reaching_ahead

if TYPE_CHECKING:
    from loadforecast.forecaster import Recipe

READINGS = ["region", "timestamp", "load_mw"]
HOUR = pd.Timedelta(hours=1)


def check_readings(frame: pd.DataFrame, readings: ReadingsParams) -> pd.DataFrame:
    """The readings (region, timestamp, load_mw and the model's covariates) with the right
    types, timestamps in local time of `readings.timezone` (naive ones are taken as local time
    already), or one error that says what is wrong. A row may leave load_mw empty only after
    its region's latest reading, where it carries the known covariates of an hour ahead."""
    covariates = readings.used_covariates
    expected = [*READINGS, *covariates]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise LoadForecastError(f"readings: missing column(s) {missing}; expected {expected}")
    undeclared = [c for c in frame.columns if c not in expected and c not in readings.covariates]
    if undeclared:
        raise LoadForecastError(
            f"readings: column(s) {undeclared} are not inputs of this model (it reads "
            f"{expected}); leave them out"
        )
    frame = frame[expected].copy()
    stamps = to_local_time(
        frame["timestamp"], readings.timezone, lambda row: f"readings, row {row}"
    )
    frame["timestamp"], frame["region"] = stamps, frame["region"].astype(str)
    for name in ["load_mw", *covariates]:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() & frame[name].notna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise LoadForecastError(
                f"readings, row {row}: {name} {frame[name].iloc[row]!r} is not a number"
            )
        frame[name] = values.astype(np.float64)
    empty = frame["load_mw"].isna().to_numpy()
    latest = frame["timestamp"].where(~empty).groupby(frame["region"]).transform("max")
    early = empty & ~(frame["timestamp"] > latest).to_numpy()
    if early.any():
        row = int(np.flatnonzero(early)[0])
        raise LoadForecastError(
            f"readings, row {row}: load_mw is empty at {frame['timestamp'].iloc[row]}, not "
            "after the region's latest reading; only the hours ahead (with the known "
            "covariates) may leave it empty"
        )
    if empty.any() and "known" not in covariates.values():
        row = int(np.argmax(empty))
        raise LoadForecastError(
            f"readings, row {row}: load_mw is empty; this model takes no known covariates, so "
            "the readings need no rows for the hours ahead: leave them out"
        )
    return frame


def model_rows(
    readings: pd.DataFrame,
    region: str,
    recipe: Recipe,
    hours: int = 1,
    ahead: pd.DataFrame | None = None,
) -> tuple[np.ndarray, pd.Timestamp]:
    """The scaled rows that forecast the `hours` hours after the last reading, and the first of
    them: the last `spec.reach` hours of `readings` (indexed by local time: load_mw and each
    covariate) cleaned as ingest cleans them (and stored, like its table, as float32), then the
    forecast hours (their calendar is known in advance, their known covariates come from
    `ahead`, indexed by local time; their loads and observed covariates are unknown, zero here,
    and no forecast reads them)."""
    if region not in recipe.scalers:
        raise LoadForecastError(
            f"region {region!r}: the model was trained on {sorted(recipe.scalers)} only; "
            "train it on this region's history first"
        )
    covariates = recipe.readings.used_covariates
    latest = readings.index.max()
    missing = [c for c in covariates if pd.isna(readings[c].loc[[latest]]).all()]
    if missing:
        raise LoadForecastError(
            f"region {region!r}: the latest reading ({latest}) has no {', '.join(missing)}; "
            "every reading needs the model's covariates, or leave that reading out"
        )
    frame = readings.reset_index(names="timestamp")
    table, report = clean_readings(frame, recipe.ingest, recipe.readings.frequency)
    if len(table) and table.index[-1] != latest.floor("h") and report["reading_minutes"] < 60:
        per_hour = 60 // report["reading_minutes"]
        raise LoadForecastError(
            f"region {region!r}: the latest hour ({latest.floor('h')}) has "
            f"{int((readings.index.floor('h') == latest.floor('h')).sum())} of its {per_hour} "
            f"readings; an hour needs at least {(per_hour + 1) // 2} to count: wait for them, or "
            "leave that hour's readings out to forecast it"
        )
    if len(table) and table.index[-1] != latest.floor("h"):
        value = float(readings["load_mw"].loc[[latest]].iloc[-1])
        raise LoadForecastError(
            f"region {region!r}: the latest reading ({latest}, {value:g} MW) is implausible "
            f"beside the hours before it (outlier ratio {recipe.ingest.outlier_ratio}); check "
            "it, or leave it out to forecast that hour"
        )
    needed = recipe.spec.reach
    last = table.index[-1] if len(table) else None
    recent = table[table.index > last - needed * HOUR] if last is not None else table
    if len(recent) < needed:
        missing = "" if last is None else f" from {last - (needed - 1) * HOUR} to {last}"
        raise LoadForecastError(
            f"region {region!r}: {len(recent)} usable hours of the {needed} consecutive hours "
            f"before the forecast{missing} (after cleaning: gaps over "
            f"{recipe.ingest.max_fill_hours} hours are not filled); give at least {needed} "
            "recent hourly readings without a longer gap"
        )
    future = pd.DataFrame(index=pd.date_range(last + HOUR, periods=hours, freq="h"))
    future["load_mw"] = 0.0
    for name, role in covariates.items():
        future[name] = known_ahead(ahead, name, future.index) if role == "known" else 0.0
    recent = recent.astype(np.float32).astype(np.float64)
    frame = pd.concat([recent, future]).reset_index(names="timestamp")
    frame = add_time_features(frame, recipe.calendar)
    values = frame[recipe.features].to_numpy(np.float64)
    return scale(values, recipe.scalers[region]), last + HOUR


def missing_hours(ahead: pd.DataFrame, name: str, hours: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The `hours` (the hours ahead) without a value of known covariate `name` in `ahead`, the
    request's rows after the latest reading (indexed by local time)."""
    given = ahead[name].dropna().index.floor("h")
    return hours[~hours.isin(given)]


def known_ahead(ahead: pd.DataFrame | None, name: str, hours: pd.DatetimeIndex) -> np.ndarray:
    """A known covariate's hourly means over `hours` (the hours ahead) from the request's rows
    after the latest reading (NaN where it has none: `checks.failed_checks` refuses those)."""
    given = pd.Series(dtype=np.float64) if ahead is None else ahead[name].dropna()
    return given.groupby(given.index.floor("h")).mean().reindex(hours).to_numpy(np.float64)


def recent_readings(windows: Windows, hours: int, ahead: int = 1) -> pd.DataFrame:
    """Real readings to show the model's input with: the `hours` hours before the first
    region's last validation label (else its last training label) with `ahead` labels from it
    on, in MW and each covariate's units, from the windows; with known covariates, then a row
    for each of those `ahead` hours, load empty, carrying them (a multi-horizon model reads them
    for every hour it forecasts). Every label has at least `hours` consecutive hours before it."""
    index = windows.index.sort_values("label_row")
    region = index["region"].iloc[0]
    own = index[index["region"] == region]
    seen = own["split"].isin(("train", "val")).to_numpy()
    last = own[reaching_ahead(own["label_row"].to_numpy(), seen, ahead)].iloc[-1]
    rows = np.arange(last["label_row"] - hours, last["label_row"])
    width = len(windows.features)
    first_covariate = width - windows.spec.known - windows.spec.observed
    frame = pd.DataFrame(
        {
            "region": region,
            "timestamp": pd.date_range(end=last["label_time"] - HOUR, periods=hours, freq="h"),
            **{
                windows.features[column]: unscale(
                    windows.series[rows, column], np.full(hours, region), windows.scalers, column
                )
                for column in (LOAD_COLUMN, *range(first_covariate, width))
            },
        }
    )
    if not windows.spec.known:
        return frame
    _, known, _ = windows.spec.columns(width)
    later = np.arange(last["label_row"], last["label_row"] + ahead)
    hours_ahead = {
        "region": region,
        "timestamp": pd.date_range(last["label_time"], periods=ahead, freq="h"),
        "load_mw": np.nan,
        **{
            windows.features[column]: unscale(
                windows.series[later, column], np.full(ahead, region), windows.scalers, column
            )
            for column in range(known.start, known.stop)
        },
    }
    return pd.concat([frame, pd.DataFrame(hours_ahead)], ignore_index=True)
