"""Covariates (`data.covariates`): a known one is read for the hour being forecast and lifts the
day-ahead accuracy when the load follows it; an observed one is never read past the latest
reading (its later values poisoned with NaN change nothing); and every mistake is named."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast.baselines import fit_gradient_boosting, multi_hour
from loadforecast.calendar import add_time_features
from loadforecast.cleaning import clean_readings
from loadforecast.config import ColumnsParams, ConfigError, ReadingsParams, validated
from loadforecast.dayahead import HOURS, issue_origins, score_days
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster, Recipe, network_forecasts
from loadforecast.model import RNNForecaster
from loadforecast.readings import recent_readings
from loadforecast.tables import read_table
from loadforecast.training import model_config, train_model
from loadforecast.windows import Windows, build_windows, gather
from tests.conftest import multi_horizon_config
from tests.synthetic import POLICY, SMALL_TRAINING, calendar, window_params

CALENDAR = calendar(holidays=None)
COLUMNS = ColumnsParams(series="area", timestamp="time", load="mw")


def readings_params(covariates: dict[str, str]) -> ReadingsParams:
    return ReadingsParams(
        format="table",
        columns=COLUMNS,
        timezone="Europe/Berlin",
        frequency="auto",
        covariates=covariates,
    )


def weather_driven(days: int = 150, seed: int = 0) -> pd.DataFrame:
    """One region's hourly load driven by a temperature whose swings last a few days (so that
    a day ahead they cannot be read from the load), with the temperature beside it."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2021-01-01", periods=24 * days, freq="h")
    anomaly = np.zeros(len(stamps))
    for t in range(1, len(stamps)):  # AR(1) with a time constant of about two days
        anomaly[t] = 0.98 * anomaly[t - 1] + rng.normal(0, 1.0)
    daily = 4 * np.sin(2 * np.pi * (stamps.hour.to_numpy() - 9) / 24)
    temperature = 10 + daily + anomaly
    profile = 1 + 0.15 * np.sin(2 * np.pi * (stamps.hour.to_numpy() - 6) / 24)
    load = 1000 * profile + 25 * anomaly + rng.normal(0, 5, len(stamps))
    return pd.DataFrame(
        {"region": "AAA", "timestamp": stamps, "load_mw": load, "temperature": temperature}
    )


def windows_of(frame: pd.DataFrame, covariates: dict[str, str]) -> Windows:
    frame = add_time_features(frame, CALENDAR)
    if not covariates:
        frame = frame.drop(columns="temperature")
    params = window_params(48, 0.15, 0.15, (24, 168), True, 168)
    return build_windows(frame, params, covariates)[0]


def untrained(windows: Windows, seed: int = 0) -> RNNForecaster:
    torch.manual_seed(seed)
    return RNNForecaster(multi_horizon_config(windows)).eval()


def test_covariates_come_last_and_each_is_read_at_its_own_hour() -> None:
    windows = windows_of(weather_driven(30), {"temperature": "known"})
    assert windows.features[0] == "load_mw" and windows.features[-1] == "temperature"
    rows = torch.tensor(windows.split("train")["label_row"].to_numpy()[:5])
    series = torch.from_numpy(windows.series)
    inputs, _ = gather(series, rows, windows.spec)
    temperature = windows.spec.channels(windows.features).index("temperature")
    column = windows.features.index("temperature")
    assert torch.equal(inputs[:, -1, temperature], series[rows, column])  # the hour forecast
    windows = windows_of(weather_driven(30), {"temperature": "observed"})
    inputs, _ = gather(series, rows, windows.spec)
    assert torch.equal(inputs[:, -1, temperature], series[rows - 1, column])  # the last reading


def test_an_observed_covariate_poisoned_after_each_origin_changes_no_forecast() -> None:
    windows = windows_of(weather_driven(60), {"temperature": "observed"})
    column = windows.features.index("temperature")
    model = untrained(windows)
    gbm = {"gradient_boosting": fit_gradient_boosting(windows, seed=0)}
    origins = issue_origins(windows)
    hours = windows.split("test")["label_row"].to_numpy()[:3]
    for origin in [*origins["label_row"].to_numpy()[:3], *hours]:  # each origin in turn
        poisoned = windows.series.copy()
        poisoned[origin:, column] = np.nan  # its hour and every later one
        forecasts = []
        for series in (windows.series, poisoned):
            tensor, label = torch.from_numpy(series.copy()), torch.tensor([origin])
            forecast = [network_forecasts([model], tensor, label, windows.spec, HOURS)]
            if origin in origins["label_row"].to_numpy():
                alone = origins[origins["label_row"] == origin]
                days = multi_hour(gbm, replace(windows, series=series), alone, HOURS)
                forecast.append(days["gradient_boosting"])
            forecasts.append(forecast)
        for clean, again in zip(*forecasts, strict=True):
            assert np.isfinite(again).all()
            np.testing.assert_array_equal(again, clean)
    assert len(forecasts[0]) == 1  # the last origins were not issue times


def test_each_hour_ahead_reads_the_known_covariate_of_its_own_hour_only() -> None:
    """The decoder's hour k reads the known temperature of hour k: changing it changes the
    forecast of that hour and of no other (the load itself is learnt in the slow test below)."""
    windows = windows_of(weather_driven(40), {"temperature": "known"})
    column = windows.features.index("temperature")
    model = untrained(windows)
    origin = int(windows.split("test")["label_row"].iloc[0])
    clean = network_forecasts([model], torch.from_numpy(windows.series), torch.tensor([origin]),
                          windows.spec, HOURS)[0, 0]  # fmt: skip
    for hour in (1, 10, 23):  # 0-based hours ahead
        warmer = windows.series.copy()
        warmer[origin + hour, column] += 0.5
        got = network_forecasts([model], torch.from_numpy(warmer), torch.tensor([origin]),
                            windows.spec, HOURS)[0, 0]  # fmt: skip
        changed = np.flatnonzero(np.abs(got - clean).max(axis=1) > 0)
        assert changed.tolist() == [hour], hour


def day_ahead_smape(covariates: dict[str, str]) -> float:
    windows = windows_of(weather_driven(), covariates)
    params = SMALL_TRAINING.changed(
        objective="multi_horizon", chunk_hours=96, burn_in_hours=24, hidden_size=16, epochs=4,
        batch_size=16, lr=0.01, loss="l1", min_steps=1000, horizon_hours=38,
        context_size=4, decoder_size=16,
    )  # fmt: skip
    model, _ = train_model(
        windows,
        model_config("gru", windows, params),
        params,
        0,
        torch.device("cpu"),
        progress_bar=False,
    )
    origins = issue_origins(windows)
    series = torch.from_numpy(windows.series)
    at = torch.from_numpy(origins["label_row"].to_numpy())
    scaled = {"gru": network_forecasts([model.eval()], series, at, windows.spec, HOURS)[0]}
    levels = {"gru": model.config.quantiles}
    return score_days(windows, origins, scaled, levels=levels)["gru"]["smape_day"]


@pytest.mark.slow
def test_a_known_temperature_that_drives_the_load_improves_the_day_ahead_forecast() -> None:
    without = day_ahead_smape({})
    known = day_ahead_smape({"temperature": "known"})
    assert known < 0.7 * without, (known, without)


def test_the_fitted_baseline_reads_a_known_temperature_too() -> None:
    scores = {}
    for covariates in ({}, {"temperature": "known"}):
        windows = windows_of(weather_driven(), covariates)
        gbm = {"gbm": fit_gradient_boosting(windows, seed=0)}
        origins = issue_origins(windows)
        days = multi_hour(gbm, windows, origins, HOURS)
        scores[len(covariates)] = score_days(windows, origins, days)
    assert scores[1]["gbm"]["smape_day"] < 0.7 * scores[0]["gbm"]["smape_day"]


@pytest.fixture(scope="module")
def forecaster() -> tuple[Windows, Forecaster]:
    covariates = {"temperature": "known", "humidity": "observed"}
    frame = weather_driven(40).assign(humidity=lambda f: 50 + f["temperature"])
    windows = windows_of(frame, covariates)
    model = untrained(windows)
    readings = readings_params({**covariates, "note": "ignored"})
    recipe = Recipe.for_windows("gru", model.config, windows, POLICY, CALENDAR, readings)
    return windows, Forecaster(recipe, [model.state_dict()], [0])


def request(windows: Windows, hours: int) -> pd.DataFrame:
    """Recent readings with both covariates, then `hours` rows ahead with the known one."""
    recent = recent_readings(windows, 220)
    recent = recent[recent["load_mw"].notna()]
    ahead = pd.DataFrame(
        {
            "region": "AAA",
            "timestamp": pd.date_range(
                recent["timestamp"].iloc[-1] + pd.Timedelta(hours=1), periods=hours, freq="h"
            ),
            "load_mw": np.nan,
            "temperature": np.linspace(5, 15, hours),
            "humidity": np.nan,
        }
    )
    return pd.concat([recent, ahead], ignore_index=True)


def test_a_forecast_reads_the_known_covariate_of_every_hour_ahead(forecaster) -> None:
    windows, model = forecaster
    readings = request(windows, HOURS)
    out = model.forecast(readings, hours=HOURS)
    assert len(out) == HOURS and np.isfinite(out["forecast_mw"]).all()
    warmer = readings.assign(
        temperature=readings["temperature"].where(readings["load_mw"].notna(), 40.0)
    )
    assert not np.allclose(model.forecast(warmer, hours=HOURS)["forecast_mw"], out["forecast_mw"])
    example = recent_readings(windows, 220)  # what the MLflow model logs as its input example
    assert example["load_mw"].isna().sum() == 1 and len(model.forecast(example)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.iloc[:-1], r"known covariate 'temperature' is missing for .* \(hour 24 of"),
        (lambda r: r.drop(columns="humidity"), r"missing column\(s\) \['humidity'\]"),
        (lambda r: r.assign(wind=1.0), r"column\(s\) \['wind'\] are not inputs of this model"),
        (
            lambda r: r.assign(load_mw=r["load_mw"].where(r.index != 10)),
            r"row 10: load_mw is empty at .*, not after the region's latest reading",
        ),
        (
            lambda r: r.assign(humidity=r["humidity"].where(r["load_mw"].isna() | (r.index < 219))),
            r"the latest reading \(.*\) has no humidity",
        ),
    ],
)
def test_a_bad_forecast_request_is_named(forecaster, change, message) -> None:
    windows, model = forecaster
    with pytest.raises(LoadForecastError, match=message):
        model.forecast(change(request(windows, HOURS)), hours=HOURS)


def test_a_missing_covariate_hour_is_a_gap_like_a_missing_load() -> None:
    frame = weather_driven(10).drop(columns="region")
    frame.loc[[50, 100, 101, 102, 103, 104], "temperature"] = np.nan
    table, report = clean_readings(frame, POLICY)
    assert report["covariate_gaps"] == 6 and report["hours_filled"] == 1
    assert report["gaps_split"] == 1 and report["hours_left_out"] == 5
    assert table.notna().all().all() and len(table) == len(frame) - 5
    assert table["temperature"].iloc[50] == pytest.approx(frame["temperature"].iloc[49:52:2].mean())


def write(tmp_path, frame: pd.DataFrame):
    path = tmp_path / "readings.csv"
    frame.rename(columns={"region": "area", "timestamp": "time", "load_mw": "mw"}).to_csv(
        path, index=False
    )
    return path


def test_a_table_reads_its_declared_covariates_and_refuses_any_other_column(tmp_path) -> None:
    frame = weather_driven(3).assign(note="x")
    path = write(tmp_path, frame)
    table = read_table(path, readings_params({"temperature": "observed", "note": "ignored"}))
    assert list(table.columns) == ["region", "timestamp", "load_mw", "temperature"]
    np.testing.assert_allclose(table["temperature"], frame["temperature"])
    with pytest.raises(LoadForecastError, match=r"column\(s\) \['note'\] are not declared"):
        read_table(path, readings_params({"temperature": "known"}))
    with pytest.raises(LoadForecastError, match=r"no column 'wind', declared a known covariate"):
        read_table(
            path, readings_params({"wind": "known", "note": "ignored", "temperature": "known"})
        )
    frame["temperature"] = frame["temperature"].astype(object)
    frame.loc[5, "temperature"] = "warm"
    with pytest.raises(LoadForecastError, match=r"readings.csv, line 7: temperature = 'warm' is"):
        read_table(
            write(tmp_path, frame), readings_params({"temperature": "known", "note": "ignored"})
        )


@pytest.mark.parametrize(
    ("covariates", "fmt", "message"),
    [
        ({"temperature": "forecast"}, "table", r"data.covariates.temperature = 'forecast'"),
        ({"temperature": "known"}, "pjm", r"PJM's files hold the load only"),
        ({"hour": "known"}, "table", r"'hour' is already the series, timestamp or load column"),
        ({"mw": "observed"}, "table", r"'mw' is already the series"),
    ],
)
def test_a_bad_covariate_declaration_is_named(covariates, fmt, message) -> None:
    raw = readings_params({}).model_dump() | {"covariates": covariates, "format": fmt}
    with pytest.raises(ConfigError, match=message):
        validated(ReadingsParams, raw, "params.yaml", "data.")


def test_the_command_forecasts_from_a_table_that_carries_the_hours_ahead(
    forecaster, tmp_path, capsys
):
    from loadforecast.cli import main

    windows, model = forecaster
    model.save(tmp_path / "model.pt")
    readings = request(windows, 6)
    export = readings.rename(columns={"region": "area", "timestamp": "time", "load_mw": "mw"})
    export.assign(note="ignored").to_csv(tmp_path / "recent.csv", index=False)  # empty cells
    out = tmp_path / "forecast.csv"
    main(["forecast", str(tmp_path / "model.pt"), str(tmp_path / "recent.csv"), "--hours", "6",
          "--output", str(out)])  # fmt: skip
    got = pd.read_csv(out)
    np.testing.assert_allclose(
        got["forecast_mw"], model.forecast(readings, hours=6)["forecast_mw"], rtol=1e-6
    )
    with pytest.raises(SystemExit):  # the seventh hour has no temperature
        main(["forecast", str(tmp_path / "model.pt"), str(tmp_path / "recent.csv"), "--hours",
              "7", "--output", str(out)])  # fmt: skip
    assert "known covariate 'temperature' is missing for" in capsys.readouterr().err


def test_the_mlflow_model_takes_the_covariates_and_the_hours_ahead(forecaster, tmp_path):
    import mlflow
    from mlflow.exceptions import MlflowException

    from loadforecast.tracking import pyfunc

    windows, model = forecaster
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        artifacts = (tmp_path / "artifacts").as_uri()
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("covariates", artifacts))
        with mlflow.start_run():
            info = pyfunc.log_model(model, recent_readings(windows, 220))
        inputs = [c["name"] for c in info.signature.inputs.to_dict()]
        assert inputs == ["region", "timestamp", "load_mw", "temperature", "humidity"]
        served = mlflow.pyfunc.load_model(info.model_uri)
        readings = request(windows, HOURS)
        got = served.predict(readings, params={"hours": HOURS})
        expected = model.forecast(readings, hours=HOURS)
        np.testing.assert_allclose(got["forecast_mw"], expected["forecast_mw"], rtol=1e-6)
        with pytest.raises(MlflowException, match=r"known covariate 'temperature' is missing"):
            served.predict(readings.iloc[:-1], params={"hours": HOURS})
    finally:
        mlflow.set_tracking_uri(None)


def test_degree_hours_are_computed_from_the_readings_as_from_the_table() -> None:
    """`features.degree_hours`: the degrees above and below the base of a known temperature are
    calendar channels computed for every hour, the hours ahead included, from the readings' own
    temperature, so the forecast from readings is the forecast from the windows."""
    heated = CALENDAR.changed(degree_hours={"temperature": 10.0})
    frame = add_time_features(weather_driven(40), heated)
    params = window_params(48, 0.15, 0.15, (24, 168), True, 168)
    windows = build_windows(frame, params, {"temperature": "known"})[0]
    for side in ("cooling", "heating"):
        assert (frame[f"temperature_{side}"] > 0).mean() > 0.2  # both sides of the base occur
        assert f"temperature_{side}" in windows.features
    model = untrained(windows)
    readings = readings_params({"temperature": "known"})
    recipe = Recipe.for_windows("gru", model.config, windows, POLICY, heated, readings)
    got = Forecaster(recipe, [model.state_dict()], [0]).forecast(
        recent_readings(windows, windows.spec.reach, HOURS), HOURS
    )
    index = windows.index
    origin = index.loc[index["label_time"] == got["timestamp"].iloc[0], "label_row"]
    series, rows = torch.from_numpy(windows.series), torch.tensor(origin.to_numpy())
    scaled = network_forecasts([model], series, rows, windows.spec, HOURS)[0, 0]
    median = windows.unscale_load(scaled[:, model.config.median], np.full(HOURS, "AAA"))
    np.testing.assert_allclose(got["forecast_mw"], median, rtol=1e-5)
