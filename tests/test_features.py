import numpy as np
import pandas as pd
import pytest
import yaml

from loadforecast.calendar import add_time_features
from loadforecast.config import ConfigError, FeaturesParams, validated
from loadforecast.errors import LoadForecastError
from loadforecast.settings import parse_params
from tests import REPO
from tests.synthetic import calendar


def frame(*stamps: str) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": pd.to_datetime(list(stamps)), "load_mw": 1.0})


def test_study_calendar_features():
    out = add_time_features(
        frame("2018-01-01 00:00:00", "2016-12-31 23:00:00"), calendar(False, None)
    )
    assert out[["hour", "dayofweek", "month", "dayofyear"]].values.tolist() == [
        [0, 0, 1, 1],  # a Monday
        [23, 5, 12, 366],  # a Saturday in a leap year
    ]
    assert not any(c.endswith(("_sin", "_cos")) for c in out.columns)
    assert "holiday" not in out


def test_cyclic_encoding_puts_the_ends_of_a_cycle_next_to_each_other():
    out = add_time_features(
        frame("2018-01-01 00:00", "2018-01-01 06:00", "2018-01-01 23:00"), calendar(True, None)
    )
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
    add_time_features(original, calendar())
    assert list(original.columns) == ["timestamp", "load_mw"]


def flagged(settings: FeaturesParams, year: int) -> list[str]:
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31 23:00", freq="h")
    out = add_time_features(pd.DataFrame({"timestamp": days}), settings)
    hours = out.groupby(out["timestamp"].dt.date)["holiday"].agg(["min", "max"])
    assert (hours["min"] == hours["max"]).all()  # a whole day or none of it
    return [str(day) for day in hours.index[hours["max"] == 1]]


def test_the_holidays_of_a_known_year_in_two_countries():
    assert flagged(calendar(holidays="US"), 2022) == [
        "2022-01-01",  # New Year's Day, a Saturday (observed on 31 December 2021)
        "2022-01-17",
        "2022-02-21",
        "2022-05-30",
        "2022-06-19",  # Juneteenth, a Sunday ...
        "2022-06-20",  # ... observed on the Monday
        "2022-07-04",
        "2022-09-05",
        "2022-10-10",
        "2022-11-11",
        "2022-11-24",
        "2022-12-25",
        "2022-12-26",  # Christmas, a Sunday, observed on the Monday
    ]
    assert flagged(calendar(holidays="GB", holiday_subdivision="ENG"), 2022) == [
        "2022-01-01",
        "2022-01-03",
        "2022-04-15",
        "2022-04-18",
        "2022-05-02",
        "2022-06-02",
        "2022-06-03",
        "2022-08-29",
        "2022-09-19",  # the state funeral of Queen Elizabeth II
        "2022-12-25",
        "2022-12-26",
        "2022-12-27",
    ]


def test_a_users_own_days_are_flagged_without_a_country():
    own = calendar(holidays=None, extra_holidays=["2022-11-25", "2022-12-30"])
    assert flagged(own, 2022) == ["2022-11-25", "2022-12-30"]
    with_us = flagged(calendar(holidays="US", extra_holidays=["2022-11-25"]), 2022)
    assert "2022-11-25" in with_us and len(with_us) == 14


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"holidays": "XX"}, "features.holidays = 'XX': not a country of the holidays package"),
        ({"holiday_subdivision": "ZZ"}, "features.holiday_subdivision = 'ZZ'"),
        ({"holidays": None, "holiday_subdivision": "CA"}, "needs a country"),
        ({"extra_holidays": ["24/11/2022"]}, "'24/11/2022' is not a date like 2024-11-29"),
    ],
)
def test_unknown_holiday_settings_are_refused_by_name(settings, message):
    raw = {
        "cyclic": True,
        "holidays": "US",
        "holiday_subdivision": None,
        "extra_holidays": [],
        "degree_hours": {},
    } | settings
    with pytest.raises(ConfigError, match=r"params\.yaml: ") as err:
        validated(FeaturesParams, raw, "params.yaml", "features.")
    assert message in str(err.value)


def test_a_flag_where_a_country_belongs_says_to_quote_it():
    raw = {"cyclic": True, "holidays": False, "holiday_subdivision": None, "extra_holidays": []}
    raw["degree_hours"] = {}
    with pytest.raises(ConfigError, match=r"quoted where YAML would read it as true or false"):
        validated(FeaturesParams, raw, "params.yaml", "features.")


def test_degree_hours_give_both_sides_of_the_base_and_need_a_known_temperature():
    heated = calendar(holidays=None, degree_hours={"temp_c": 18.0})
    temps = pd.DataFrame({"timestamp": pd.date_range("2022-01-01", periods=3, freq="h")})
    out = add_time_features(temps.assign(temp_c=[10.0, 18.0, 25.5]), heated)
    assert out["temp_c_cooling"].tolist() == [0.0, 0.0, 7.5]
    assert out["temp_c_heating"].tolist() == [8.0, 0.0, 0.0]
    with pytest.raises(LoadForecastError, match=r"degree_hours of 'temp_c': no such column"):
        add_time_features(temps, heated)
    heated.check_degree_hours({"temp_c": "known"})
    for covariates, role in (({"temp_c": "observed"}, "observed"), ({}, "not a covariate")):
        with pytest.raises(LoadForecastError, match=rf"degree_hours of \{{'temp_c': '{role}'\}}"):
            heated.check_degree_hours(covariates)


def test_params_refuse_degree_hours_of_a_column_that_is_no_known_covariate():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["features"]["degree_hours"] = {"temp_c": 18}
    with pytest.raises(ConfigError, match=r"features\.degree_hours of \{'temp_c': 'not a cov"):
        parse_params(raw)
