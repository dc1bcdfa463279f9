"""Training: one recurrent forecaster fitted on the training part of the windows, once per seed.

`train.objective` picks what a step learns from (`OBJECTIVES`): chunks of consecutive hours, the
next hour scored at every hour and the hours ahead of every `origin_stride`-th hour by the
decoder's quantiles (`multi_horizon`, the default), or the study's windows scored on their last
hour (`window`). Batches
are gathered on the training device from the resident scaled series; the loss is read back to the
host only every `LOG_EVERY` steps and at the end of each epoch. The validation loss picks the
epoch to keep; the kept model's sMAPE on every validation window, forecast as evaluate forecasts
the test windows, is the figure experiments are compared on. In a group of processes
(`loadforecast.distributed`), each computes the gradient of its share of every batch.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from loadforecast import distributed
from loadforecast.config import TrainParams
from loadforecast.distributed import Group
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import network_forecasts
from loadforecast.metrics import spread
from loadforecast.model import ModelConfig, RNNForecaster, autocast
from loadforecast.quantiles import conformal_offsets, next_hour
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import (
    InputSpec,
    Windows,
    chunk_ends,
    gather,
    gather_chunks,
    gather_horizons,
    known_channels,
    reaching_ahead,
    run_starts,
)

log = logging.getLogger(__name__)

LOG_EVERY = 50  # steps between progress-bar loss updates (each one syncs with the device)
EVAL_LABELS = 16384  # labels per validation batch
# mse: the study's. l1: the mean absolute error, which like sMAPE does not square the errors.
LOSSES = {"mse": nn.functional.mse_loss, "l1": nn.functional.l1_loss}


def model_config(cell: str, windows: Windows, params: TrainParams) -> ModelConfig:
    """The network of `cell` for the channels of `windows`."""
    decoder = {}
    if OBJECTIVES[params.objective].chunks:
        decoder = {
            "horizons": params.horizon_hours,
            "quantiles": tuple(params.quantiles),
            "known_size": known_channels(windows.spec, windows.series.shape[1]),
            "context_size": params.context_size,
            "decoder_size": params.decoder_size,
        }
    return ModelConfig(
        cell=cell,
        input_size=len(windows.spec.channels(windows.features)),
        hidden_size=params.hidden_size,
        num_layers=params.num_layers,
        dropout=params.dropout,
        target=params.target,
        **decoder,
    )


def pinball_loss(
    quantiles: torch.Tensor, targets: torch.Tensor, levels: tuple[float, ...]
) -> torch.Tensor:
    """The quantile (pinball) loss, the mean over every forecast and level: quantiles (..., Q)
    of targets (...); a level q weighs a forecast too low by q and one too high by 1 - q."""
    level = torch.tensor(levels, device=quantiles.device, dtype=quantiles.dtype)
    error = targets[..., None] - quantiles
    return torch.maximum(level * error, (level - 1) * error).mean()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def window_loss(sequences: Sequences, model: nn.Module, series, ends, split: str):
    """The study's: `train.loss` of each `lookback`-hour window's forecast of its label."""
    inputs, labels = gather(series, ends, sequences.spec)
    return LOSSES[sequences.params.loss](model(inputs)[:, -1].float(), labels)


def multi_horizon_loss(sequences: Sequences, model: nn.Module, series, ends, split: str):
    """`train.loss` of the next-hour forecast of every scored hour of the chunks, plus the
    pinball loss of the decoder's quantiles of the hours ahead of every `origin_stride`-th
    scored hour (from a random first one in training, the first in validation)."""
    params, chunk = sequences.params, sequences.params.chunk_hours
    inputs, labels = gather_chunks(series, ends, sequences.spec, chunk)
    burn_in = chunk - sequences.scored[split]
    stride = params.origin_stride
    phase = torch.randint(stride, (), generator=sequences.origin_phases) if split == "train" else 0
    positions = torch.arange(burn_in + int(phase), chunk, stride, device=series.device)
    origins = ends[:, None] - (chunk - 1) + positions  # (B, P) label rows
    known, targets = gather_horizons(series, origins.ravel(), sequences.spec, sequences.horizons)
    known = known.view(*origins.shape, *known.shape[1:])
    forecast, quantiles = model(inputs, positions=positions, known=known)
    targets = targets.view(*origins.shape, sequences.horizons)
    return LOSSES[params.loss](forecast[:, burn_in:].float(), labels[:, burn_in:]) + pinball_loss(
        quantiles.float(), targets, tuple(params.quantiles)
    )


@dataclass(frozen=True)
class Objective:
    """A training objective: its loss, and whether its sequences are chunks of consecutive hours
    (scored after a burn-in) feeding a multi-horizon decoder, or single windows."""

    loss: Callable
    chunks: bool


OBJECTIVES = {
    "multi_horizon": Objective(multi_horizon_loss, chunks=True),
    "window": Objective(window_loss, chunks=False),
}


class Sequences:
    """What the objective trains and validates on: the ends of its sequences, and their loss.

    Windows (the study's): each sequence is one window of `lookback` hours, scored on its last
    hour. Chunks: each sequence is `chunk_hours` consecutive hours, scored at every hour after
    its first `burn_in_hours`, so that each label costs about one recurrent step instead of
    `lookback`; only origins whose `horizon_hours` targets are all in the split are scored.
    Chunks tile the training part afresh each epoch (a random phase), so each training label is
    scored about once an epoch; validation chunks tile the validation part once, and may read
    training hours as their burn-in. A validation part shorter than the scored hours of a chunk
    (a small series) is scored on chunks that score all of it, the burn-in longer by as much.
    Ends live on the training device.
    """

    def __init__(self, windows: Windows, params: TrainParams, device: torch.device) -> None:
        self.spec, self.params = windows.spec, params
        self.objective = OBJECTIVES[params.objective]
        # The first origin of each training batch, drawn alike in every process of a group:
        # one draw per step, from the process's seed.
        self.origin_phases = torch.Generator().manual_seed(torch.initial_seed())
        chunks = self.objective.chunks
        self.horizons = params.horizon_hours if chunks else 1
        self.scored_hours = params.chunk_hours - params.burn_in_hours if chunks else 1
        index = windows.index.sort_values("label_row")
        label_rows = index["label_row"].to_numpy()
        self.rows, self.phase, self.scored = {}, {}, {}
        for split in ("train", "val"):
            # the origins of the split whose every target is in it too
            scored = reaching_ahead(label_rows, (index["split"] == split).to_numpy(), self.horizons)
            self.scored[split] = self.scored_hours
            if chunks:
                if split == "val":
                    self.scored[split] = min(self.scored_hours, longest_run(label_rows, scored))
                rows, phase = chunk_ends(
                    label_rows, scored, params.chunk_hours, max(self.scored[split], 1)
                )
                self.phase[split] = torch.tensor(phase, device=device)
            else:
                rows = label_rows[scored]
            self.rows[split] = torch.tensor(rows, device=device)

    def labels(self, split: str) -> int:
        """Labels scored in one pass over `split` (0 when it has none)."""
        return len(self.ends(split)) * self.scored[split]

    def ends(self, split: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sequence ends of one pass over `split`; with `generator`, an epoch's shuffled draw."""
        rows, scored = self.rows[split], max(self.scored[split], 1)
        if self.phase:
            offset = 0  # validation: tiled from the start of each stretch
            if generator is not None:
                offset = torch.randint(scored, (), device=rows.device, generator=generator)
            tiles = (self.phase[split] + offset) % scored == scored - 1
            rows = rows[tiles]
        if generator is None:
            return rows
        order = torch.randperm(len(rows), device=rows.device, generator=generator)
        if self.params.max_labels_per_epoch:
            order = order[: math.ceil(self.params.max_labels_per_epoch / self.scored_hours)]
        return rows[order]

    def loss(
        self, model: nn.Module, series: torch.Tensor, ends: torch.Tensor, split: str = "train"
    ) -> torch.Tensor:
        """The objective's loss over the `split` sequences ending at `ends`."""
        with autocast(series.device, self.params.precision):
            return self.objective.loss(self, model, series, ends, split)


@torch.inference_mode()
def mean_loss(
    model: nn.Module, series: torch.Tensor, sequences: Sequences, split: str = "val"
) -> float:
    """`train.loss` of `model` over one pass of `split`, in scaled units."""
    model.eval()
    ends = sequences.ends(split)
    total = torch.zeros((), device=series.device)
    for batch in ends.split(max(1, EVAL_LABELS // sequences.scored[split])):
        total += sequences.loss(model, series, batch, split) * len(batch)
    return total.item() / max(len(ends), 1)


def longest_run(label_rows: np.ndarray, scored: np.ndarray) -> int:
    """The most consecutive label rows (hours) that are all `scored`."""
    position = np.arange(len(label_rows))
    consecutive = np.r_[False, np.diff(label_rows) == 1] & scored & np.r_[False, scored[:-1]]
    lengths = position - run_starts(consecutive) + 1
    return int(lengths[scored].max()) if scored.any() else 0


def check_coverage(params: TrainParams, spec: InputSpec) -> None:
    """Chunks must train the hour that evaluation reads: the last of a `lookback`-hour window,
    i.e. position `lookback - 1` of a chunk."""
    if OBJECTIVES[params.objective].chunks and not (
        params.burn_in_hours < spec.lookback <= params.chunk_hours
    ):
        raise LoadForecastError(
            f"burn_in_hours = {params.burn_in_hours} and chunk_hours = {params.chunk_hours} do "
            f"not train the hour that a forecast is made from (lookback = {spec.lookback}); "
            "need burn_in_hours < lookback <= chunk_hours"
        )


def fit_budget(sequences: Sequences, params: TrainParams) -> tuple[int, int]:
    """The batch size and the passes over the training part per epoch. On a series of fewer
    sequences than `train.batch_size`, a batch is all of them; and an epoch makes as many passes
    as it takes for `train.min_steps` optimizer steps over all epochs, so that the budget follows
    the data, not only the number of epochs. PJM's data: the batch size and one pass."""
    per_pass = len(sequences.ends("train"))
    if params.max_labels_per_epoch:
        per_pass = min(per_pass, math.ceil(params.max_labels_per_epoch / sequences.scored_hours))
    per_pass = max(per_pass, 1)
    batch_size = min(params.batch_size, per_pass)
    wanted = math.ceil(params.min_steps / params.epochs) * batch_size
    return batch_size, max(1, math.ceil(wanted / per_pass))


def epoch_ends(sequences: Sequences, generator: torch.Generator, passes: int) -> torch.Tensor:
    """One epoch's sequence ends: `passes` shuffled draws over the training part, shuffled
    together."""
    if passes == 1:
        return sequences.ends("train", generator)
    ends = torch.cat([sequences.ends("train", generator) for _ in range(passes)])
    return ends[torch.randperm(len(ends), device=ends.device, generator=generator)]


def make_schedule(optimizer: torch.optim.Optimizer, params: TrainParams, steps: int):
    """The learning-rate schedule over all `steps` of training; `train.lr` is its peak."""
    if params.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    if params.lr_schedule == "one_cycle":
        # OneCycleLR reaches its lowest rate at step total_steps - 1: the state after the last step.
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=params.lr, total_steps=steps + 1
        )
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)


def train_model(
    windows: Windows,
    config: ModelConfig,
    params: TrainParams,
    seed: int,
    device: torch.device,
    group: Group = distributed.ALONE,
    progress_bar: bool = True,
    start: dict[str, torch.Tensor] | None = None,
) -> tuple[RNNForecaster, list[dict[str, float]]]:
    """Train a forecaster from random weights, or from the weights `start`; return it with one
    history record per epoch.

    With validation labels, the returned weights are those of the epoch with the lowest
    validation loss, and training stops after `patience` epochs without improvement (0 = never).
    Test windows are never read here. In a group of processes, each computes the gradient of
    its share of every batch and DistributedDataParallel averages them, so the steps are those
    of one process with the same batches (every process then validates the same weights).
    """
    check_coverage(params, windows.spec)
    seed_everything(seed)
    series = torch.from_numpy(windows.series).to(device)
    sequences = Sequences(windows, params, device)
    check_training_labels(sequences, params)
    generator = torch.Generator(device=device).manual_seed(seed)
    batch_size, passes = fit_budget(sequences, params)
    if passes > 1 and group.leader:
        log.info(
            "a small series: %d passes over the training part per epoch in batches of %d, for "
            "%d optimizer steps at least",
            passes,
            batch_size,
            params.min_steps,
        )
    epochs = [epoch_ends(sequences, generator, passes) for _ in range(params.epochs)]
    if group.size > 1:  # the same batches everywhere, whatever each device's generator does
        for ends in epochs:
            torch.distributed.broadcast(ends, src=0)

    model = RNNForecaster(config)
    if start is not None:
        model.load_state_dict(start)
    model = model.to(device)
    net = model
    if group.size > 1:
        net = nn.parallel.DistributedDataParallel(model)  # rank 0's initial weights everywhere
        torch.manual_seed(seed + group.rank)  # each share its own dropout masks
    optimizer = torch.optim.AdamW(
        model.parameters(), params.lr, weight_decay=params.weight_decay, fused=device.type == "cuda"
    )
    steps = sum(math.ceil(len(ends) / batch_size) for ends in epochs)
    schedule = make_schedule(optimizer, params, steps)
    best = BestEpoch()
    history: list[dict[str, float]] = []
    for epoch, ends in enumerate(epochs, start=1):
        bar = tqdm(
            ends.split(batch_size),
            unit="batch",
            desc=f"{config.cell} seed {seed} epoch {epoch}/{params.epochs}",
            disable=not (group.leader and progress_bar),
        )
        record = {"epoch": epoch}
        record |= train_epoch(net, sequences, series, bar, optimizer, schedule, group, params)
        if sequences.labels("val"):
            started = time.perf_counter()
            # Rank 0's figure everywhere, so that every process keeps and stops alike.
            record["val_loss"] = distributed.leaders(mean_loss(model, series, sequences), group)
            record["val_seconds"] = time.perf_counter() - started
            best.update(record, model)
        if group.leader:
            log.info("%s", record)
        history.append(record)
        if params.patience and best.epoch and epoch - best.epoch >= params.patience:
            if group.leader:
                log.info("no validation improvement for %d epochs: stopping", params.patience)
            break
    best.restore(model)
    if best.epoch and group.leader:
        log.info("kept epoch %d (validation loss %.6g)", best.epoch, best.loss)
    return model, history


def check_training_labels(sequences: Sequences, params: TrainParams) -> None:
    """Refuse a training part too short to hold one sequence."""
    if sequences.labels("train") == 0:
        of_chunks = (
            f" of {params.chunk_hours} consecutive hours (a chunk)" if sequences.phase else ""
        )
        raise LoadForecastError(
            f"no training windows{of_chunks}: give more history, or shorter windows and chunks"
        )


def train_epoch(
    net: nn.Module,
    sequences: Sequences,
    series: torch.Tensor,
    batches: tqdm,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    group: Group,
    params: TrainParams,
) -> dict[str, float]:
    """One optimizer step per batch of sequence ends; the epoch's mean loss and its seconds."""
    net.train()
    started = time.perf_counter()
    total = torch.zeros((), device=series.device)
    labels = 0
    for step, batch in enumerate(batches, start=1):
        loss = group_loss(net, sequences, series, batch, group)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if params.grad_clip:
            nn.utils.clip_grad_norm_(net.parameters(), params.grad_clip, foreach=True)
        optimizer.step()
        schedule.step()
        total += loss.detach() * (len(batch) / group.size)
        labels += len(batch)
        if step % LOG_EVERY == 0 and group.leader:
            batches.set_postfix(loss=f"{loss.item():.6f}")
    batches.close()
    if group.size > 1:
        torch.distributed.all_reduce(total)
    return {
        "train_loss": total.item() / labels,
        "train_labels": labels * sequences.scored_hours,
        "steps": step,
        "lr": schedule.get_last_lr()[0],
        "seconds": time.perf_counter() - started,  # training alone, validation apart
    }


def group_loss(
    net: nn.Module, sequences: Sequences, series: torch.Tensor, batch: torch.Tensor, group: Group
) -> torch.Tensor:
    """The loss of this process's share of `batch`, weighted so that the group's average
    gradient is that of the whole batch's mean (shares differ by one sequence at most)."""
    if group.size == 1:
        return sequences.loss(net, series, batch)
    share = batch.tensor_split(group.size)[group.rank]
    loss = sequences.loss(net, series, share)
    if not len(share):  # a last batch smaller than the group: nothing to score
        loss = loss.nan_to_num()
    return loss * (len(share) * group.size / len(batch))


class BestEpoch:
    """The weights of the epoch with the lowest validation loss so far."""

    def __init__(self) -> None:
        self.loss, self.epoch, self.state = math.inf, 0, None

    def update(self, record: dict[str, float], model: nn.Module) -> None:
        if record["val_loss"] < self.loss:
            self.loss, self.epoch = record["val_loss"], record["epoch"]
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def best_record(history: list[dict[str, float]]) -> dict[str, float]:
    """The epoch whose weights `train_model` returned: lowest validation loss, else the last."""
    if "val_loss" in history[0]:
        return min(history, key=lambda r: r["val_loss"])
    return history[-1]


def validation_forecast(
    model: RNNForecaster,
    windows: Windows,
    device: torch.device,
    batch_size: int,
    precision: str = "fp32",
) -> np.ndarray:
    """Scaled forecasts of the next hour of every validation window, made exactly as evaluate
    forecasts the test windows (`forecaster.network_forecasts`)."""
    val = windows.split("val")
    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(val["label_row"].to_numpy(), device=device)
    model.eval()
    forecast = network_forecasts([model], series, rows, windows.spec, 1, batch_size, precision)
    return next_hour(forecast, model.config.median)[0]


CALIBRATION_ORIGINS = 20_000  # validation origins per region, at most, to calibrate on


def calibration_offsets(
    model: RNNForecaster,
    windows: Windows,
    device: torch.device,
    batch_size: int,
    precision: str = "fp32",
) -> dict[str, np.ndarray]:
    """Each region's split-conformal offsets (horizons, levels) of the decoder's quantiles
    (`quantiles.conformal_offsets`), in scaled units, from the validation origins whose every
    hour ahead is a validation label (evenly spaced, a stride coprime with 24 so that every
    hour of the day issues): {} for a network without a decoder or without a validation
    part."""
    config = model.config
    index = windows.index.sort_values("label_row")
    label_rows = index["label_row"].to_numpy()
    reach = reaching_ahead(label_rows, (index["split"] == "val").to_numpy(), config.horizons)
    if model.decoder is None or not reach.any():
        return {}
    series = torch.from_numpy(windows.series).to(device)
    offsets = {}
    for region, origins in index[reach].groupby("region", sort=False):
        stride = math.ceil(len(origins) / CALIBRATION_ORIGINS)
        while stride > 1 and math.gcd(stride, 24) > 1:
            stride += 1
        rows = origins["label_row"].to_numpy()[::stride]
        quantiles = network_forecasts(
            [model.eval()],
            series,
            torch.tensor(rows, device=device),
            windows.spec,
            config.horizons,
            batch_size,
            precision,
        )[0]
        actual = windows.series[rows[:, None] + np.arange(config.horizons), LOAD_COLUMN]
        offsets[region] = conformal_offsets(quantiles, actual, config.levels)
    return offsets


def selection_figures(summaries: dict[str, dict]) -> dict[str, float]:
    """The figures to select configurations by (`dvc exp show --sort-by`): validation, never
    test; the mean over seeds, and the sMAPE's sample standard deviation."""
    figures = {}
    for name, key in (("val_smape", "val_smape"), ("best_val_loss_mean", "best_val_loss")):
        values = [s[key] for s in summaries.values() if key in s]
        if len(values) == len(summaries):
            mean, std = spread(values)
            figures[name] = mean
            if key == "val_smape":
                figures["val_smape_std"] = std
    return figures
