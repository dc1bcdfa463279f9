"""Readings checked before a forecast trusts them: each way meters fail refused with one line
that names the region, the hours and the values, or forecast from the same hour last week and
flagged in `quality`; limits learnt on the training part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loadforecast.checks import JUMP_FACTOR, ReadingChecks, guards
from loadforecast.cli import main
from loadforecast.errors import LoadForecastError
from loadforecast.scaling import LOAD_COLUMN, unscale_load
from tests.conftest import HORIZONS, LEVELS
from tests.synthetic import readings

FALL_BACK = ReadingChecks(fallback=frozenset({"flat_line", "jump", "stale"}))


@pytest.fixture(scope="module")
def recent() -> pd.DataFrame:
    return readings().groupby("region").tail(400).reset_index(drop=True)


def last_rows(frame: pd.DataFrame, region: str, hours: int) -> pd.Index:
    return frame[frame["region"] == region].tail(hours).index


def test_the_limits_are_learnt_on_each_regions_training_part(untrained_gru) -> None:
    windows = untrained_gru.windows
    limits = guards(windows, LEVELS)
    train = windows.split("train")
    rows = train.loc[train["region"] == "AAA", "label_row"].to_numpy()
    load = unscale_load(
        windows.series[:, LOAD_COLUMN], np.full(len(windows.series), "AAA"), windows.scalers
    )
    changes = np.abs(load[rows] - load[rows - 1])
    assert limits["AAA"].jump_mw == pytest.approx(JUMP_FACTOR * np.percentile(changes, 99.9))
    assert changes.max() < limits["AAA"].jump_mw  # what the series did never trips it
    weekly = np.quantile(load[rows] - load[rows - 168], LEVELS)
    np.testing.assert_allclose(limits["AAA"].weekly_error_mw, weekly)
    assert set(limits) == {"AAA", "BBB"}


def test_readings_as_they_come_are_forecast_by_the_network(untrained_gru, recent) -> None:
    table = untrained_gru.forecaster.forecast(recent, 24, checks=FALL_BACK)
    assert (table["quality"] == "ok").all()


def test_a_stuck_meter_is_refused_or_forecast_from_the_same_hour_last_week(untrained_gru, recent):
    forecaster = untrained_gru.forecaster
    stuck = recent.copy()
    stuck.loc[last_rows(stuck, "AAA", 30), "load_mw"] = 1234.0
    with pytest.raises(LoadForecastError) as refused:
        forecaster.forecast(stuck, 24)
    first = stuck.loc[last_rows(stuck, "AAA", 24)[0], "timestamp"]
    assert str(refused.value) == (
        f"region 'AAA': load_mw is 1234 MW at every hour from {first} to "
        f"{stuck['timestamp'][stuck['region'] == 'AAA'].max()} (24 hours): a stuck meter?"
    )
    table = forecaster.forecast(stuck, 24, checks=FALL_BACK)
    aaa = table[table["region"] == "AAA"]
    assert (aaa["quality"] == "fallback: flat_line").all()
    assert (table.loc[table["region"] == "BBB", "quality"] == "ok").all()
    # the same hour a week before, plus the error quantiles of that forecast in training
    week = stuck[stuck["region"] == "AAA"].set_index("timestamp")["load_mw"]
    before = week.reindex(aaa["timestamp"] - pd.Timedelta(hours=168)).to_numpy()
    errors = forecaster.guards["AAA"].weekly_error_mw
    np.testing.assert_allclose(aaa["p50"], before + errors[1], rtol=1e-6)
    np.testing.assert_allclose(aaa["p90"], before + errors[2], rtol=1e-6)
    assert (aaa["p10"] < aaa["p50"]).all() and (aaa["p50"] < aaa["p90"]).all()
    assert list(table["region"].unique()) == ["AAA", "BBB"]  # in the readings' order


def test_a_spike_beyond_what_the_series_did_is_refused_or_falls_back(untrained_gru, recent):
    forecaster = untrained_gru.forecaster
    spiked = recent.copy()
    last = last_rows(spiked, "BBB", 2)
    spiked.loc[last[1], "load_mw"] = 1.4 * spiked.loc[last[0], "load_mw"]
    limit = forecaster.guards["BBB"].jump_mw
    with pytest.raises(
        LoadForecastError,
        match=rf"region 'BBB': the load went from \d+ MW at "
        rf".* to \d+ MW at .*; the limit is {limit:.0f} MW",
    ):
        forecaster.forecast(spiked, 1)
    table = forecaster.forecast(spiked, 1, checks=FALL_BACK)
    assert table.set_index("region")["quality"].to_dict() == {"AAA": "ok", "BBB": "fallback: jump"}


def test_readings_older_than_the_issue_time_allows_are_stale(untrained_gru, recent) -> None:
    forecaster = untrained_gru.forecaster
    latest = recent["timestamp"].max()
    fresh = ReadingChecks(issued_at=latest + pd.Timedelta(hours=2))
    assert (forecaster.forecast(recent, 1, checks=fresh)["quality"] == "ok").all()
    late = ReadingChecks(issued_at=str(latest + pd.Timedelta(hours=5)))
    with pytest.raises(
        LoadForecastError,
        match=rf"region 'AAA': the latest reading is at "
        rf"{latest}, 5 hours before the issue time .*; at most 2 allowed",
    ):
        forecaster.forecast(recent, 1, checks=late)
    table = forecaster.forecast(recent, 1, checks=ReadingChecks(frozenset({"stale"}), 24, "now"))
    assert (table["quality"] == "fallback: stale").all()


def test_an_unknown_check_or_too_short_a_flat_line_is_refused() -> None:
    with pytest.raises(LoadForecastError, match=r"fallback \['spike'\]: no such check"):
        ReadingChecks(frozenset({"spike"}))
    with pytest.raises(LoadForecastError, match=r"flat_hours = 1: at least 2"):
        ReadingChecks(flat_hours=1)


def test_the_command_refuses_or_falls_back_as_asked(untrained_gru, recent, tmp_path, capsys):
    forecaster = untrained_gru.forecaster
    forecaster.save(tmp_path / "gru.pt")
    stuck = recent.copy()
    stuck.loc[last_rows(stuck, "AAA", 30), "load_mw"] = 1234.0
    paths = []
    for region, rows in stuck.groupby("region"):
        path = tmp_path / f"{region}_hourly.csv"
        rows.rename(columns={"timestamp": "Datetime", "load_mw": f"{region}_MW"}).drop(
            columns="region"
        ).to_csv(path, index=False)
        paths.append(str(path))
    output = tmp_path / "forecast.csv"
    with pytest.raises(SystemExit) as status:
        main(["forecast", str(tmp_path / "gru.pt"), *paths, "--output", str(output)])
    assert status.value.code == 1 and "a stuck meter?" in capsys.readouterr().err
    assert not output.exists()  # nothing written
    main(
        [
            "forecast",
            str(tmp_path / "gru.pt"),
            *paths,
            "--hours",
            str(HORIZONS),
            "--fallback",
            "flat_line",
            "--output",
            str(output),
        ]
    )
    table = pd.read_csv(output)
    assert table.groupby("region")["quality"].first().to_dict() == {
        "AAA": "fallback: flat_line",
        "BBB": "ok",
    }
