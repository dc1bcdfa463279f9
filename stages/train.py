"""train: fit a recurrent forecaster (`gru` or `lstm`) once per seed on the training windows.

Batches are gathered on the training device from the resident scaled series; the loss is read back
to the host only every `LOG_EVERY` steps and at the end of each epoch. The validation windows pick
the epoch to keep. Each seed is an MLflow run with its params, per-epoch losses and its model; the
stage's checkpoint holds every seed's model.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stages.batches import InputSpec, Windows, gather, load_windows
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, write_json
from stages.model import CELLS, ModelConfig, RNNForecaster, autocast, select_device
from stages.params import TrainParams, load_params

log = logging.getLogger(__name__)

LOG_EVERY = 50  # steps between progress-bar loss updates (each one syncs with the device)
EVAL_BATCH = 16384


def epoch_size(n_train: int, max_windows_per_epoch: int) -> int:
    """Windows drawn per epoch: all of them, or at most `max_windows_per_epoch` (0 = no limit)."""
    return min(n_train, max_windows_per_epoch or n_train)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.inference_mode()
def mean_loss(
    model: nn.Module, series: torch.Tensor, rows: torch.Tensor, spec: InputSpec, precision: str
) -> float:
    """Mean squared error of `model` over the windows ending at `rows`, in scaled units."""
    model.eval()
    total = torch.zeros((), device=series.device)
    for batch in rows.split(EVAL_BATCH):
        inputs, labels = gather(series, batch, spec)
        with autocast(series.device, precision):
            forecast = model(inputs)
        total += nn.functional.mse_loss(forecast.float(), labels, reduction="sum")
    return total.item() / max(len(rows), 1)


def train_model(
    windows: Windows,
    config: ModelConfig,
    params: TrainParams,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[dict[str, float]], None] = lambda _: None,
) -> tuple[RNNForecaster, list[dict[str, float]]]:
    """Train a forecaster; return it with one history record per epoch.

    With validation windows, the returned weights are those of the epoch with the lowest
    validation loss, and training stops after `patience` epochs without improvement (0 = never).
    Test windows are never read here.
    """
    seed_everything(seed)
    series = torch.from_numpy(windows.series).to(device)
    train_rows = torch.tensor(windows.split("train")["label_row"].to_numpy(), device=device)
    val_rows = torch.tensor(windows.split("val")["label_row"].to_numpy(), device=device)
    if len(train_rows) == 0:
        raise PipelineError("no training windows: check window.* in params.yaml")
    per_epoch = epoch_size(len(train_rows), params.max_windows_per_epoch)
    steps = math.ceil(per_epoch / params.batch_size)

    model = RNNForecaster(config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=params.lr,
        weight_decay=params.weight_decay,
        fused=device.type == "cuda",
    )
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps * params.epochs)
        if params.lr_schedule == "cosine"
        else torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    history: list[dict[str, float]] = []
    best_loss, best_state, best_epoch = math.inf, None, 0
    for epoch in range(1, params.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(train_rows), device=device, generator=generator)[:per_epoch]
        total = torch.zeros((), device=device)
        bar = tqdm(
            order.split(params.batch_size),
            total=steps,
            unit="batch",
            desc=f"{config.cell} seed {seed} epoch {epoch}/{params.epochs}",
        )
        for step, batch in enumerate(bar, start=1):
            inputs, labels = gather(series, train_rows[batch], windows.spec)
            with autocast(device, params.precision):
                forecast = model(inputs)
            loss = nn.functional.mse_loss(forecast.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if params.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), params.grad_clip, foreach=True)
            optimizer.step()
            schedule.step()
            total += loss.detach() * len(batch)
            if step % LOG_EVERY == 0:
                bar.set_postfix(loss=f"{loss.item():.6f}")
        bar.close()
        record = {"epoch": epoch, "train_loss": total.item() / per_epoch}
        if len(val_rows):
            record["val_loss"] = mean_loss(model, series, val_rows, windows.spec, params.precision)
            if record["val_loss"] < best_loss:
                best_loss, best_epoch = record["val_loss"], epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        record["lr"] = schedule.get_last_lr()[0]
        record["seconds"] = time.perf_counter() - started
        log.info("%s", record)
        history.append(record)
        on_epoch(record)
        if params.patience and best_epoch and epoch - best_epoch >= params.patience:
            log.info("no validation improvement for %d epochs: stopping", params.patience)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
        log.info("kept epoch %d (validation loss %.6g)", best_epoch, best_loss)
    return model, history


def best_record(history: list[dict[str, float]]) -> dict[str, float]:
    """The epoch whose weights `train_model` returned: lowest validation loss, else the last."""
    if "val_loss" in history[0]:
        return min(history, key=lambda r: r["val_loss"])
    return history[-1]


def checkpoint(config: ModelConfig, windows: Windows, models: list[dict]) -> dict:
    """What evaluate needs to rebuild the models and check they match the windows."""
    return {
        "config": asdict(config),
        "spec": asdict(windows.spec),
        "features": windows.features,
        "models": models,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", choices=sorted(CELLS))
    parser.add_argument("windows", type=Path, help="input directory from the window stage")
    parser.add_argument("model", type=Path, help="output checkpoint: one model per seed")
    parser.add_argument("metrics", type=Path, help="output JSON: final figures per seed")
    parser.add_argument("history", type=Path, help="output directory: epoch records per seed")
    args = parser.parse_args()
    params = load_params()
    device = select_device(params.train.device)
    if device.type == "cpu" and params.train.precision == "bf16":
        log.warning(
            "train.precision = bf16 on the CPU: without bf16 instructions (AMX, AVX512-BF16) "
            "the CPU emulates them, 11x slower than fp32 on a 2-core AVX2 machine (README)"
        )
    windows = load_windows(args.windows)
    config = ModelConfig(
        cell=args.cell,
        input_size=len(windows.spec.channels(windows.features)),
        hidden_size=params.train.hidden_size,
        num_layers=params.train.num_layers,
        dropout=params.train.dropout,
        target=params.train.target,
    )
    n_train = len(windows.split("train"))

    from stages import tracking  # MLflow is imported only by the stages that log

    models, summaries, histories = [], {}, {}
    for seed in params.seeds:
        with tracking.start_run(run_name=f"{args.cell}-seed{seed}") as run:
            tracking.mlflow.log_params(
                {
                    "model": args.cell,
                    "seed": seed,
                    "device": str(device),
                    "channels": ",".join(windows.spec.channels(windows.features)),
                    **{f"window.{k}": v for k, v in asdict(windows.spec).items()},
                    "train_windows": n_train,
                    "val_windows": len(windows.split("val")),
                    **{f"train.{k}": v for k, v in asdict(params.train).items()},
                }
            )

            def log_epoch(record: dict[str, float]) -> None:
                metrics = {k: v for k, v in record.items() if k != "epoch"}
                tracking.mlflow.log_metrics(metrics, step=int(record["epoch"]))

            started = time.perf_counter()
            model, history = train_model(windows, config, params.train, seed, device, log_epoch)
            seconds = time.perf_counter() - started
            trained = len(history) * epoch_size(n_train, params.train.max_windows_per_epoch)
            best = best_record(history)
            summaries[f"seed{seed}"] = {
                **{k: v for k, v in history[-1].items() if k.endswith("_loss")},
                **(
                    {"best_epoch": best["epoch"], "best_val_loss": best["val_loss"]}
                    if "val_loss" in best
                    else {}
                ),
                "epochs": len(history),
                "train_seconds": round(seconds, 2),
                "windows_per_second": round(trained / seconds, 1),
                "device": str(device),
            }
            tracking.mlflow.log_metrics({"train_seconds": seconds})
            histories[seed] = history
            entry = {"seed": seed, "mlflow_run_id": run.info.run_id}
            entry["state_dict"] = model.state_dict()
            models.append(entry)
            with tempfile.TemporaryDirectory() as scratch:
                single = Path(scratch) / f"{args.cell}-seed{seed}.pt"
                torch.save(checkpoint(config, windows, [entry]), single)
                tracking.mlflow.log_artifact(str(single), artifact_path="model")

    with atomic_path(args.model) as tmp:
        torch.save(checkpoint(config, windows, models), tmp)
    with atomic_path(args.history) as tmp:
        tmp.mkdir()
        for seed, history in histories.items():
            write_json(tmp / f"seed{seed}.json", history)
    best = [s["best_val_loss"] for s in summaries.values() if "best_val_loss" in s]
    # The figure to select configurations by (`dvc exp show --sort-by`): validation, never test.
    selection = {"best_val_loss_mean": float(np.mean(best))} if best else {}
    write_json(args.metrics, {**selection, **summaries})
    log.info("%s -> %s", summaries, args.model)


if __name__ == "__main__":
    run_stage(main)
