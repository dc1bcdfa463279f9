"""The direct multi-horizon quantile forecaster (`train.objective: multi_horizon`): the decoder's
shapes, what each hour ahead reads and never reads, training, and its quantiles through the
forecaster, the command and the MLflow model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster, Recipe, network_forecasts
from loadforecast.model import RNNForecaster
from loadforecast.quantiles import next_hour
from loadforecast.readings import recent_readings
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.training import Sequences, pinball_loss, train_model
from loadforecast.windows import (
    gather,
    gather_horizons,
    horizon_lags,
    reaching_ahead,
)
from tests.conftest import HORIZONS, LEVELS, multi_horizon_config
from tests.synthetic import POLICY, SMALL_TRAINING, readings
from tests.test_covariates import CALENDAR as NO_HOLIDAYS
from tests.test_covariates import readings_params, weather_driven, windows_of


def forecast_horizons(model, series, rows, spec, hours: int | None = None) -> np.ndarray:
    """One network's scaled quantiles (origins, hours, levels): every horizon by default."""
    return network_forecasts([model], series, rows, spec, hours or model.config.horizons)[0]


def one_hour(model, series, rows, spec) -> np.ndarray:
    """One network's scaled forecasts of the next hour (its median)."""
    return next_hour(network_forecasts([model], series, rows, spec, 1, 64), model.config.median)[0]


@pytest.fixture(scope="module")
def forecaster(untrained_gru) -> Forecaster:
    return untrained_gru.forecaster


def test_the_decoder_gives_every_hour_ahead_and_quantile_of_every_position(generated_windows):
    windows = generated_windows
    model = RNNForecaster(multi_horizon_config(windows)).eval()
    series = torch.from_numpy(windows.series)
    rows = torch.tensor(windows.split("test")["label_row"].to_numpy()[:5])
    inputs = gather(series, rows, windows.spec)[0]
    positions = torch.tensor([3, 10, inputs.shape[1] - 1])
    origins = rows[:, None] - inputs.shape[1] + 1 + positions
    known = gather_horizons(series, origins.ravel(), windows.spec, HORIZONS)[0]
    known = known.view(5, 3, HORIZONS, -1)
    with torch.no_grad():
        next_hour, out = model(inputs, positions=positions, known=known)
    assert out.shape == (5, 3, HORIZONS, len(LEVELS)) and next_hour.shape == inputs.shape[:2]
    with torch.no_grad():  # a training process's empty share of a batch
        _, none = model(inputs[:0], positions=positions, known=known[:0])
    assert none.shape == (0, 3, HORIZONS, len(LEVELS))
    # the last position is the window's own origin: the forecast evaluate makes
    direct = forecast_horizons(model, series, rows, windows.spec)
    assert direct.shape == (5, HORIZONS, len(LEVELS))
    assert np.all(np.diff(direct, axis=-1) >= 0)  # sorted: quantiles never cross
    decoded = np.sort(out[:, -1].numpy(), axis=-1)
    np.testing.assert_allclose(decoded[:, 1:], direct[:, 1:], rtol=1e-5, atol=1e-6)
    # the first hour's median is the one-hour head's forecast, trained on every hour
    head = next_hour[:, -1].numpy()
    np.testing.assert_allclose(
        one_hour(model, series, rows, windows.spec), head, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(direct[:, 0, 1], head, rtol=1e-5, atol=1e-6)
    # its other quantiles keep the decoder's distance from its median: the interval never
    # collapses onto the head's forecast, however far the two medians are apart
    spread = decoded[:, 0] - decoded[:, 0, 1:2]
    np.testing.assert_allclose(direct[:, 0] - head[:, None], spread, rtol=1e-4, atol=1e-6)
    assert np.all(np.diff(direct, axis=-1) > 0)
    # the first hours alone are the same: no hour reads a later hour's inputs
    first = forecast_horizons(model, series, rows, windows.spec, hours=5)
    np.testing.assert_allclose(first, direct[:, :5], rtol=1e-6)
    last = torch.tensor([len(series) - 1])  # the last hour of the series forecasts alone
    assert np.isfinite(one_hour(model, series, last, windows.spec)).all()


def test_each_hour_ahead_reads_its_own_target_row_calendar_and_real_lagged_loads(generated_windows):
    windows = generated_windows
    series = torch.from_numpy(windows.series)
    rows = torch.tensor(windows.split("test")["label_row"].to_numpy()[:4])
    known, targets = gather_horizons(series, rows, windows.spec, HORIZONS)
    calendar = windows.spec.columns(series.shape[1])[0]
    calendar_width = len(range(series.shape[1])[calendar])
    assert torch.equal(targets[:, 0], gather(series, rows, windows.spec)[1])  # horizon 1: label
    back = horizon_lags(windows.spec, HORIZONS)
    assert back[:, 0].tolist() == [24] * 24 + [48] * 16  # lag 24: a day back, then two
    assert back[:, 1].tolist() == [168] * HORIZONS
    for k in range(HORIZONS):
        target = rows + k
        assert torch.equal(targets[:, k], series[target, LOAD_COLUMN])
        assert torch.equal(known[:, k, :calendar_width], series[target, calendar])
        lagged = series[target[:, None] - torch.as_tensor(back[k]), LOAD_COLUMN]
        assert torch.equal(known[:, k, calendar_width:], lagged)
        assert (target[:, None] - torch.as_tensor(back[k]) < rows[:, None]).all()


def test_no_hour_ahead_reads_a_load_at_or_after_its_origin(generated_windows, forecaster) -> None:
    windows = generated_windows
    rows = windows.split("test")["label_row"].to_numpy()[:-HORIZONS:40]
    series = torch.from_numpy(windows.series)
    model = forecaster.models[0]
    for origin in rows:
        clean = forecast_horizons(model, series, torch.tensor([origin]), windows.spec)
        poisoned = series.clone()
        poisoned[origin:, LOAD_COLUMN] = float("nan")  # every load the forecasts are of
        got = forecast_horizons(model, poisoned, torch.tensor([origin]), windows.spec)
        np.testing.assert_array_equal(got, clean)


def test_origins_reach_ahead_only_within_their_split_and_run() -> None:
    rows = np.r_[10:20, 25:35]
    train = np.isin(rows, np.r_[10:17, 25:31])
    assert reaching_ahead(rows, train, 1).tolist() == train.tolist()
    reach = reaching_ahead(rows, train, 3)
    assert rows[reach].tolist() == [10, 11, 12, 13, 14, 25, 26, 27, 28]


def test_a_one_hour_model_has_no_decoder_and_loads_as_before(untrained_one_hour_gru) -> None:
    _, models, one_hour = untrained_one_hour_gru
    assert not one_hour.recipe.config.multi_horizon
    keys = {k.split(".")[0] for k in models[0].state_dict()}
    assert keys == {"rnn", "head"}  # the same weights as a model saved before the decoder
    stored = one_hour.recipe.to_dict()
    for key in ("horizons", "quantiles", "known_size", "context_size", "decoder_size"):
        del stored["config"][key]
    assert Recipe.from_dict(stored).config == one_hour.recipe.config


def multi_horizon_params(**changes):
    return SMALL_TRAINING.changed(
        objective="multi_horizon",
        chunk_hours=60,
        burn_in_hours=12,
        batch_size=4,
        horizon_hours=HORIZONS,
        quantiles=list(LEVELS),
        origin_stride=3,
        context_size=4,
        decoder_size=8,
        **changes,
    )


def test_training_the_quantiles_never_reads_a_held_out_load(generated_windows) -> None:
    windows = generated_windows
    params = multi_horizon_params(epochs=2)
    sequences = Sequences(windows, params, torch.device("cpu"))
    train_rows = set(windows.split("train")["label_row"].tolist())
    scored = params.chunk_hours - params.burn_in_hours
    for seed in range(3):
        for end in sequences.ends("train", torch.Generator().manual_seed(seed)).tolist():
            targets = range(end - scored + 1, end + HORIZONS)  # of every origin of the chunk
            assert set(targets) <= train_rows
    poisoned = windows.series.copy()
    held_out = windows.index[windows.index["split"] != "train"]
    for _, rows in held_out.groupby("region"):  # validation and test loads, every row
        first_val, last_test = rows["label_row"].min(), rows["label_row"].max()
        poisoned[first_val : last_test + 1, LOAD_COLUMN] = np.nan
    model, history = train_model(
        replace(windows, series=poisoned),
        multi_horizon_config(windows),
        params,
        0,
        torch.device("cpu"),
    )
    assert all(np.isfinite(r["train_loss"]) for r in history)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_the_pinball_loss_weighs_misses_by_their_level() -> None:
    quantiles = torch.tensor([[[1.0, 1.0, 1.0]]])
    target = torch.tensor([[3.0]])
    # a forecast 2 below the target costs 2 q at level q
    assert pinball_loss(quantiles, target, LEVELS).item() == pytest.approx(2 * np.mean(LEVELS))
    target = torch.tensor([[0.0]])  # 1 above: costs 1 - q
    assert pinball_loss(quantiles, target, LEVELS).item() == pytest.approx(1 - np.mean(LEVELS))


def test_the_forecaster_gives_the_hours_ahead_at_once_with_their_quantiles(forecaster) -> None:
    recent = readings().groupby("region").tail(400)
    table = forecaster.forecast(recent, 24)
    assert list(table.columns) == [
        *("region", "timestamp", "utc_offset", "horizon", "forecast_mw"),
        *("p10", "p50", "p90", "model", "quality"),
    ]
    assert len(table) == 2 * 24 and (table["quality"] == "ok").all()
    assert (table["p10"] < table["p50"]).all() and (table["p50"] < table["p90"]).all()
    np.testing.assert_array_equal(table["forecast_mw"], table["p50"])
    # the first hours of a longer forecast are the same: each hour ahead is forecast directly
    longer = forecaster.forecast(recent, HORIZONS)
    pd.testing.assert_frame_equal(
        longer.groupby("region").head(24).reset_index(drop=True), table, check_exact=False
    )
    only = forecaster.forecast(recent, 3, quantiles=[0.9, 0.1])
    assert [c for c in only.columns if c.startswith("p")] == ["p10", "p90"]


@pytest.mark.parametrize(
    ("hours", "quantiles", "message"),
    [
        (HORIZONS + 1, None, rf"this model forecasts between 1 and {HORIZONS} hours ahead"),
        (24, [0.25], r"quantile\(s\) \[0.25\]: the model was not trained for them"),
        (24, [1.5], r"quantile 1.5: a level is a number between 0 and 1"),
        (24, [0.0], r"quantile 0.0: a level"),
    ],
)
def test_hours_beyond_the_horizons_or_untrained_quantiles_are_refused(
    forecaster, hours, quantiles, message
) -> None:
    recent = readings().groupby("region").tail(400)
    with pytest.raises(LoadForecastError, match=message):
        forecaster.forecast(recent, hours, quantiles)


def test_a_one_hour_model_refuses_quantiles(untrained_one_hour_gru) -> None:
    recent = readings().groupby("region").tail(400)
    with pytest.raises(LoadForecastError, match=r"it forecasts no quantiles"):
        untrained_one_hour_gru.forecaster.forecast(recent, 1, [0.5])


def test_a_known_covariate_is_needed_for_every_hour_ahead_and_the_example_has_it() -> None:
    windows = windows_of(weather_driven(40), {"temperature": "known"})
    config = multi_horizon_config(windows)
    readings_of = readings_params({"temperature": "known"})
    recipe = Recipe.for_windows("gru", config, windows, POLICY, NO_HOLIDAYS, readings_of)
    model = RNNForecaster(config).eval()
    forecaster = Forecaster(recipe, [model.state_dict()], [0])
    example = recent_readings(windows, windows.spec.reach, HORIZONS)
    assert len(example) == windows.spec.reach + HORIZONS
    assert example["load_mw"].isna().sum() == HORIZONS
    assert len(forecaster.forecast(example, HORIZONS)) == HORIZONS
    with pytest.raises(
        LoadForecastError, match=rf"'temperature' is missing .*hour 2 of the {HORIZONS}"
    ):
        forecaster.forecast(example.iloc[: windows.spec.reach + 1], HORIZONS)


def test_an_observed_covariate_after_the_origin_changes_no_hour_ahead() -> None:
    windows = windows_of(weather_driven(40), {"temperature": "observed"})
    column = windows.features.index("temperature")
    model = RNNForecaster(multi_horizon_config(windows)).eval()
    origins = windows.split("test")["label_row"].to_numpy()[:3]
    series = torch.from_numpy(windows.series)
    for origin in origins:
        clean = forecast_horizons(model, series, torch.tensor([origin]), windows.spec)
        poisoned = series.clone()
        poisoned[origin:, column] = float("nan")  # its value at the origin and after
        got = forecast_horizons(model, poisoned, torch.tensor([origin]), windows.spec)
        np.testing.assert_array_equal(got, clean)


def test_the_command_gives_the_next_day_with_the_quantiles_asked_for(
    forecaster, tmp_path, capsys
) -> None:
    from loadforecast.cli import main

    forecaster.save(tmp_path / "gru.pt")
    frame = readings().query("region == 'AAA'")
    evening = frame[frame["timestamp"].dt.hour == 20]["timestamp"].iloc[-2]

    def raw(until: pd.Timestamp) -> str:
        rows = frame[frame["timestamp"] <= until]
        rows = rows.rename(columns={"timestamp": "Datetime", "load_mw": "AAA_MW"})
        rows[["Datetime", "AAA_MW"]].to_csv(tmp_path / "AAA_hourly.csv", index=False)
        return str(tmp_path / "AAA_hourly.csv")

    output = tmp_path / "day.csv"
    command = ["forecast", str(tmp_path / "gru.pt"), raw(evening), "--next-day"]
    main([*command, "--quantiles", "0.1", "0.9", "--output", str(output)])
    day = pd.read_csv(output, parse_dates=["timestamp"])
    assert day["horizon"].tolist() == list(range(4, 28))  # 21:00 to 23:00 first
    assert day["timestamp"].dt.hour.tolist() == list(range(24))
    assert (day["timestamp"].dt.normalize() == evening.normalize() + pd.Timedelta(days=1)).all()
    assert [c for c in day.columns if c.startswith("p")] == ["p10", "p90"]
    # from 06:00 the next day ends 41 hours ahead, past this model's 40
    morning = evening.normalize() + pd.Timedelta(hours=6)
    with pytest.raises(SystemExit) as status:
        main(["forecast", str(tmp_path / "gru.pt"), raw(morning), "--next-day"])
    assert status.value.code == 1
    assert "forecasts 40 hours ahead, which reach 23 of the 24 hours" in capsys.readouterr().err


def test_the_mlflow_model_takes_hours_and_quantiles_as_parameters(forecaster, tmp_path) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from loadforecast.tracking import pyfunc
    from tests.tiny_project import tracking_store

    recent = readings().groupby("region").tail(400)
    with tracking_store(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("t", tmp_path.as_uri()))
        with mlflow.start_run():
            info = pyfunc.log_model(forecaster, recent.query("region == 'AAA'"))
        params = {p["name"]: p["default"] for p in info.signature.params.to_dict()}
        assert params == {
            **{"hours": 1, "quantiles": list(LEVELS), "fallback": "", "flat_hours": 24},
            **{"issued_at": "", "max_age_hours": 2.0},
        }
        model = mlflow.pyfunc.load_model(info.model_uri)
        got = model.predict(recent, params={"hours": 24, "quantiles": [0.9]})
        expected = forecaster.forecast(recent, 24, [0.9])
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        assert "p90" in got and "p10" not in got
        with pytest.raises(MlflowException, match=r"quantile\(s\) \[0.25\]: the model was not"):
            model.predict(recent, params={"hours": 24, "quantiles": [0.25]})
        stuck = recent.copy()
        stuck.loc[stuck.groupby("region").tail(30).index, "load_mw"] = 1000.0
        with pytest.raises(MlflowException, match=r"region '\w+': load_mw is 1000 MW at every"):
            model.predict(stuck, params={"hours": 24})
        flagged = model.predict(stuck, params={"hours": 24, "fallback": "flat_line,jump"})
        assert set(flagged["quality"]) == {"fallback: flat_line"}
