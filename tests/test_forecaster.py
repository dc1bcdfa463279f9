"""Forecasting from readings: the same numbers as evaluate's windows (one forecast path), and one
clear error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast.data import PJM_READINGS
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster, network_forecasts
from loadforecast.metrics import predictions_frame
from loadforecast.quantiles import average_seeds, next_hour
from loadforecast.readings import check_readings, model_rows
from tests.synthetic import calendar, load_series, readings

CALENDAR = calendar()


def test_forecasts_equal_evaluate_for_the_same_windows(untrained_gru) -> None:
    windows, models, forecasts = untrained_gru
    test = windows.split("test").groupby("region").nth(list(range(0, 100, 9)))
    series, rows = torch.from_numpy(windows.series), torch.tensor(test["label_row"].to_numpy())
    per_seed = network_forecasts(models, series, rows, windows.spec, 1, 64)
    scaled = next_hour(average_seeds(per_seed), forecasts.recipe.config.median)
    expected = predictions_frame(windows, test, {"gru": scaled})
    assert (test["label_time"].dt.strftime("%m-%d") == "12-25").any()  # a holiday, ahead
    history = readings()
    for _, window in expected.iterrows():
        before = history[history["timestamp"] < window["label_time"]]
        got = forecasts.forecast(before.sample(frac=1.0, random_state=0))  # any order
        row = got.set_index("region").loc[window["region"]]
        assert row["timestamp"] == window["label_time"]
        assert row["forecast_mw"] == pytest.approx(window["gru"], rel=1e-6)
        assert row["model"] == "gru"
    assert set(got["region"]) == {"AAA", "BBB"}


def last_hours(hours: int, region: str = "AAA") -> pd.DataFrame:
    frame = readings()
    return frame[frame["region"] == region].tail(hours)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (last_hours(300).drop(columns="load_mw"), r"missing column\(s\) \['load_mw'\]"),
        (last_hours(300).assign(region="ZZZ"), r"'ZZZ': the model was trained on \['AAA', 'BBB'\]"),
        (last_hours(100), r"'AAA': 100 usable hours of the 191 consecutive hours"),
        (
            last_hours(300).drop(last_hours(300).index[-10:-5]),
            r"'AAA': 186 usable hours of the 191",
        ),
        (
            last_hours(300).assign(load_mw=lambda f: f["load_mw"].where(f.index != f.index[-1], 1)),
            r"'AAA': the load went from \d+ MW at .* to 1 MW at .*, \d+ MW in an hour; the limit",
        ),
        (last_hours(300).assign(load_mw="n/a"), r"row 0: load_mw 'n/a' is not a number"),
        (last_hours(300).assign(timestamp="yesterday"), r"row 0: timestamp 'yesterday' is not a"),
        (last_hours(0), r"readings: no rows"),
    ],
)
def test_bad_readings_get_one_clear_error(untrained_gru, frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(LoadForecastError, match=message):
        untrained_gru.forecaster.forecast(frame)


def test_utc_readings_are_read_as_eastern_time(untrained_gru) -> None:
    local = last_hours(300)
    utc = local.assign(
        timestamp=local["timestamp"].dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    )
    assert untrained_gru.forecaster.forecast(utc).equals(untrained_gru.forecaster.forecast(local))


def test_hours_ahead_cross_the_year_and_a_daylight_saving_change(untrained_gru) -> None:
    """Wall-clock hours, one after another, as the cleaned data counts them (ingest keeps a
    regular 24-hour local day); the hours of New Year's Day carry the holiday flag."""
    forecasts, series = untrained_gru.forecaster, load_series("2018-10-01", 24 * 200, seed=1)
    expected = {  # the last reading: the hours forecast after it
        "2018-11-04 00:00": ["2018-11-04 01:00", "2018-11-04 02:00", "2018-11-04 03:00"],
        "2018-12-31 22:00": ["2018-12-31 23:00", "2019-01-01 00:00", "2019-01-01 01:00"],
        "2019-03-10 00:00": ["2019-03-10 01:00", "2019-03-10 02:00", "2019-03-10 03:00"],
    }  # autumn's 01:00 comes once (ingest merges the repeat); spring's 02:00 is filled
    for end, hours in expected.items():
        history = series[series.index <= end].tail(300)
        readings = pd.DataFrame({"region": "AAA", "timestamp": history.index, "load_mw": history})
        out = forecasts.forecast(readings, hours=3)
        assert list(out["timestamp"]) == list(map(pd.Timestamp, hours)), end
        assert list(out["horizon"]) == [1, 2, 3]
    history = series[series.index <= "2018-12-31 12:00"].tail(300)
    rows, first = model_rows(history.to_frame("load_mw"), "AAA", forecasts.recipe, hours=24)
    holiday = rows[-24:, forecasts.recipe.features.index("holiday")]
    ahead = pd.date_range(first, periods=24, freq="h")
    assert list(holiday) == list((ahead.month == 1) & (ahead.day == 1))


def test_readings_with_offsets_across_a_daylight_saving_change_are_eastern_time() -> None:
    stamps = ["00:00-04:00", "01:00-04:00", "01:00-05:00", "02:00-05:00"]
    frame = pd.DataFrame(
        {"region": "AAA", "timestamp": [f"2018-11-04T{s}" for s in stamps], "load_mw": 1.0}
    )
    local = ["00:00", "01:00", "01:00", "02:00"]  # the repeated hour, as the raw files have it
    assert list(check_readings(frame, PJM_READINGS)["timestamp"]) == [
        pd.Timestamp(f"2018-11-04 {t}") for t in local
    ]


@pytest.mark.parametrize("hours", [0, 41, 2.5])
def test_hours_out_of_range_are_refused(untrained_gru, hours) -> None:
    with pytest.raises(
        LoadForecastError, match=r"hours = .*: this model forecasts between 1 and 40"
    ):
        untrained_gru.forecaster.forecast(last_hours(300), hours=hours)


def test_a_model_without_a_decoder_forecasts_the_next_hour_only(untrained_one_hour_gru) -> None:
    forecaster = untrained_one_hour_gru.forecaster
    assert len(forecaster.forecast(last_hours(300))) == 1  # one region, one hour
    with pytest.raises(LoadForecastError, match=r"hours = 2: this model forecasts between 1 and 1"):
        forecaster.forecast(last_hours(300), hours=2)


def test_quarter_hour_readings_forecast_from_their_last_whole_hour(untrained_gru) -> None:
    forecaster = untrained_gru.forecaster
    hourly = last_hours(300)
    quarters = hourly.loc[hourly.index.repeat(4)].copy()
    quarters["timestamp"] = quarters["timestamp"] + np.tile(
        pd.to_timedelta([0, 15, 30, 45], unit="min"), len(hourly)
    )
    pd.testing.assert_frame_equal(
        forecaster.forecast(quarters, hours=2), forecaster.forecast(hourly, hours=2)
    )
    started = pd.concat(
        [
            quarters,
            quarters.tail(1).assign(timestamp=lambda f: f["timestamp"] + pd.Timedelta(minutes=15)),
        ]
    )
    with pytest.raises(LoadForecastError, match=r"latest hour .* has 1 of its 4 readings"):
        forecaster.forecast(started)


def test_a_model_saved_before_holidays_named_a_country_still_loads(untrained_gru, tmp_path) -> None:
    import torch

    forecaster = untrained_gru.forecaster
    forecaster.save(tmp_path / "model.pt")
    stored = torch.load(tmp_path / "model.pt", weights_only=True)
    stored["recipe"]["calendar"] = {"cyclic": True, "holidays": True}
    del stored["recipe"]["readings"]
    torch.save(stored, tmp_path / "old.pt")
    old = Forecaster.load(tmp_path / "old.pt")
    assert old.recipe.calendar == forecaster.recipe.calendar
    assert old.recipe.readings == forecaster.recipe.readings


def test_degree_hours_are_saved_only_when_there_are_any(untrained_gru, tmp_path) -> None:
    from dataclasses import replace

    forecaster = untrained_gru.forecaster
    forecaster.save(tmp_path / "plain.pt")
    stored = torch.load(tmp_path / "plain.pt", weights_only=True)["recipe"]["calendar"]
    assert "degree_hours" not in stored  # saved as forecasters were before they existed
    assert Forecaster.load(tmp_path / "plain.pt").recipe.calendar.degree_hours == {}
    calendar = forecaster.recipe.calendar.changed(degree_hours={"temp_c": 18.0})
    recipe = replace(forecaster.recipe, calendar=calendar)
    heated = Forecaster(recipe, forecaster.states, forecaster.seeds)
    heated.save(tmp_path / "heated.pt")
    assert Forecaster.load(tmp_path / "heated.pt").recipe.calendar == calendar
