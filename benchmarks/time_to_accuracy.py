"""Time to accuracy at the study's network size: one label per window against every hour.

Both sides train the study's network (2 x 256, dropout 0.2) on the same windows, inputs and
target (params.yaml's), with the same number of labels per step: the study's loop (`window`
objective, 1,024 windows a step, Adam 0.001) and ours (`multi_horizon` objective, chunks of
`train.chunk_hours` scored after `train.burn_in_hours`, as many chunks as make about 1,024 labels,
params.yaml's schedule). After each epoch of ours, and after the study's sampled steps, both are
scored with the same code on the same fixed sample of validation windows (every k-th, forecast
from a zero state as evaluate does), against the wall-clock seconds of training so far (scoring
excluded). The study's epoch is timed on `--study-steps` steps and projected to a full epoch;
the result file says so. On a CPU, the study's own DataLoader loop trains at the speed of our
`window` objective (benchmarks/results/training-cpu-20261123.json: 140.7 against 145.6
windows/s), so the `window` objective stands in for it here.

    python -m benchmarks.time_to_accuracy --data-dir ../shared/data/pjm-hourly --cells lstm gru
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from benchmarks.training import report_header
from loadforecast.calendar import add_time_features
from loadforecast.data import read_regions
from loadforecast.files import write_json
from loadforecast.metrics import validation_smape
from loadforecast.model import select_device
from loadforecast.settings import PARAMS_FILE, parse_params
from loadforecast.training import (
    model_config,
    train_model,
    validation_forecast,
)
from loadforecast.windows import build_windows

RESULTS = Path(__file__).parent / "results"
STUDY_BATCH = 1024


def timed_training(windows, cell, train, params, device, every: int) -> dict:
    """Train one full schedule with its validation part hidden, as the study validated nothing
    (the last epoch is kept); then score the model on every `every`-th validation window, as
    train scores it with `params`."""
    config = model_config(cell, windows, train)
    hidden = windows.index.assign(split=windows.index["split"].replace("val", "held out"))
    model, history = train_model(replace(windows, index=hidden), config, train, 42, device)
    return {
        "epochs": len(history),
        "train_labels": sum(r["train_labels"] for r in history),
        "train_seconds": round(sum(r["seconds"] for r in history), 1),
        "val_smape_sample": round(
            sampled_validation_smape(model, windows, device, params, every),
            4,
        ),
    }


def sampled_validation_smape(model, windows, device, params, every: int) -> float:
    """sMAPE of `model` on every `every`-th validation window, forecast as train forecasts."""
    val = windows.split("val")
    sampled = replace(windows, index=windows.index.drop(val.index.difference(val.index[::every])))
    batch, precision = params.evaluate.batch_size, params.train.precision
    forecast = validation_forecast(model, sampled, device, batch, precision)
    return validation_smape(sampled, {"model": forecast})["model"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["gru", "lstm"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--study-steps", type=int, default=40)
    parser.add_argument("--val-every", type=int, default=12, help="score every k-th window")
    parser.add_argument("--regions", nargs="+", help="default: data.regions in params.yaml")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--output", type=Path, help="default: results/time-to-accuracy-<device>-<date>"
    )
    args = parser.parse_args()
    device = select_device(args.device)
    params = parse_params(yaml.safe_load(PARAMS_FILE.read_text()))
    regions = list(args.regions or params.data.regions)
    table, _ = read_regions(args.data_dir, regions, params.ingest)
    features = add_time_features(table, params.features)
    windows, _ = build_windows(features, params.window)
    n_train = len(windows.split("train"))
    scored_hours = params.train.chunk_hours - params.train.burn_in_hours
    chunks = max(1, round(STUDY_BATCH / scored_hours))
    base = params.train.changed(
        hidden_size=256, num_layers=2, dropout=0.2, device=str(device), min_steps=0
    )
    study = base.changed(
        objective="window",
        batch_size=STUDY_BATCH,
        lr=0.001,
        lr_schedule="constant",
        grad_clip=0.0,
        epochs=1,
        patience=0,
        max_labels_per_epoch=args.study_steps * STUDY_BATCH,
    )
    path = (
        args.output or RESULTS / f"time-to-accuracy-{device.type}-{datetime.now(UTC):%Y%m%d}.json"
    )
    report = {
        **report_header(
            "time to accuracy at 2 x 256: window objective (the study's) vs multi-horizon chunks",
            "benchmarks.time_to_accuracy",
            device,
        ),
        "train_labels": n_train,
        "val_windows_scored": len(windows.split("val").iloc[:: args.val_every]),
        "labels_per_step": {"study": STUDY_BATCH, "ours": chunks * scored_hours},
        "results": {},
    }
    for cell in args.cells:
        study_run = timed_training(windows, cell, study, params, device, args.val_every)
        step_seconds = study_run["train_seconds"] / args.study_steps
        study_epoch = step_seconds * n_train / STUDY_BATCH
        entry = {
            "study": {
                **study_run,
                "steps_timed": args.study_steps,
                "seconds_per_step": round(step_seconds, 3),
                "epoch_seconds_projected": round(study_epoch, 1),
            },
            "ours": [],
        }
        for epochs in args.epochs:
            ours = base.changed(objective="multi_horizon", batch_size=chunks, epochs=epochs)
            entry["ours"].append(
                timed_training(windows, cell, ours, params, device, args.val_every)
            )
            print(cell, entry["ours"][-1], flush=True)
        ours_epoch = min(run["train_seconds"] / run["epochs"] for run in entry["ours"])
        entry["ours_epoch_seconds"] = round(ours_epoch, 1)
        entry["epoch_speedup"] = round(study_epoch / ours_epoch, 1)
        report["results"][cell] = entry
        print(cell, entry["study"], entry["epoch_speedup"], flush=True)
        write_json(path, report)


if __name__ == "__main__":
    main()
