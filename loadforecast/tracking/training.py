"""A cell's training in MLflow: one run for the cell, its seeds' averaged forecaster, and one
run nested under it per seed, each with the settings, loss curves (a step per epoch), seconds,
validation sMAPE and its forecaster as an MLflow model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from loadforecast import tracking
from loadforecast.forecaster import Forecaster
from loadforecast.seeds import TrainedSeed, val_smape
from loadforecast.tracking import pyfunc
from loadforecast.windows import Windows

# MLflow names of the loss curves: the run page draws `<section>/` metrics first, by section name.
CURVES = {"train_loss": "loss/train", "val_loss": "loss/val"}


def tracked_training(
    cell: str,
    seeds: list[int],
    settings: dict,
    dataset: Path,
    windows: Windows,
    train: Callable[[], list[TrainedSeed]],
    forecaster_of: Callable[[str, list[TrainedSeed]], Forecaster],
    example: pd.DataFrame,
) -> tuple[list[TrainedSeed], Forecaster]:
    """Run `train` (the `seeds`) inside the cell's run, log each seed's run and model, and
    return the seeds with the seeds' averaged forecaster (its `runs` naming the runs)."""
    with tracking.start_run(run_name=cell) as cell_run:
        tracking.mlflow.log_params(settings | {"seeds": ",".join(map(str, seeds))})
        tracking.log_dataset(dataset)
        trained = train()
        run_ids = []
        for seed in trained:
            name = f"{cell}-seed{seed.seed}"
            with tracking.start_run(run_name=name, nested=True) as run:
                tracking.mlflow.log_params(settings | {"seed": seed.seed})
                tracking.log_dataset(dataset)
                for record in seed.history:
                    curves = {CURVES.get(k, k): v for k, v in record.items() if k != "epoch"}
                    tracking.mlflow.log_metrics(curves, step=int(record["epoch"]))
                figures = {"train_seconds": seed.seconds} | val_smape(windows, [seed])
                tracking.mlflow.log_metrics(figures)
                run_ids.append(run.info.run_id)
                pyfunc.log_model(forecaster_of(name, [seed]), example)
        total = sum(round(seed.seconds, 2) for seed in trained)  # as metrics/train_<cell>.json
        tracking.mlflow.log_metrics({"train_seconds": total} | val_smape(windows, trained))
        forecaster = forecaster_of(f"{cell} (seeds {', '.join(map(str, seeds))})", trained)
        pyfunc.log_model(forecaster, example)
    forecaster.runs = {"cell": cell_run.info.run_id, "seeds": run_ids}
    return trained, forecaster
