"""Readings on the local hourly clock: timestamps of any time zone to local wall-clock time, and
readings of any resolution (5, 10, 15, 30 or 60 minutes) to hourly means.

Time zones (`data.timezone`, an IANA name): naive timestamps are local wall-clock time in that
zone; timestamps with a UTC offset (ISO 8601 `+01:00`, or `Z`) are converted to it. A column
either has offsets on every row or on none. Every zone then follows one daylight-saving policy
(`loadforecast.cleaning`): a regular 24-hour local day, the repeated autumn hour merged, the
skipped spring hour filled like any short gap.

Resolution (`data.frequency`, or detected as the most common interval): a timestamp marks the
start of its interval, so the readings of 14:00, 14:15, 14:30 and 14:45 make the hour 14:00, whose
load is their mean in MW. An hour with fewer than half its readings is a gap (filled when short,
like any gap; counted in the data-quality report). Readings off the interval's grid, or a long
stretch at another spacing, are refused.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loadforecast.errors import LoadForecastError

STEP_MINUTES = {"5min": 5, "10min": 10, "15min": 15, "30min": 30, "h": 60}
# This many consecutive intervals of one spacing longer than the series' own is a second
# resolution (a day of hourly readings in a 15-minute series), not a run of gaps.
MIXED_RUN = 24
# A UTC offset after a time of day (never the day of a date: 2018-01-01 has none).
OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$"


def to_local_time(
    stamps: pd.Series, zone: str, name_row: Callable[[int], str] = lambda i: f"row {i}"
) -> pd.Series:
    """Timestamps (text or datetimes) as naive local wall-clock time in `zone`, or an error
    that names the row (`name_row` of its 0-based position: a file's line) and what is wrong."""
    if pd.api.types.is_datetime64_any_dtype(stamps):
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise LoadForecastError(f"{name_row(row)}: no timestamp")
        if stamps.dt.tz is None:
            return stamps.astype("datetime64[ns]")
        return stamps.dt.tz_convert(zone).dt.tz_localize(None).astype("datetime64[ns]")
    text = stamps.astype(str).str.strip()
    has_offset = pc.match_substring_regex(pa.array(text.to_numpy(), pa.string()), OFFSET)
    has_offset = has_offset.to_numpy(zero_copy_only=False)
    if has_offset.any() and not has_offset.all():
        aware, naive = int(np.argmax(has_offset)), int(np.argmax(~has_offset))
        raise LoadForecastError(
            f"timestamps mix local times ({name_row(naive)}: {text.iloc[naive]!r}) with times "
            f"that carry a UTC offset ({name_row(aware)}: {text.iloc[aware]!r}); give the "
            "offset on every "
            "row or on none (naive times are read as data.timezone)"
        )
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=bool(has_offset.any()))
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise LoadForecastError(
            f"{name_row(row)}: timestamp {text.iloc[row]!r} is not a time like 2018-01-01 00:00 "
            "or 2018-01-01T05:00:00Z"
        )
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert(zone).dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def utc_offsets(local: pd.Series, zone: str) -> pd.Series:
    """Each local wall-clock hour's UTC offset in `zone`, e.g. '-05:00'. The repeated autumn
    hour, merged into one, is given its first (summer-time) offset; the skipped spring hour,
    filled, the offset after the change."""
    aware = local.dt.tz_localize(
        zone, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward"
    )
    text = aware.dt.strftime("%z")
    return text.str[:3] + ":" + text.str[3:]


def reading_minutes(stamps: pd.DatetimeIndex, frequency: str) -> int:
    """The minutes between readings (sorted, unique local timestamps): `frequency`, or with
    `auto` the most common interval; an error names the first readings that break it."""
    minutes = np.diff(stamps.to_numpy().astype("datetime64[s]").astype(np.int64)) / 60.0
    if frequency != "auto":
        step = STEP_MINUTES[frequency]
    elif len(minutes) == 0:
        step = 60
    else:
        values, counts = np.unique(minutes, return_counts=True)
        step = float(values[np.argmax(counts)])
        if step not in STEP_MINUTES.values():
            raise LoadForecastError(
                f"readings are mostly {step:g} minutes apart (e.g. {_around(stamps, minutes, step)}"
                f"): expected 5, 10, 15, 30 or 60 minutes (data.frequency)"
            )
        step = int(step)
    since_hour = (stamps.minute * 60 + stamps.second) * 1e9 + stamps.microsecond * 1e3
    off_grid = (since_hour + stamps.nanosecond) % (step * 60e9) != 0
    if off_grid.any():
        first = int(np.argmax(off_grid))
        shown = ", ".join(str(t) for t in stamps[max(first - 1, 0) : first + 2])
        raise LoadForecastError(
            f"irregular timestamps: {stamps[first]} is off the {step}-minute grid of the "
            f"readings (around it: {shown}); readings must be {step} minutes apart, or set "
            "data.frequency"
        )
    longer = np.where(minutes > step, minutes, 0.0)
    runs = _run_lengths(longer)
    mixed = (longer > 0) & (runs >= MIXED_RUN)
    if mixed.any():
        first = int(np.argmax(mixed))
        raise LoadForecastError(
            f"mixed spacing: readings are {step} minutes apart, but {longer[first]:g} minutes "
            f"apart from {stamps[first]} for {runs[first]} readings; give one resolution per "
            "series"
        )
    return step


def _around(stamps: pd.DatetimeIndex, minutes: np.ndarray, step: float) -> str:
    at = int(np.argmax(minutes == step))
    return f"{stamps[at]}, {stamps[at + 1]}"


def _run_lengths(values: np.ndarray) -> np.ndarray:
    """For each position, the length of the run of equal values it belongs to."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, values[1:] != values[:-1]]
    run_id = np.cumsum(starts) - 1
    return np.bincount(run_id)[run_id]


def hourly_means(readings: pd.DataFrame, step: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Readings `step` minutes apart (sorted, unique local timestamps; a column per value) as
    hourly means of each column, with the
    hours dropped for having fewer than half their readings and the hours kept with some
    missing, counted."""
    if step == 60:
        return readings, {"partial_hours_kept": 0, "partial_hours_left_out": 0}
    per_hour = 60 // step
    grouped = readings.groupby(readings.index.floor("h"))
    means, counts = grouped.mean(), grouped.size()
    kept = 2 * counts >= per_hour
    report = {
        "partial_hours_kept": int((kept & (counts < per_hour)).sum()),
        "partial_hours_left_out": int((~kept).sum()),
    }
    return means[kept], report
