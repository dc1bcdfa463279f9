"""Real readings doctored the way meters fail (stuck, spike, drop-out, stale, a missing
temperature), through the command and the MLflow model, each refused and each forecast from the
fallback: DUQ's last year of PJM readings and the utility's year with its temperature, the
limits learnt on their own training parts (the networks untrained: the checks come first)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import torch

from benchmarks.single_series import UTILITY, UTILITY_CALENDAR, hourly_table
from loadforecast.calendar import add_time_features
from loadforecast.checks import ReadingChecks, guards
from loadforecast.cli import main
from loadforecast.data import PJM_READINGS, read_readings, region_file
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster, Recipe
from loadforecast.model import RNNForecaster
from loadforecast.readings import HOUR
from loadforecast.settings import load_params
from loadforecast.training import model_config
from loadforecast.windows import build_windows
from tests import REPO

SHARED = REPO.parent / "shared" / "data"
DUQ = region_file(SHARED / "pjm-hourly", "DUQ")
UTILITY_FILE = SHARED / "utility-year" / "demand_temperature.csv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(DUQ is None or not UTILITY_FILE.is_file(), reason="no real data"),
]


def forecaster_of(raw: pd.DataFrame, readings, calendar, covariates) -> Forecaster:
    """An untrained default GRU with the limits of `raw`'s last year (the default split)."""
    params = load_params(REPO / "params.yaml")
    table = hourly_table(raw, params, readings.frequency).tail(8760)
    windows, _ = build_windows(add_time_features(table, calendar), params.window, covariates)
    config = model_config("gru", windows, params.train)
    torch.manual_seed(0)
    state = RNNForecaster(config).state_dict()
    recipe = Recipe.for_windows("gru", config, windows, params.ingest, calendar, readings)
    return Forecaster(recipe, [state], [0], guards=guards(windows, config.levels))


@pytest.fixture(scope="module")
def duq() -> tuple[Forecaster, pd.DataFrame]:
    raw = read_readings([DUQ], PJM_READINGS)
    calendar = load_params(REPO / "params.yaml").features
    recent = raw.sort_values("timestamp").tail(400).reset_index(drop=True)
    return forecaster_of(raw, PJM_READINGS, calendar, {}), recent


def write_raw(frame: pd.DataFrame, path) -> str:
    frame.rename(columns={"timestamp": "Datetime", "load_mw": "DUQ_MW"}).drop(
        columns="region"
    ).to_csv(path, index=False)
    return str(path)


def stuck(frame):
    frame = frame.copy()
    frame.loc[frame.index[-30:], "load_mw"] = frame["load_mw"].iloc[-30]
    return frame


def spike(frame):
    frame = frame.copy()
    frame.loc[frame.index[-1], "load_mw"] = 1.4 * frame["load_mw"].iloc[-2]
    return frame


def dropped_out(frame):
    return frame.iloc[:-6]  # the meter stopped six hours ago


DOCTORED = [
    (stuck, [], "flat_line", r"load_mw is \d+ MW at every hour from .* \(24 hours\)"),
    (spike, [], "jump", r"the load went from \d+ MW at .* to \d+ MW at .*; the limit is \d+ MW"),
    (dropped_out, ["--issued-at", "LAST"], "stale", r"6 hours before the issue time"),
]


@pytest.mark.parametrize(("doctor", "options", "check", "message"), DOCTORED)
def test_the_command_refuses_doctored_readings_or_falls_back(
    duq, doctor, options, check, message, tmp_path, capsys
):
    forecaster, recent = duq
    forecaster.save(tmp_path / "gru.pt")
    options = [str(recent["timestamp"].iloc[-1]) if o == "LAST" else o for o in options]
    assert forecaster.forecast(recent, 24)["quality"].eq("ok").all()  # as they came
    path = write_raw(doctor(recent), tmp_path / "DUQ_hourly.csv")
    output = tmp_path / "forecast.csv"
    command = ["forecast", str(tmp_path / "gru.pt"), path, "--output", str(output), *options]
    with pytest.raises(SystemExit) as status:
        main([*command, "--hours", "24"])
    assert status.value.code == 1 and not output.exists()
    assert re.search(message, capsys.readouterr().err)
    main([*command, "--hours", "24", "--fallback", check])
    table = pd.read_csv(output, parse_dates=["timestamp"])
    assert table["quality"].eq(f"fallback: {check}").all() and len(table) == 24
    assert (table["p10"] < table["p50"]).all() and (table["p50"] < table["p90"]).all()
    week = doctor(recent).set_index("timestamp")["load_mw"]
    median = week.reindex(table["timestamp"] - 168 * HOUR).to_numpy()
    median = median + forecaster.guards["DUQ"].weekly_error_mw[1]
    assert table["p50"].to_numpy() == pytest.approx(median, rel=1e-6)


def test_the_mlflow_model_refuses_a_spike_or_falls_back(duq, tmp_path) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from loadforecast.tracking import pyfunc
    from tests.tiny_project import tracking_store

    forecaster, recent = duq
    with tracking_store(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("t", tmp_path.as_uri()))
        with mlflow.start_run():
            info = pyfunc.log_model(forecaster, recent)
        model = mlflow.pyfunc.load_model(info.model_uri)
        with pytest.raises(MlflowException, match=r"region 'DUQ': the load went from"):
            model.predict(spike(recent))
        table = model.predict(spike(recent), params={"fallback": "jump", "hours": 24})
        assert table["quality"].eq("fallback: jump").all()


def test_a_missing_temperature_forecast_is_refused_or_falls_back() -> None:
    raw = read_readings([UTILITY_FILE], UTILITY)
    readings = UTILITY.changed(covariates={"temp_c": "known", "workday": "ignored"})
    calendar = load_params(REPO / "params.yaml").features.changed(**UTILITY_CALENDAR)
    forecaster = forecaster_of(raw, readings, calendar, {"temp_c": "known"})
    recent = raw.sort_values("timestamp").tail(600).reset_index(drop=True)
    latest = recent["timestamp"].iloc[-49]  # the last 48 half hours: the next 24 hours ahead
    ahead = recent["timestamp"] > latest
    request = recent.assign(load_mw=recent["load_mw"].where(~ahead))
    assert forecaster.forecast(request, 24)["quality"].eq("ok").all()
    gap = request.drop(request.index[ahead].to_numpy()[-10:])  # the temperature of 5 hours
    with pytest.raises(
        LoadForecastError,
        match=r"region 'VIC': known covariate 'temp_c' is missing for .* \(hour 20 of the 24 "
        r"ahead\) and 4 more to ",
    ):
        forecaster.forecast(gap, 24)
    checks = ReadingChecks(frozenset({"missing_covariate"}))
    table = forecaster.forecast(gap, 24, checks=checks)
    assert table["quality"].eq("fallback: missing_covariate").all()
