"""Calendar features: the study's (hour, day of week, month, day of year) per hourly row.

With `features.cyclic`, sin/cos encodings are added so that 23:00 sits next to 00:00 and
31 December next to 1 January. With `features.holidays`, a 0/1 flag marks US federal holidays
(pandas' calendar), on which load follows a Sunday-like profile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

# Calendar feature (the study's names) -> (pandas accessor, first value, period of its cycle).
CALENDAR = {
    "hour": ("hour", 0, 24.0),
    "dayofweek": ("day_of_week", 0, 7.0),
    "month": ("month", 1, 12.0),
    "dayofyear": ("day_of_year", 1, 365.25),
}


def add_time_features(frame: pd.DataFrame, cyclic: bool, holidays: bool = False) -> pd.DataFrame:
    """Return `frame` with calendar features of its `timestamp` column appended."""
    stamps = frame["timestamp"].dt
    out = frame.copy()
    for name, (accessor, _, _) in CALENDAR.items():
        out[name] = getattr(stamps, accessor).astype(np.int16)
    if cyclic:
        for name, (_, first, period) in CALENDAR.items():
            angle = (2 * np.pi / period) * (out[name].to_numpy(dtype=np.float64) - first)
            out[f"{name}_sin"] = np.sin(angle).astype(np.float32)
            out[f"{name}_cos"] = np.cos(angle).astype(np.float32)
    if holidays:
        days = stamps.normalize()
        dates = USFederalHolidayCalendar().holidays(days.min(), days.max())
        out["holiday"] = days.isin(dates).astype(np.int8)
    return out
