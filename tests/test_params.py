import pytest
import yaml

from loadforecast.config import ConfigError
from loadforecast.settings import load_params, parse_params
from tests import REPO


def raw_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_defaults_keep_the_studys_data_and_split_and_forecast_the_next_two_days():
    params = load_params(REPO / "params.yaml")
    assert len(params.data.regions) == 12
    assert (params.window.lookback, params.window.test_fraction) == (90, 0.1)
    assert params.window.val_fraction > 0  # model selection on validation, never on test
    t = params.train
    assert t.objective == "multi_horizon" and t.horizon_hours >= 47  # any hour's next day
    assert t.quantiles == [0.1, 0.5, 0.9]
    assert t.burn_in_hours < params.window.lookback <= t.chunk_hours  # trains the evaluated hour


def test_unknown_key_is_named():
    raw = raw_params()
    raw["train"]["learning_rate"] = 0.1
    with pytest.raises(
        ConfigError, match=r"^params\.yaml: train\.learning_rate is not a known key"
    ):
        parse_params(raw)


def test_a_missing_key_is_named_and_has_no_default():
    raw = raw_params()
    del raw["ingest"]["max_fill_hours"]
    with pytest.raises(ConfigError, match=r"^params\.yaml: ingest\.max_fill_hours is missing$"):
        parse_params(raw)


def test_a_value_of_the_wrong_kind_is_refused_not_coerced():
    raw = raw_params()
    raw["train"]["epochs"] = "32"
    raw["features"]["cyclic"] = 1
    with pytest.raises(ConfigError) as err:
        parse_params(raw)
    assert str(err.value).splitlines() == [
        "params.yaml: features.cyclic = 1: input should be a valid boolean",
        "params.yaml: train.epochs = '32': input should be a valid integer",
    ]


def test_a_choice_lists_what_is_allowed():
    raw = raw_params()
    raw["train"]["loss"] = "huber"
    with pytest.raises(ConfigError, match=r"train\.loss = 'huber': input should be 'mse' or 'l1'"):
        parse_params(raw)


def test_burn_in_must_end_within_the_chunk():
    raw = raw_params()
    raw["train"]["burn_in_hours"] = raw["train"]["chunk_hours"]
    with pytest.raises(ConfigError, match=r"train\.burn_in_hours = 256: expected below"):
        parse_params(raw)


def test_out_of_range_value_is_named():
    raw = raw_params()
    raw["window"]["test_fraction"] = 1.5
    with pytest.raises(ConfigError, match=r"window\.test_fraction = 1\.5"):
        parse_params(raw)


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        (
            "window",
            "lags",
            [24, 0],
            r"window\.lags\[1\] = 0: input should be greater than or equal to 1",
        ),
        (
            "train",
            "quantiles",
            [0.1, 1.0],
            r"train\.quantiles\[1\] = 1\.0: input should be less than 1",
        ),
        ("train", "quantiles", [0.5, 0.1], r"train\.quantiles = \[0\.5, 0\.1\]: expected distinct"),
        ("train", "quantiles", [], r"train\.quantiles = \[\]: expected distinct"),
    ],
)
def test_a_lag_or_quantile_level_out_of_range_is_named_with_its_position(section, key, value, says):
    raw = raw_params()
    raw[section][key] = value
    with pytest.raises(ConfigError, match=rf"^params\.yaml: {says}"):
        parse_params(raw)


def test_study_preset_restores_the_studys_configuration():
    from benchmarks.study_reference import study_params

    params = study_params(REPO / "params.yaml")
    assert (params.features.cyclic, params.features.holidays) == (False, None)
    w = params.window
    assert (w.lookback, w.test_fraction, w.val_fraction, w.lags, w.future_calendar) == (
        90,
        0.1,
        0.0,
        [],
        False,
    )
    t = params.train
    assert (t.hidden_size, t.num_layers, t.dropout, t.lr, t.batch_size, t.epochs) == (
        256,
        2,
        0.2,
        0.001,
        1024,
        5,
    )
    assert (t.target, t.lr_schedule, t.weight_decay, t.grad_clip) == ("level", "constant", 0, 0)
    assert (t.objective, t.max_labels_per_epoch) == ("window", 0)


def test_unknown_baseline_is_named():
    raw = raw_params()
    raw["evaluate"]["baselines"] = ["persistence", "prophet"]
    with pytest.raises(ConfigError, match=r"evaluate\.baselines\[1\] = 'prophet': input should be"):
        parse_params(raw)
