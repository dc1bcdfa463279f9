"""Evaluate: baselines on the same windows as the models, scores over seeds, and checkpoints
that must match the windows they are evaluated on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stages.baselines import fit_baselines, one_hour
from stages.batches import LOAD_COLUMN, InputSpec, Windows
from stages.errors import PipelineError
from stages.evaluate import load_models, over_seeds
from stages.params import WindowParams
from stages.window import build_windows
from tests.synthetic import regions_frame


def windows_of(spec: InputSpec, hours: int = 24 * 60, regions=("AAA", "BBB")) -> Windows:
    params = WindowParams(spec.lookback, 0.1, 0.1, spec.lags, spec.future_calendar)
    windows, _ = build_windows(regions_frame(regions, hours, grow=True), params)
    assert windows.spec == spec
    return windows


def test_repeat_baselines_read_the_hour_they_name():
    windows = windows_of(InputSpec(24, lags=(168,)))
    test = windows.split("test")
    rows = test["label_row"].to_numpy()
    names = ("persistence", "same_hour_yesterday", "same_hour_last_week")
    forecasts = one_hour(fit_baselines(windows, names, seed=0), windows, test)
    for name, back in zip(names, (1, 24, 168), strict=True):
        np.testing.assert_array_equal(forecasts[name], windows.series[rows - back, LOAD_COLUMN])


def test_a_baseline_beyond_the_windows_history_is_skipped(caplog):
    windows = windows_of(InputSpec(24))
    forecasts = fit_baselines(windows, ("persistence", "same_hour_last_week"), seed=0)
    assert set(forecasts) == {"persistence"} and "same_hour_last_week skipped" in caplog.text


def test_fitted_baselines_beat_persistence_on_a_daily_cycle():
    windows = windows_of(InputSpec(48, lags=(168,)))
    test = windows.split("test")
    actual = windows.series[test["label_row"], LOAD_COLUMN]
    names = ("persistence", "linear", "gradient_boosting")
    forecasts = one_hour(fit_baselines(windows, names, seed=0), windows, test)
    errors = {name: np.abs(f - actual).mean() for name, f in forecasts.items()}
    assert errors["linear"] < errors["persistence"] / 2
    assert errors["gradient_boosting"] < errors["persistence"] / 2


def test_scores_over_seeds_give_mean_and_sample_spread():
    out = over_seeds([{"smape": 1.0}, {"smape": 2.0}, {"smape": 3.0}])
    assert out == {"smape": 2.0, "smape_std": 1.0}
    assert over_seeds([{"smape": 1.5}]) == {"smape": 1.5, "smape_std": 0.0}


def test_a_checkpoint_from_other_windows_is_refused(tmp_path):
    trained_on = windows_of(InputSpec(24, lags=(168,), future_calendar=True))
    checkpoint = {
        "config": {"cell": "gru", "input_size": 3, "hidden_size": 4, "num_layers": 1},
        "spec": {"lookback": 24, "lags": [168], "future_calendar": True},
        "features": trained_on.features,
        "models": [],
    }
    path = tmp_path / "gru.pt"
    torch.save(checkpoint, path)
    assert load_models(path, trained_on, torch.device("cpu")) == ("gru", [], None)
    with pytest.raises(PipelineError, match=r"gru\.pt: trained on windows .*rerun train"):
        load_models(path, windows_of(InputSpec(24)), torch.device("cpu"))
