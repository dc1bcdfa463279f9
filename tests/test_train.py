"""Training: model selection on the validation windows, early stopping, and a test part that
training never reads."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from stages.batches import InputSpec, Windows, gather
from stages.model import ModelConfig
from stages.params import TrainParams, WindowParams
from stages.train import best_record, mean_loss, train_model
from stages.window import build_windows
from tests.synthetic import load_series

PARAMS = TrainParams(
    hidden_size=8,
    num_layers=1,
    dropout=0.0,
    target="delta",
    lr=0.01,
    lr_schedule="cosine",
    weight_decay=0.0,
    grad_clip=1.0,
    batch_size=32,
    epochs=3,
    patience=0,
    max_windows_per_epoch=0,
    precision="fp32",
    device="cpu",
)


def small_windows(val_fraction: float = 0.2) -> Windows:
    series = load_series("2018-01-01", 24 * 20)
    frame = pd.DataFrame(
        {
            "region": "AAA",
            "timestamp": series.index,
            "load_mw": series.to_numpy(),
            "hour": series.index.hour,
        }
    )
    spec = InputSpec(lookback=12, lags=(24,), future_calendar=True)
    window_params = WindowParams(12, 0.1, val_fraction, spec.lags, spec.future_calendar)
    windows, _ = build_windows(frame, window_params)
    assert windows.spec == spec
    return windows


def config(windows: Windows, target: str = "delta") -> ModelConfig:
    channels = windows.spec.channels(windows.features)
    return ModelConfig("gru", len(channels), hidden_size=8, num_layers=1, target=target)


def test_training_never_reads_the_test_part():
    windows = small_windows()
    first_test_row = windows.split("test")["label_row"].min()
    poisoned = windows.series.copy()
    poisoned[first_test_row:] = np.nan  # rows that only test windows reach
    windows = replace(windows, series=poisoned)
    model, history = train_model(windows, config(windows), PARAMS, 0, torch.device("cpu"))
    assert all(np.isfinite([r["train_loss"], r["val_loss"]]).all() for r in history)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_the_returned_model_is_the_best_epoch_on_validation():
    windows = small_windows()
    params = replace(PARAMS, epochs=4, lr=0.05, lr_schedule="constant")
    model, history = train_model(windows, config(windows), params, 1, torch.device("cpu"))
    series = torch.from_numpy(windows.series)
    rows = torch.tensor(windows.split("val")["label_row"].to_numpy())
    best = best_record(history)
    assert best["val_loss"] == min(r["val_loss"] for r in history)
    assert mean_loss(model, series, rows, windows.spec, "fp32") == pytest.approx(
        best["val_loss"], rel=1e-5
    )


def test_patience_stops_when_validation_stops_improving():
    windows = small_windows()
    params = replace(PARAMS, epochs=6, lr=1e-12, patience=2, lr_schedule="constant")
    _, history = train_model(windows, config(windows), params, 0, torch.device("cpu"))
    assert len(history) < 6


def test_without_validation_the_last_epoch_is_kept():
    windows = small_windows(val_fraction=0.0)
    _, history = train_model(windows, config(windows), PARAMS, 0, torch.device("cpu"))
    assert "val_loss" not in history[-1] and best_record(history) is history[-1]


def test_cosine_schedule_ends_near_zero_and_bf16_trains():
    windows = small_windows()
    params = replace(PARAMS, precision="bf16")
    _, history = train_model(windows, config(windows), params, 0, torch.device("cpu"))
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-9)
    assert history[0]["lr"] > 0 and np.isfinite(history[-1]["val_loss"])


def test_a_delta_model_starts_from_persistence():
    windows = small_windows()
    model = train_model(
        windows, config(windows), replace(PARAMS, epochs=1), 0, torch.device("cpu")
    )[0]
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    inputs, _ = gather(torch.from_numpy(windows.series), torch.tensor([100, 200]), windows.spec)
    assert model.eval()(inputs).tolist() == inputs[:, -1, 0].tolist()
