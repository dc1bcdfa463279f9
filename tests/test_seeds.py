"""`loadforecast.seeds`: the seeds trained at once, each in its own process, give what they give
one after another (within float rounding: one thread sums in another order than two)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loadforecast.seeds import train_seeds
from loadforecast.training import model_config
from tests.synthetic import SMALL_TRAINING

PARAMS = SMALL_TRAINING.changed(
    objective="multi_horizon",
    burn_in_hours=12,
    horizon_hours=38,
    context_size=4,
    decoder_size=8,
    num_layers=2,
    loss="l1",
    lr_schedule="one_cycle",
    batch_size=4,
    epochs=2,
    parallel_seeds=True,
)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seeds_at_once_train_as_one_after_another(generated_windows, cell) -> None:
    windows = generated_windows
    config = model_config(cell, windows, PARAMS.changed(hidden_size=8))
    device = torch.device("cpu")
    at_once = train_seeds(windows, config, PARAMS, [3, 4], device, 256)
    in_turn = train_seeds(
        windows, config, PARAMS.changed(parallel_seeds=False), [3, 4], device, 256
    )
    assert [s.seed for s in at_once] == [3, 4]
    for parallel, sequential in zip(at_once, in_turn, strict=True):
        assert len(parallel.history) == PARAMS.epochs
        for a, b in zip(parallel.history, sequential.history, strict=True):
            assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
        for name, weights in parallel.state.items():
            torch.testing.assert_close(weights, sequential.state[name], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(parallel.val_forecast, sequential.val_forecast, atol=1e-4)
        assert len(parallel.val_forecast) == len(windows.split("val"))
    # different seeds, different models
    assert at_once[0].history[-1]["train_loss"] != at_once[1].history[-1]["train_loss"]
