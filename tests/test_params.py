from pathlib import Path

import pytest
import yaml

from stages.params import ParamsError, load_params, parse_params

REPO = Path(__file__).resolve().parents[1]


def raw_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_default_params_are_the_studys_configuration():
    params = load_params(REPO / "params.yaml")
    assert len(params.data.regions) == 12
    assert (params.window.lookback, params.window.test_fraction) == (90, 0.1)
    t = params.train
    assert (t.hidden_size, t.num_layers, t.dropout, t.lr, t.batch_size, t.epochs) == (
        256,
        2,
        0.2,
        0.001,
        1024,
        5,
    )


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
