"""Recent readings checked before a forecast trusts them, and the fallback forecast of a region
that fails a check.

Meters and SCADA fail in a few known ways: a value stuck for hours (`flat_line`), a reading far
beyond any hour-to-hour change the series made in training (`jump`), readings that stopped
arriving (`stale`), and a known covariate (a temperature forecast) missing for hours to be
forecast (`missing_covariate`). Each failed check either refuses the forecast, with one line
naming the region, the hours and the values, or, when named in `ReadingChecks.fallback`,
forecasts that region from the same hour last week, with the spread of that forecast's errors
in training as its interval (OpenSTEF's "basecase"), flagged in the forecast's `quality` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from loadforecast.errors import LoadForecastError
from loadforecast.hourly import to_local_time
from loadforecast.scaling import LOAD_COLUMN, unscale_load
from loadforecast.windows import Windows

CHECKS = ("flat_line", "jump", "stale", "missing_covariate")
WEEK = pd.Timedelta(hours=168)
HOUR = pd.Timedelta(hours=1)
# a reading may change from the hour before by this many times the 99.9th percentile of the
# absolute hour-to-hour changes of the training part: 1.4 times the hour before is far beyond it
JUMP_FACTOR, JUMP_PERCENTILE = 2.0, 99.9


@dataclass(frozen=True)
class Guard:
    """What one region's training part did: the largest change from one hour to the next a
    reading may make (MW), and the quantiles, at the model's levels, of the error of the same
    hour last week as a forecast (MW): the fallback's interval."""

    jump_mw: float
    weekly_error_mw: tuple[float, ...]


@dataclass(frozen=True)
class ReadingChecks:
    """How readings are checked: a failed check named in `fallback` forecasts its region from
    the same hour last week, any other refuses. `flat_hours` identical hourly loads are a stuck
    meter; with `issued_at` (the issue time: naive in the model's time zone, or with a UTC
    offset), a latest reading more than `max_age_hours` before it is stale."""

    fallback: frozenset[str] = field(default_factory=frozenset)
    flat_hours: int = 24
    issued_at: pd.Timestamp | str | None = None  # "now": the clock's time
    max_age_hours: float = 2.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fallback) - set(CHECKS))
        if unknown:
            raise LoadForecastError(f"fallback {unknown}: no such check; the checks are {CHECKS}")
        if self.flat_hours < 2:
            raise LoadForecastError(f"flat_hours = {self.flat_hours}: at least 2 hours")


def local_checks(checks: ReadingChecks, zone: str) -> ReadingChecks:
    """`checks` with its issue time as naive local time of `zone`."""
    if checks.issued_at is None:
        return checks
    issued = pd.Timestamp.now(tz="UTC") if checks.issued_at == "now" else checks.issued_at
    local = to_local_time(pd.Series([issued]), zone, lambda _: "the issue time").iloc[0]
    return replace(checks, issued_at=local)


def guards(windows: Windows, levels: Sequence[float]) -> dict[str, Guard]:
    """Each region's `Guard`, from the loads of its training labels (every label has the hour
    before it and the same hour last week in its series)."""
    train = windows.split("train")
    found = {}
    for region, part in train.groupby("region", sort=False):
        rows = part["label_row"].to_numpy()
        names = np.full(len(rows), region)

        def load(at: np.ndarray, names: np.ndarray = names) -> np.ndarray:
            return unscale_load(windows.series[at, LOAD_COLUMN], names, windows.scalers)

        now = load(rows)
        jump = np.percentile(np.abs(now - load(rows - 1)), JUMP_PERCENTILE)
        weekly = np.quantile(now - load(rows - 168), list(levels))
        found[region] = Guard(float(JUMP_FACTOR * jump), tuple(map(float, weekly)))
    return found


def failed_checks(
    hourly: pd.Series,
    latest: pd.Timestamp,
    missing_known: dict[str, pd.DatetimeIndex],
    ahead: pd.DatetimeIndex,
    region: str,
    guard: Guard | None,
    checks: ReadingChecks,
) -> dict[str, str]:
    """Each failed check of one region -> one line saying what failed: `hourly` its hourly
    loads (MW, local time), `latest` its latest reading's time, `missing_known` the hours of
    `ahead` (the hours to forecast) each known covariate lacks."""
    failed = {}
    tail = hourly.tail(checks.flat_hours)
    if len(tail) == checks.flat_hours and tail.nunique() == 1:
        failed["flat_line"] = (
            f"region {region!r}: load_mw is {tail.iloc[-1]:g} MW at every hour from "
            f"{tail.index[0]} to {tail.index[-1]} ({checks.flat_hours} hours): a stuck meter?"
        )
    if guard is not None and len(hourly) >= 2 and hourly.index[-1] - hourly.index[-2] == HOUR:
        before, last = float(hourly.iloc[-2]), float(hourly.iloc[-1])
        if abs(last - before) > guard.jump_mw:
            failed["jump"] = (
                f"region {region!r}: the load went from {before:.0f} MW at {hourly.index[-2]} "
                f"to {last:.0f} MW at {hourly.index[-1]}, {abs(last - before):.0f} MW in an "
                f"hour; the limit is {guard.jump_mw:.0f} MW ({JUMP_FACTOR:g} x the "
                f"{JUMP_PERCENTILE:g}th percentile of its hour-to-hour changes in training)"
            )
    if checks.issued_at is not None:
        age = (checks.issued_at - latest) / HOUR
        if age > checks.max_age_hours:
            failed["stale"] = (
                f"region {region!r}: the latest reading is at {latest}, {age:g} hours before "
                f"the issue time {checks.issued_at}; at most {checks.max_age_hours:g} allowed"
            )
    for name, hours in missing_known.items():
        if len(hours):
            more = f" and {len(hours) - 1} more to {hours[-1]}" if len(hours) > 1 else ""
            failed["missing_covariate"] = (
                f"region {region!r}: known covariate {name!r} is missing for {hours[0]} (hour "
                f"{ahead.get_loc(hours[0]) + 1} of the {len(ahead)} ahead){more}; give its value "
                "for every hour ahead, in rows after the latest reading with load_mw empty"
            )
    return failed


def same_hour_last_week(
    hourly: pd.Series, first: pd.Timestamp, hours: int, guard: Guard | None, region: str
) -> np.ndarray:
    """The fallback forecast (hours, levels) in MW of the `hours` hours from `first`: the load
    of the same hour a week before plus each level's error quantile."""
    if guard is None:
        raise LoadForecastError(
            f"region {region!r}: this forecaster was saved without the errors of its fallback; "
            "train it again to forecast from the same hour last week"
        )
    wanted = pd.date_range(first, periods=hours, freq="h") - WEEK
    week = hourly.reindex(wanted)
    if week.isna().any():
        gap = week.index[week.isna().to_numpy()]
        raise LoadForecastError(
            f"region {region!r}: the fallback needs the loads a week before each hour ahead; "
            f"there is none for {len(gap)} hours, {gap[0]} to {gap[-1]}"
        )
    return week.to_numpy()[:, None] + np.asarray(guard.weekly_error_mw)[None, :]
