"""`loadforecast.transfer`: a network started from another forecaster's weights forecasts as
that one did, whatever the channels it adds; and training starts from them (`train.init_from`)."""

from __future__ import annotations

import pytest
import torch
import yaml

from loadforecast.config import FeaturesParams, TrainParams
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster, Recipe, network_forecasts
from loadforecast.model import RNNForecaster
from loadforecast.seeds import train_seeds
from loadforecast.training import model_config
from loadforecast.transfer import channel_names, starting_states
from tests import REPO
from tests.synthetic import POLICY, SMALL_TRAINING
from tests.test_covariates import readings_params, weather_driven, windows_of

PARAMS = SMALL_TRAINING.changed(
    objective="multi_horizon",
    chunk_hours=96,
    burn_in_hours=24,
    hidden_size=8,
    horizon_hours=38,
    context_size=4,
    decoder_size=8,
    loss="l1",
    epochs=1,
)


@pytest.fixture(scope="module")
def saved_start(tmp_path_factory) -> tuple[object, torch.nn.Module, object]:
    """A directory holding `gru.pt`: a forecaster of two seeds trained without the temperature,
    and the windows it was trained on."""
    windows = windows_of(weather_driven(days=60), {})
    config = model_config("gru", windows, PARAMS)
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        states.append(RNNForecaster(config).state_dict())
    calendar = FeaturesParams(
        cyclic=True, holidays=None, holiday_subdivision=None, extra_holidays=[], degree_hours={}
    )
    recipe = Recipe.for_windows("gru", config, windows, POLICY, calendar, readings_params({}))
    directory = tmp_path_factory.mktemp("start")
    Forecaster(recipe, states, [1, 2]).save(directory / "gru.pt")
    return directory, windows


def test_a_started_network_forecasts_as_its_start_whatever_the_temperature(saved_start):
    directory, plain = saved_start
    with_temperature = windows_of(weather_driven(days=60), {"temperature": "known"})
    config = model_config("gru", with_temperature, PARAMS)
    assert config.input_size == model_config("gru", plain, PARAMS).input_size + 1
    started = RNNForecaster(config).eval()
    started.load_state_dict(
        starting_states(
            directory / "gru.pt", config, with_temperature.spec, with_temperature.features, 3
        )[2]  # the third network starts from the first seed's
    )
    start = Forecaster.load(directory / "gru.pt").models[0]
    rows = torch.tensor(plain.split("val")["label_row"].to_numpy())
    theirs = network_forecasts([start], torch.from_numpy(plain.series), rows, plain.spec, 38)
    series = torch.from_numpy(with_temperature.series)
    ours = network_forecasts([started], series, rows, with_temperature.spec, 38)
    torch.testing.assert_close(torch.as_tensor(ours), torch.as_tensor(theirs))
    series[:, with_temperature.features.index("temperature")] += 5.0  # read, with zero weight
    moved = network_forecasts([started], series, rows, with_temperature.spec, 38)
    torch.testing.assert_close(torch.as_tensor(moved), torch.as_tensor(theirs))
    encoder, known = channel_names(with_temperature.spec, with_temperature.features)
    weights = started.state_dict()
    assert not weights["rnn.weight_ih_l0"][:, encoder.index("temperature")].any()
    decoder = weights["decoder.local_mlp.0.weight"][:, 2 * config.context_size :]
    assert not decoder[:, known.index("temperature")].any()
    assert decoder[:, known.index("load_lag_24")].any()


def test_a_start_of_another_network_is_refused_by_name(saved_start):
    directory, windows = saved_start
    config = model_config("gru", windows, PARAMS.changed(hidden_size=16))
    with pytest.raises(LoadForecastError, match="hidden_size = 8 there, 16 here"):
        starting_states(directory / "gru.pt", config, windows.spec, windows.features, 1)
    lstm = model_config("lstm", windows, PARAMS)
    with pytest.raises(LoadForecastError, match="cell = gru there, lstm here"):
        starting_states(directory / "gru.pt", lstm, windows.spec, windows.features, 1)


def test_training_starts_from_the_cell_s_forecaster_in_init_from(saved_start):
    directory, windows = saved_start
    config = model_config("gru", windows, PARAMS)
    still = PARAMS.changed(lr=1e-12, init_from=str(directory))  # steps too small to move
    start = Forecaster.load(directory / "gru.pt").states
    device = torch.device("cpu")
    kept = train_seeds(windows, config, still, [7, 8], device, 256)
    scratch = train_seeds(windows, config, PARAMS.changed(lr=1e-12), [7, 8], device, 256)
    for trained, fresh, source in zip(kept, scratch, start, strict=True):
        for name, weight in source.items():
            torch.testing.assert_close(trained.state[name], weight, rtol=0, atol=1e-6)
        assert not torch.allclose(fresh.state["head.weight"], source["head.weight"])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_shipped_pjm_forecasters_are_the_committed_runs_and_start_the_recipe(cell):
    shipped = REPO / "pretrained" / "pjm" / f"{cell}.pt"
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())
    (out,) = (o for o in lock["stages"][f"train@{cell}"]["outs"] if o["path"].endswith(".pt"))
    made_from = (REPO / "pretrained" / "pjm" / "README.md").read_text()
    assert f"`{out['md5']}`" in made_from, "save data/models/ again (pretrained/pjm/README.md)"
    halves = [w.dtype == torch.float16 for s in Forecaster.load(shipped).states for w in s.values()]
    assert all(halves)
    recipe = TrainParams.model_validate(yaml.safe_load((REPO / "params.yaml").read_text())["train"])
    windows = windows_of(weather_driven(days=60), {"temperature": "known"})
    config = model_config(cell, windows, recipe)
    states = starting_states(shipped, config, windows.spec, windows.features, 3)
    start = Forecaster.load(shipped).states
    lag = channel_names(windows.spec, windows.features)[0].index("load_lag_168")
    theirs = start[1]["rnn.weight_ih_l0"][:, -1].float()  # PJM's last channel: the week's lag too
    torch.testing.assert_close(states[1]["rnn.weight_ih_l0"][:, lag], theirs)
