"""Calendar features: the study's (hour, day of week, month, day of year) per hourly row.

With `features.cyclic`, sin/cos encodings are added so that 23:00 sits next to 00:00 and
31 December next to 1 January. With `features.holidays` (a country of the `holidays` package, and
`features.holiday_subdivision`, a state or province of it), a 0/1 flag marks that country's
public holidays, on which load follows a Sunday-like profile: the day itself and, where the
country moves a holiday that falls on a weekend, the day it is observed. `features.extra_holidays`
adds the user's own days (bridge days, a plant's shutdown) as dates. With
`features.degree_hours` (a known temperature covariate -> a base, such as 18 degrees), each hour's
degrees above and below the base are added (`<column>_cooling`, `<column>_heating`): load answers
temperature in a U, and these give a small network both sides of it.
"""

from __future__ import annotations

import datetime

import holidays as holiday_calendars
import numpy as np
import pandas as pd

from loadforecast.config import FeaturesParams
from loadforecast.errors import LoadForecastError

# Calendar feature (the study's names) -> (pandas accessor, first value, period of its cycle).
CALENDAR = {
    "hour": ("hour", 0, 24.0),
    "dayofweek": ("day_of_week", 0, 7.0),
    "month": ("month", 1, 12.0),
    "dayofyear": ("day_of_year", 1, 365.25),
}


def holiday_dates(calendar: FeaturesParams, first: pd.Timestamp, last: pd.Timestamp) -> set:
    """The days flagged as holidays between `first` and `last` (datetime.date)."""
    days = {datetime.date.fromisoformat(day) for day in calendar.extra_holidays}
    if calendar.holidays is not None:
        years = range(first.year, last.year + 1)
        days |= set(
            holiday_calendars.country_holidays(
                calendar.holidays, subdiv=calendar.holiday_subdivision, years=years
            )
        )
    return days


def add_time_features(frame: pd.DataFrame, calendar: FeaturesParams) -> pd.DataFrame:
    """Return `frame` with calendar features of its `timestamp` column (local time) appended."""
    stamps = frame["timestamp"].dt
    out = frame.copy()
    for name, (accessor, _, _) in CALENDAR.items():
        out[name] = getattr(stamps, accessor).astype(np.int16)
    if calendar.cyclic:
        for name, (_, first, period) in CALENDAR.items():
            angle = (2 * np.pi / period) * (out[name].to_numpy(dtype=np.float64) - first)
            out[f"{name}_sin"] = np.sin(angle).astype(np.float32)
            out[f"{name}_cos"] = np.cos(angle).astype(np.float32)
    if calendar.holidays is not None or calendar.extra_holidays:
        days = stamps.normalize()
        dates = holiday_dates(calendar, days.min(), days.max()) if len(out) else set()
        out["holiday"] = days.isin(pd.to_datetime(sorted(dates))).astype(np.int8)
    for column, base in calendar.degree_hours.items():
        if column not in out.columns:
            raise LoadForecastError(
                f"degree_hours of {column!r}: no such column among {list(frame.columns)}"
            )
        temperature = out[column].to_numpy(np.float64)
        out[f"{column}_cooling"] = np.maximum(temperature - base, 0).astype(np.float32)
        out[f"{column}_heating"] = np.maximum(base - temperature, 0).astype(np.float32)
    return out
