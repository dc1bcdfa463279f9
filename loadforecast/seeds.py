"""Every seed of a cell, trained one after another or all at once in processes of their own.

On a CPU of few cores, one training process keeps them busy only part of the time: the GRU's
per-hour steps are too small for a second thread (an epoch on 2 cores takes as long with one
thread as with two), and the LSTM's kernel is no faster on two threads than two processes on
one thread each. `train.parallel_seeds` therefore trains each seed in its own process, the
cores shared among them (each process gets `cores // seeds` threads, at least one). Each
process runs exactly what the sequential loop runs, seeded alike, so the figures agree within
float rounding (one thread sums in another order than two).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from loadforecast import distributed
from loadforecast.checks import Guard
from loadforecast.config import TrainParams
from loadforecast.distributed import Group
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster, Recipe
from loadforecast.metrics import validation_smape
from loadforecast.model import ModelConfig
from loadforecast.quantiles import average_seeds
from loadforecast.training import calibration_offsets, train_model, validation_forecast
from loadforecast.transfer import starting_states
from loadforecast.windows import Windows

log = logging.getLogger(__name__)


@dataclass
class TrainedSeed:
    """One seed's kept weights, epoch records, scaled validation forecasts, the calibration of
    its quantiles (region -> offsets) and training time."""

    seed: int
    state: dict[str, torch.Tensor]
    history: list[dict[str, float]]
    val_forecast: np.ndarray
    calibration: dict[str, np.ndarray]
    seconds: float


def val_smape(windows: Windows, trained: list[TrainedSeed]) -> dict[str, float]:
    """{"val_smape": the sMAPE of the seeds' averaged validation forecasts} ({} without a
    validation part): the figure experiments are compared on."""
    forecast = average_seeds(np.stack([t.val_forecast for t in trained]))
    return validation_smape(windows, {"val_smape": forecast})


def train_seed(
    windows: Windows,
    config: ModelConfig,
    params: TrainParams,
    seed: int,
    device: torch.device,
    eval_batch: int,
    group: Group = distributed.ALONE,
    progress_bar: bool = True,
    start: dict[str, torch.Tensor] | None = None,
) -> TrainedSeed:
    """Train one seed (from the weights `start`, if given), then forecast every validation
    window as evaluate forecasts the test's, and calibrate its quantiles on the validation
    origins."""
    started = time.perf_counter()
    model, history = train_model(windows, config, params, seed, device, group, progress_bar, start)
    seconds = time.perf_counter() - started
    with distributed.every_core(group, device):
        forecast = validation_forecast(model, windows, device, eval_batch, params.precision)
        calibration = calibration_offsets(model, windows, device, eval_batch, params.precision)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return TrainedSeed(seed, state, history, forecast, calibration, seconds)


def _use_threads(threads: int) -> None:
    """A worker's start: its share of the cores, and the parent's log format."""
    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def train_seeds(
    windows: Windows,
    config: ModelConfig,
    params: TrainParams,
    seeds: list[int],
    device: torch.device,
    eval_batch: int,
    group: Group = distributed.ALONE,
) -> list[TrainedSeed]:
    """Every seed, in the order given, from random weights or from the forecaster of the cell
    in the directory `train.init_from` (`loadforecast.transfer`): at once in worker processes
    when `train.parallel_seeds` holds on the CPU for one process alone, else one after another
    on all cores."""
    starts: list = [None] * len(seeds)
    if params.init_from:
        path = Path(params.init_from) / f"{config.cell}.pt"
        starts = starting_states(path, config, windows.spec, windows.features, len(seeds))
    parallel = params.parallel_seeds and device.type == "cpu" and group.size == 1
    if not parallel or len(seeds) == 1:
        return [
            train_seed(windows, config, params, s, device, eval_batch, group, start=start)
            for s, start in zip(seeds, starts, strict=True)
        ]
    threads = max(1, torch.get_num_threads() // len(seeds))
    log.info("%d seeds at once, one process each of %d thread(s)", len(seeds), threads)
    with ProcessPoolExecutor(
        max_workers=len(seeds),
        mp_context=multiprocessing.get_context("spawn"),  # no fork of the parent's threads
        initializer=_use_threads,
        initargs=(threads,),
    ) as pool:
        jobs = [
            pool.submit(
                train_seed,
                windows,
                config,
                params,
                seed,
                device,
                eval_batch,
                progress_bar=False,
                start=start,
            )
            for seed, start in zip(seeds, starts, strict=True)
        ]
        try:
            return [job.result() for job in jobs]
        except BrokenProcessPool as err:
            raise LoadForecastError(
                f"a process training one of the seeds {seeds} died (out of memory?); "
                "set train.parallel_seeds: false to train them one after another"
            ) from err


def trained_forecaster(
    recipe: Recipe,
    trained: list[TrainedSeed],
    limits: dict[str, Guard],
    device: torch.device | str = "cpu",
) -> Forecaster:
    """The forecaster of `trained`'s networks with their calibration, and the readings' limits
    `limits` (`checks.guards` of the windows they were trained on)."""
    states, seeds = [t.state for t in trained], [t.seed for t in trained]
    calibration = [t.calibration for t in trained]
    return Forecaster(recipe, states, seeds, device, calibration=calibration, guards=limits)
