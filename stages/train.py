"""train: fit one recurrent forecaster (`gru` or `lstm`) on the training windows.

Batches are gathered on the training device from the resident scaled series; the loss is read back
to the host only every `LOG_EVERY` steps and at the end of each epoch. Every run is logged to MLflow
with its params, per-epoch losses and the model.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from stages.batches import Windows, gather, load_windows
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, write_json
from stages.model import CELLS, ModelConfig, RNNForecaster, select_device
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
def mean_loss(model: nn.Module, series: torch.Tensor, rows: torch.Tensor, lookback: int) -> float:
    """Mean squared error of `model` over the windows ending at `rows`, in scaled units."""
    model.eval()
    total = torch.zeros((), device=series.device)
    for batch in rows.split(EVAL_BATCH):
        inputs, labels = gather(series, batch, lookback)
        total += nn.functional.mse_loss(model(inputs), labels, reduction="sum")
    return total.item() / max(len(rows), 1)


def train_model(
    windows: Windows,
    config: ModelConfig,
    params: TrainParams,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[dict[str, float]], None] = lambda _: None,
) -> tuple[RNNForecaster, list[dict[str, float]]]:
    """Train a forecaster; return it with one history record per epoch."""
    seed_everything(seed)
    series = torch.from_numpy(windows.series).to(device)
    train_rows = torch.tensor(windows.split("train")["label_row"].to_numpy(), device=device)
    val_rows = torch.tensor(windows.split("val")["label_row"].to_numpy(), device=device)
    if len(train_rows) == 0:
        raise PipelineError("no training windows: check window.* in params.yaml")
    per_epoch = epoch_size(len(train_rows), params.max_windows_per_epoch)
    steps = math.ceil(per_epoch / params.batch_size)

    model = RNNForecaster(config).to(device)
    fused = device.type == "cuda"
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, fused=fused)
    generator = torch.Generator(device=device).manual_seed(seed)
    history: list[dict[str, float]] = []
    for epoch in range(1, params.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(train_rows), device=device, generator=generator)[:per_epoch]
        total = torch.zeros((), device=device)
        bar = tqdm(
            order.split(params.batch_size),
            total=steps,
            unit="batch",
            desc=f"{config.cell} epoch {epoch}/{params.epochs}",
        )
        for step, batch in enumerate(bar, start=1):
            inputs, labels = gather(series, train_rows[batch], windows.lookback)
            loss = nn.functional.mse_loss(model(inputs), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
            if step % LOG_EVERY == 0:
                bar.set_postfix(loss=f"{loss.item():.5f}")
        record = {"epoch": epoch, "train_loss": total.item() / per_epoch}
        if len(val_rows):
            record["val_loss"] = mean_loss(model, series, val_rows, windows.lookback)
        record["seconds"] = time.perf_counter() - started
        bar.close()
        log.info("%s", record)
        history.append(record)
        on_epoch(record)
    return model, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", choices=sorted(CELLS))
    parser.add_argument("windows", type=Path, help="input directory from the window stage")
    parser.add_argument("model", type=Path, help="output checkpoint")
    parser.add_argument("metrics", type=Path, help="output JSON: final training figures")
    parser.add_argument("history", type=Path, help="output JSON: one record per epoch")
    args = parser.parse_args()
    params = load_params()
    device = select_device(params.train.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    windows = load_windows(args.windows)
    config = ModelConfig(
        cell=args.cell,
        input_size=len(windows.features),
        hidden_size=params.train.hidden_size,
        num_layers=params.train.num_layers,
        dropout=params.train.dropout,
    )

    from stages import tracking  # MLflow is imported only by the stages that log

    with tracking.start_run(run_name=args.cell) as run:
        tracking.mlflow.log_params(
            {
                "model": args.cell,
                "seed": params.seed,
                "device": str(device),
                "features": ",".join(windows.features),
                "lookback": windows.lookback,
                "train_windows": len(windows.split("train")),
                **{f"train.{k}": v for k, v in asdict(params.train).items()},
            }
        )

        def log_epoch(record: dict[str, float]) -> None:
            metrics = {k: v for k, v in record.items() if k != "epoch"}
            tracking.mlflow.log_metrics(metrics, step=int(record["epoch"]))

        started = time.perf_counter()
        model, history = train_model(windows, config, params.train, params.seed, device, log_epoch)
        seconds = time.perf_counter() - started

        with atomic_path(args.model) as tmp:
            torch.save(
                {
                    "config": asdict(config),
                    "state_dict": model.state_dict(),
                    "features": windows.features,
                    "lookback": windows.lookback,
                    "mlflow_run_id": run.info.run_id,
                },
                tmp,
            )
        n_train = len(windows.split("train"))
        trained = len(history) * epoch_size(n_train, params.train.max_windows_per_epoch)
        summary = {
            **{k: v for k, v in history[-1].items() if k.endswith("_loss")},
            "epochs": len(history),
            "train_seconds": round(seconds, 2),
            "windows_per_second": round(trained / seconds, 1),
            "device": str(device),
        }
        write_json(args.metrics, summary)
        write_json(args.history, history)
        tracking.mlflow.log_metrics({"train_seconds": seconds})
        tracking.mlflow.log_artifact(str(args.model), artifact_path="model")
    log.info("%s -> %s", summary, args.model)


if __name__ == "__main__":
    run_stage(main)
