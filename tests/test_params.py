from pathlib import Path

import pytest
import yaml

from stages.params import ParamsError, load_params, parse_params

REPO = Path(__file__).resolve().parents[1]


def raw_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_defaults_keep_the_studys_data_and_split_and_train_on_every_hour():
    params = load_params(REPO / "params.yaml")
    assert len(params.data.regions) == 12
    assert (params.window.lookback, params.window.test_fraction) == (90, 0.1)
    assert params.window.val_fraction > 0  # model selection on validation, never on test
    t = params.train
    assert t.objective == "every_hour"
    assert t.burn_in_hours < params.window.lookback <= t.chunk_hours  # trains the evaluated hour


def test_unknown_key_is_named():
    raw = raw_params()
    raw["train"]["learning_rate"] = 0.1
    with pytest.raises(ParamsError, match=r"unknown \[.learning_rate.\]"):
        parse_params(raw)


def test_out_of_range_value_is_named():
    raw = raw_params()
    raw["window"]["test_fraction"] = 1.5
    with pytest.raises(ParamsError, match=r"window\.test_fraction = 1\.5"):
        parse_params(raw)


def test_study_preset_restores_the_studys_configuration():
    from benchmarks.study_reference import study_params

    params = study_params(REPO / "params.yaml")
    assert (params.features.cyclic, params.features.holidays) == (False, False)
    w = params.window
    assert (w.lookback, w.test_fraction, w.val_fraction, w.lags, w.future_calendar) == (
        90,
        0.1,
        0.0,
        (),
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
    with pytest.raises(ParamsError, match=r"evaluate\.baselines = \['prophet'\]"):
        parse_params(raw)
