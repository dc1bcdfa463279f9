"""Fixtures shared by several test modules. Generated data only: the real files stay outside."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch

from loadforecast.calendar import add_time_features
from loadforecast.checks import guards
from loadforecast.data import PJM_READINGS
from loadforecast.forecaster import Forecaster, Recipe
from loadforecast.model import ModelConfig, RNNForecaster
from loadforecast.windows import Windows, build_windows, known_channels
from tests import REPO
from tests.synthetic import POLICY, calendar, readings, window_params

CALENDAR = calendar()
HORIZONS, LEVELS = 40, (0.1, 0.5, 0.9)  # the multi-horizon networks of the tests


class Untrained(NamedTuple):
    """Windows of the generated readings, the untrained networks of two seeds, their forecaster."""

    windows: Windows
    models: list[RNNForecaster]
    forecaster: Forecaster


def untrained(windows: Windows, config: ModelConfig) -> Untrained:
    """Two seeds (1, 2) of `config`, untrained; a decoder's quantiles set apart, as a trained
    model's would be."""
    models = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = RNNForecaster(config).eval()
        if model.decoder is not None:
            with torch.no_grad():
                model.decoder.local_mlp[-1].bias.copy_(torch.tensor([-0.05, 0.0, 0.05]))
        models.append(model)
    recipe = Recipe.for_windows(config.cell, config, windows, POLICY, CALENDAR, PJM_READINGS)
    states, limits = [m.state_dict() for m in models], guards(windows, config.levels)
    return Untrained(windows, models, Forecaster(recipe, states, [1, 2], guards=limits))


def multi_horizon_config(windows: Windows, cell: str = "gru") -> ModelConfig:
    """A small network of `cell` with the decoder: HORIZONS hours at LEVELS."""
    return ModelConfig(
        cell,
        len(windows.spec.channels(windows.features)),
        8,
        1,
        target="delta",
        horizons=HORIZONS,
        quantiles=LEVELS,
        known_size=known_channels(windows.spec, windows.series.shape[1]),
        context_size=4,
        decoder_size=8,
    )


@pytest.fixture(scope="session")
def generated_windows() -> Windows:
    """Windows of the generated readings: lags of a day and a week, the calendar of the hour
    ahead, 10% validation and 10% test."""
    frame = add_time_features(readings(), CALENDAR)
    return build_windows(frame, window_params(24, 0.1, 0.1, (24, 168), True, 168))[0]


@pytest.fixture(scope="session")
def untrained_gru(generated_windows: Windows) -> Untrained:
    """A multi-horizon GRU (the product's kind) of two untrained seeds on `generated_windows`."""
    return untrained(generated_windows, multi_horizon_config(generated_windows))


@pytest.fixture(scope="session")
def untrained_one_hour_gru(generated_windows: Windows) -> Untrained:
    """A GRU without a decoder (the study's kind: the next hour only), two untrained seeds."""
    config = ModelConfig(
        "gru", len(generated_windows.spec.channels(generated_windows.features)), 8, 2, 0.0, "delta"
    )
    return untrained(generated_windows, config)


def run_benchmark(*args: str, module: str = "benchmarks.training") -> subprocess.CompletedProcess:
    """Run a benchmark's command on the CPU, as its docstring shows."""
    return subprocess.run(
        [sys.executable, "-m", module, "--device", "cpu", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def benchmark() -> Callable[..., subprocess.CompletedProcess]:
    return run_benchmark
