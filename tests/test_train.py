"""Training: both objectives (`multi_horizon` and the study's `window`), model selection on the
validation part, early stopping, and held-out parts that training never reads."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast.config import TrainParams
from loadforecast.errors import LoadForecastError
from loadforecast.model import ModelConfig, RNNForecaster
from loadforecast.training import (
    Sequences,
    best_record,
    fit_budget,
    mean_loss,
    model_config,
    train_model,
)
from loadforecast.windows import (
    InputSpec,
    Windows,
    build_windows,
    chunk_ends,
    gather,
    gather_chunks,
)
from tests.synthetic import SMALL_TRAINING, load_series, window_params

PARAMS = SMALL_TRAINING


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
    section = window_params(12, 0.1, val_fraction, spec.lags, spec.future_calendar)
    windows, _ = build_windows(frame, section)
    assert windows.spec == spec
    return windows


MULTI_HORIZON = PARAMS.changed(
    objective="multi_horizon", batch_size=4, horizon_hours=38, context_size=4, decoder_size=8
)


def config(windows: Windows, params: TrainParams = PARAMS) -> ModelConfig:
    """The small GRU the objective of `params` trains (with the decoder for multi_horizon)."""
    return model_config("gru", windows, params)


@pytest.mark.parametrize("params", [PARAMS, MULTI_HORIZON], ids=["window", "multi_horizon"])
def test_training_never_reads_the_test_part(params):
    windows = small_windows()
    first_test_row = windows.split("test")["label_row"].min()
    poisoned = windows.series.copy()
    poisoned[first_test_row:] = np.nan  # rows that only test windows reach
    windows = replace(windows, series=poisoned)
    model, history = train_model(windows, config(windows, params), params, 0, torch.device("cpu"))
    assert all(np.isfinite([r["train_loss"], r["val_loss"]]).all() for r in history)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("params", [PARAMS, MULTI_HORIZON], ids=["window", "multi_horizon"])
def test_training_labels_never_reach_the_validation_part(params):
    windows = small_windows()
    first_val_row = windows.split("val")["label_row"].min()
    poisoned = windows.series.copy()
    poisoned[first_val_row:] = np.nan  # validation and test labels, and later inputs
    windows = replace(windows, series=poisoned)
    model, history = train_model(windows, config(windows, params), params, 0, torch.device("cpu"))
    assert all(np.isfinite(r["train_loss"]) for r in history)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_chunks_end_only_where_all_their_labels_are_consecutive_and_scored():
    # Labels 10-19 and 25-34 (a gap between); 10-16 and 25-30 are training, the rest validation.
    rows = np.r_[10:20, 25:35]
    train = np.isin(rows, np.r_[10:17, 25:31])
    ends, phase = chunk_ends(rows, train, chunk_hours=4, scored_hours=2)
    assert ends.tolist() == [13, 14, 15, 16, 28, 29, 30]
    assert phase.tolist() == [3, 4, 5, 6, 3, 4, 5]
    # Validation chunks may read training hours as burn-in, but score validation labels only.
    ends, _ = chunk_ends(rows, ~train, chunk_hours=4, scored_hours=2)
    assert ends.tolist() == [18, 19, 32, 33, 34]


def test_an_epoch_of_chunks_scores_each_training_label_at_most_once():
    windows = small_windows()
    sequences = Sequences(windows, MULTI_HORIZON, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    scored_hours = MULTI_HORIZON.chunk_hours - MULTI_HORIZON.burn_in_hours
    train_rows = set(windows.split("train")["label_row"].tolist())
    for _ in range(5):
        ends = sequences.ends("train", generator)
        scored = (ends[:, None] + torch.arange(1 - scored_hours, 1)).flatten().tolist()
        assert len(scored) == len(set(scored)) and set(scored) <= train_rows
        assert len(scored) > len(train_rows) - 2 * MULTI_HORIZON.chunk_hours


def test_a_chunk_holds_the_windows_of_its_labels_hour_by_hour():
    windows = small_windows()
    series = torch.from_numpy(windows.series)
    end, chunk_hours = torch.tensor([300]), 30
    inputs, labels = gather_chunks(series, end, windows.spec, chunk_hours)
    for hour in range(chunk_hours):
        label_row = 300 - chunk_hours + 1 + hour
        window, label = gather(series, torch.tensor([label_row]), windows.spec)
        assert labels[0, hour] == label[0]  # the same target as the window objective
        assert torch.equal(inputs[0, hour], window[0, -1])  # the same last-hour inputs
    # One model serves both: its forecast at hour t of a chunk is the window forecast of the
    # label of that hour, for a window of the t + 1 hours so far.
    model = RNNForecaster(config(windows)).eval()
    with torch.no_grad():
        per_hour = model(inputs)[0]
        for hour in (0, 11, 29):
            window = inputs[:, : hour + 1]
            assert model(window)[0, -1] == pytest.approx(per_hour[hour].item(), abs=1e-6)


def test_multi_horizon_training_learns_and_keeps_the_best_validation_epoch():
    windows = small_windows()
    model, history = train_model(
        windows, config(windows, MULTI_HORIZON), MULTI_HORIZON, 0, torch.device("cpu")
    )
    assert isinstance(model, RNNForecaster)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    series = torch.from_numpy(windows.series)
    best = best_record(history)
    sequences = Sequences(windows, MULTI_HORIZON, torch.device("cpu"))
    assert mean_loss(model, series, sequences) == pytest.approx(best["val_loss"], rel=1e-5)


@pytest.mark.parametrize("loss", ["mse", "l1"])
def test_the_window_loss_averages_the_errors_of_each_windows_label(loss):
    windows = small_windows()
    params = PARAMS.changed(loss=loss)
    series, ends = torch.from_numpy(windows.series), torch.tensor([300, 340])
    model = RNNForecaster(config(windows)).eval()
    inputs, labels = gather(series, ends, windows.spec)
    with torch.no_grad():
        errors = model(inputs)[:, -1] - labels
        expected = errors.abs().mean() if loss == "l1" else errors.square().mean()
        loss_value = Sequences(windows, params, torch.device("cpu")).loss(model, series, ends)
    assert loss_value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_chunks_must_cover_the_hour_evaluation_forecasts_from():
    windows = small_windows()  # lookback 12
    for chunk_hours, burn_in_hours in ((48, 12), (11, 2)):
        params = MULTI_HORIZON.changed(chunk_hours=chunk_hours, burn_in_hours=burn_in_hours)
        with pytest.raises(LoadForecastError, match="burn_in_hours < lookback <= chunk_hours"):
            train_model(windows, config(windows, params), params, 0, torch.device("cpu"))


def test_the_returned_model_is_the_best_epoch_on_validation():
    windows = small_windows()
    params = PARAMS.changed(epochs=4, lr=0.05, lr_schedule="constant")
    model, history = train_model(windows, config(windows), params, 1, torch.device("cpu"))
    series = torch.from_numpy(windows.series)
    best = best_record(history)
    assert best["val_loss"] == min(r["val_loss"] for r in history)
    sequences = Sequences(windows, params, torch.device("cpu"))
    assert mean_loss(model, series, sequences) == pytest.approx(best["val_loss"], rel=1e-5)


def test_patience_stops_when_validation_stops_improving():
    windows = small_windows()
    params = PARAMS.changed(epochs=6, lr=1e-12, patience=2, lr_schedule="constant")
    _, history = train_model(windows, config(windows), params, 0, torch.device("cpu"))
    assert len(history) < 6


def test_without_validation_the_last_epoch_is_kept():
    windows = small_windows(val_fraction=0.0)
    _, history = train_model(windows, config(windows), PARAMS, 0, torch.device("cpu"))
    assert "val_loss" not in history[-1] and best_record(history) is history[-1]


@pytest.mark.parametrize("params", [PARAMS, MULTI_HORIZON], ids=["window", "multi_horizon"])
@pytest.mark.parametrize("schedule", ["cosine", "one_cycle"])
def test_schedules_end_near_zero_and_bf16_trains(params, schedule):
    windows = small_windows()
    params = params.changed(precision="bf16", lr_schedule=schedule)
    _, history = train_model(windows, config(windows, params), params, 0, torch.device("cpu"))
    assert history[-1]["lr"] < 0.01 * params.lr
    assert history[0]["lr"] > 0 and np.isfinite(history[-1]["val_loss"])


def test_a_delta_model_starts_from_persistence():
    windows = small_windows()
    model = train_model(windows, config(windows), PARAMS.changed(epochs=1), 0, torch.device("cpu"))[
        0
    ]
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    inputs, _ = gather(torch.from_numpy(windows.series), torch.tensor([100, 200]), windows.spec)
    assert model(inputs).tolist() == inputs[..., 0].tolist()


def test_a_small_series_trains_for_the_minimum_steps_in_batches_that_fit_it():
    windows = small_windows()  # 20 days: a handful of chunks of 48 hours
    params = MULTI_HORIZON.changed(batch_size=32, epochs=2, min_steps=40)
    sequences = Sequences(windows, params, torch.device("cpu"))
    per_pass = len(sequences.ends("train"))
    assert 1 < per_pass < 32
    batch_size, passes = fit_budget(sequences, params)
    assert batch_size == per_pass and passes == 20  # 20 steps an epoch, one pass each
    _, history = train_model(
        windows, config(windows, params), params, seed=0, device=torch.device("cpu")
    )
    # a pass's chunk count varies by one with its random phase: at least 20 steps an epoch
    assert all(20 <= r["steps"] <= 24 for r in history)
    assert sum(r["steps"] for r in history) >= params.min_steps


def test_enough_data_trains_one_pass_an_epoch_in_the_batch_asked_for():
    windows = small_windows()
    params = MULTI_HORIZON.changed(batch_size=2, epochs=3, min_steps=6)
    sequences = Sequences(windows, params, torch.device("cpu"))
    assert fit_budget(sequences, params) == (2, 1)
    assert fit_budget(sequences, params.changed(min_steps=0)) == (2, 1)


def test_a_validation_part_shorter_than_a_chunk_is_still_scored_whole():
    windows = small_windows()  # 80 validation hours: 43 origins with all 38 hours ahead in it
    params = MULTI_HORIZON.changed(burn_in_hours=2)  # under the 46 hours a chunk scores
    origins = len(windows.split("val")) - (params.horizon_hours - 1)
    assert origins < params.chunk_hours - params.burn_in_hours
    sequences = Sequences(windows, params, torch.device("cpu"))
    assert sequences.labels("val") == origins
    assert sequences.labels("train") > 0
    _, history = train_model(
        windows, config(windows, params), params, seed=0, device=torch.device("cpu")
    )
    assert all(np.isfinite(r["val_loss"]) for r in history)
