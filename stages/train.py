"""train: fit a recurrent forecaster (`gru` or `lstm`) once per seed on the training part
(`loadforecast.training`), and write the saved forecaster of all seeds (`loadforecast.forecaster`).

Each seed is an MLflow run with its params, per-epoch losses and its model, nested in the cell's
run, which holds the seeds' averaged model. With `train.processes` above 1 the stage relaunches
itself under torchrun (`loadforecast.distributed`); the group's leader alone logs and writes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from loadforecast import distributed
from loadforecast.baselines import losing_to_baselines, naive_validation_smape
from loadforecast.checks import guards
from loadforecast.distributed import Group
from loadforecast.errors import run_command
from loadforecast.files import atomic_path, write_json
from loadforecast.forecaster import Forecaster, Recipe
from loadforecast.model import CELLS, select_device
from loadforecast.readings import recent_readings
from loadforecast.seeds import TrainedSeed, train_seeds, trained_forecaster, val_smape
from loadforecast.settings import Params
from loadforecast.training import (
    best_record,
    check_coverage,
    model_config,
    selection_figures,
)
from loadforecast.windows import Windows, load_windows
from stages import repo

log = logging.getLogger(__name__)


def seed_summary(
    history: list[dict[str, float]],
    val_smape: dict[str, float],
    seconds: float,
    device: torch.device,
    group: Group,
) -> dict:
    """One seed's final figures: its last and kept epoch's losses, validation sMAPE and speed."""
    best = best_record(history)
    kept = (
        {"best_epoch": best["epoch"], "best_val_loss": best["val_loss"]}
        if "val_loss" in best
        else {}
    )
    return {
        **{k: v for k, v in history[-1].items() if k.endswith("_loss")},
        **kept,
        **val_smape,
        "epochs": len(history),
        "train_seconds": round(seconds, 2),
        "labels_per_second": round(sum(r["train_labels"] for r in history) / seconds, 1),
        "device": str(device),
        "processes": group.size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", choices=sorted(CELLS))
    parser.add_argument("windows", type=Path, help="input directory from the window stage")
    parser.add_argument("model", type=Path, help="output checkpoint: one model per seed")
    parser.add_argument("metrics", type=Path, help="output JSON: validation figures, time")
    parser.add_argument("seeds", type=Path, help="output JSON: final figures per seed")
    parser.add_argument("history", type=Path, help="output directory: epoch records per seed")
    args = parser.parse_args()
    params = repo.stage_params()
    windows = load_windows(args.windows)
    check_coverage(params.train, windows.spec)  # before any process or MLflow run is started
    if params.train.processes > 1 and not distributed.launched():
        distributed.check_devices(select_device(params.train.device), params.train.processes)
        sys.exit(distributed.relaunch(params.train.processes, "stages.train", sys.argv[1:]))
    group, device = distributed.join(params.train.device)
    try:
        train_cell(args, params, windows, group, device)
    finally:
        distributed.leave()


def train_cell(
    args: argparse.Namespace, params: Params, windows: Windows, group: Group, device: torch.device
) -> None:
    """Train one model per seed; the group's leader logs each to MLflow and writes the outputs
    (the seeds' epoch records once each seed has finished: they may train at once)."""
    if device.type == "cpu" and params.train.precision == "bf16" and group.leader:
        log.warning(
            "train.precision = bf16 on the CPU: without bf16 instructions (AMX, AVX512-BF16) "
            "the CPU emulates them, 11x slower than fp32 on a 2-core AVX2 machine "
            "(docs/how-it-works.md)"
        )
    config = model_config(args.cell, windows, params.train)
    eval_batch = params.evaluate.batch_size
    if not group.leader:
        train_seeds(windows, config, params.train, params.seeds, device, eval_batch, group)
        return

    from loadforecast.tracking.training import tracked_training  # MLflow: only if logging

    repo.track(params.project.name)

    limits = guards(windows, config.levels)  # the readings' limits, of every seed alike

    def forecaster_of(name: str, trained: list[TrainedSeed]) -> Forecaster:
        recipe = Recipe.for_windows(
            name, config, windows, params.ingest, params.features, params.data.readings
        )
        return trained_forecaster(recipe, trained, limits)

    settings = {
        "model": args.cell,
        "device": str(device),
        "processes": group.size,
        "channels": ",".join(windows.spec.channels(windows.features)),
        **{f"window.{k}": v for k, v in asdict(windows.spec).items()},
        "train_windows": len(windows.split("train")),
        "val_windows": len(windows.split("val")),
        **{f"train.{k}": v for k, v in params.train.model_dump().items()},
    }
    trained_seeds, trained = tracked_training(
        args.cell,
        params.seeds,
        settings,
        args.windows,
        windows,
        lambda: train_seeds(windows, config, params.train, params.seeds, device, eval_batch, group),
        forecaster_of,
        recent_readings(windows, windows.spec.reach, config.horizons),
    )
    summaries = {
        f"seed{t.seed}": seed_summary(t.history, val_smape(windows, [t]), t.seconds, device, group)
        for t in trained_seeds
    }
    averaged = val_smape(windows, trained_seeds)
    total_seconds = sum(s["train_seconds"] for s in summaries.values())
    figures = selection_figures(summaries)
    naive = naive_validation_smape(windows)
    if "val_smape" in figures:
        trained.validation = {"val_smape": figures["val_smape"], "naive": naive}
        if naive:
            figures["val_smape_best_naive"] = min(naive.values())
    trained.save(args.model)
    with atomic_path(args.history) as tmp:
        tmp.mkdir()
        for trained_seed in trained_seeds:
            write_json(tmp / f"seed{trained_seed.seed}.json", trained_seed.history)
    write_json(args.seeds, summaries)
    if averaged:
        figures["val_smape_ensemble"] = averaged["val_smape"]
    write_json(args.metrics, {**figures, "train_seconds": total_seconds})
    log.info("%s -> %s", summaries, args.model)
    validation = trained.validation
    if warning := losing_to_baselines(args.cell, validation.get("val_smape"), naive):
        log.warning("%s", warning)


if __name__ == "__main__":
    run_command(main)
