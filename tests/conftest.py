"""Fixtures shared by several test modules. Generated data only: the real files stay outside."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from loadforecast.calendar import add_time_features
from loadforecast.data import PJM_READINGS
from loadforecast.forecaster import Forecaster, Recipe
from loadforecast.model import ModelConfig, RNNForecaster
from loadforecast.windows import Windows, build_windows
from tests.synthetic import POLICY, calendar, readings, window_params

REPO = Path(__file__).resolve().parents[1]
CALENDAR = calendar()


@pytest.fixture(scope="session")
def trained() -> tuple[Windows, list[RNNForecaster], Forecaster]:
    """Windows of the generated readings (lags of a day and a week, the calendar of the hour
    ahead), two untrained seeds of a small GRU, and their forecaster."""
    frame = add_time_features(readings(), CALENDAR)
    windows, _ = build_windows(frame, window_params(24, 0.1, 0.1, (24, 168), True, 168))
    config = ModelConfig("gru", len(windows.spec.channels(windows.features)), 8, 2, 0.0, "delta")
    models = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        models.append(RNNForecaster(config).eval())
    recipe = Recipe.for_windows("gru", config, windows, POLICY, CALENDAR, PJM_READINGS)
    return windows, models, Forecaster(recipe, [m.state_dict() for m in models], [1, 2])


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
