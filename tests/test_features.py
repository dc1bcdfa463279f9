import numpy as np
import pandas as pd
import pytest

from loadforecast.calendar import add_time_features


def frame(*stamps: str) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": pd.to_datetime(list(stamps)), "load_mw": 1.0})


def test_study_calendar_features():
    out = add_time_features(frame("2018-01-01 00:00:00", "2016-12-31 23:00:00"), cyclic=False)
    assert out[["hour", "dayofweek", "month", "dayofyear"]].values.tolist() == [
        [0, 0, 1, 1],  # a Monday
        [23, 5, 12, 366],  # a Saturday in a leap year
    ]
    assert not any(c.endswith(("_sin", "_cos")) for c in out.columns)


def test_cyclic_encoding_puts_the_ends_of_a_cycle_next_to_each_other():
    out = add_time_features(frame("2018-01-01 00:00", "2018-01-01 06:00", "2018-01-01 23:00"), True)
    assert out["hour_sin"].tolist() == pytest.approx(
        [0.0, 1.0, np.sin(2 * np.pi * 23 / 24)], abs=1e-6
    )
    assert out["hour_cos"].tolist() == pytest.approx(
        [1.0, 0.0, np.cos(2 * np.pi * 23 / 24)], abs=1e-6
    )
    assert out["month_sin"].iloc[0] == pytest.approx(0.0)
    assert out["dayofyear_cos"].iloc[0] == pytest.approx(1.0)


def test_input_frame_is_left_alone():
    original = frame("2018-01-01 00:00")
    add_time_features(original, cyclic=True)
    assert list(original.columns) == ["timestamp", "load_mw"]


def test_holidays_are_flagged_by_date():
    out = add_time_features(
        frame("2018-07-04 00:00", "2018-07-04 23:00", "2018-07-05 12:00", "2018-11-22 08:00"),
        cyclic=False,
        holidays=True,
    )
    assert out["holiday"].tolist() == [1, 1, 0, 1]  # Independence Day, Thanksgiving
