"""Model selection on the full data, judged on the validation windows only.

Each variant is params.yaml with `-S key=value` overrides (the syntax of `dvc exp run`), trained
once (the first seed) on every training label of the 12 regions, and scored by its true sMAPE on
every validation window, forecast exactly as evaluate forecasts the test windows (one
`lookback`-hour window each, from a zero state), beside the persistence baseline on the same
windows. The test windows are not read. Variants run one after another and the result file is
rewritten after each, so an interrupted run keeps what it measured.

    python -m benchmarks.selection --data-dir ../shared/data/pjm-hourly
    python -m benchmarks.selection --data-dir ../shared/data/pjm-hourly --only "lstm" "gru"
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
import yaml

from benchmarks.study_reference import apply_overrides
from benchmarks.training import report_header
from loadforecast.baselines import fit_baselines, one_hour
from loadforecast.calendar import add_time_features
from loadforecast.data import read_regions
from loadforecast.files import write_json
from loadforecast.metrics import predictions_frame, score, validation_smape
from loadforecast.model import select_device
from loadforecast.settings import PARAMS_FILE, parse_params
from loadforecast.training import (
    best_record,
    model_config,
    train_model,
    validation_forecast,
)
from loadforecast.windows import build_windows

RESULTS = Path(__file__).parent / "results"
# Every variant is scored on the same validation windows: each label has the 257 hours that the
# weekly lag channel needs at the first hour of its 90-hour window.
SAME_WINDOWS = " -S window.min_history=257"
# The recipe the variants start from: every-hour chunks of 256 hours (48 of burn-in), 32 chunks a
# step, 2 x 128 with dropout 0.2, one-cycle learning rate peaking at 0.003, clipping at 1, the
# weekly lag channel, 16 epochs. Every key a variant relies on is set, whatever params.yaml holds.
RECIPE = (
    " -S train.objective=multi_horizon -S train.chunk_hours=256 -S train.burn_in_hours=48"
    " -S train.batch_size=32 -S train.hidden_size=128 -S train.num_layers=2"
    " -S train.loss=mse -S train.lr=0.003 -S train.lr_schedule=one_cycle -S train.grad_clip=1.0"
    " -S window.lags=[168] -S train.epochs=16 -S train.dropout=0.2"
)
NO_DROPOUT = RECIPE + " -S train.dropout=0"
BOTH_LAGS = NO_DROPOUT + " -S window.lags=[24,168]"
# The first full run's default (2026-11-24): no dropout, lags 24 and 168, 24 epochs of 32 chunks.
FIRST_DEFAULT = BOTH_LAGS + " -S train.epochs=24"
# With 32 epochs, the changes that follow it.
LONGER = BOTH_LAGS + " -S train.epochs=32"
# Each variant changes the recipe, or a variant before it, in one or two ways. params.yaml's
# default is the first default with 32 epochs, the l1 loss and a peak learning rate of 0.008.
VARIANTS = {
    "lstm": ("lstm", RECIPE),
    "lstm, no dropout": ("lstm", NO_DROPOUT),
    "lstm, no dropout, no weekly lag": ("lstm", NO_DROPOUT + " -S window.lags=[]"),
    "lstm, no dropout, lags 24 and 168": ("lstm", BOTH_LAGS),
    "lstm, no dropout, 24 epochs": ("lstm", NO_DROPOUT + " -S train.epochs=24"),
    "lstm, no dropout, lags 24 and 168, 24 epochs, 64 chunks a step": (
        "lstm",
        FIRST_DEFAULT + " -S train.batch_size=64",
    ),
    "gru, no dropout, lags 24 and 168, 24 epochs, 64 chunks a step": (
        "gru",
        FIRST_DEFAULT + " -S train.batch_size=64",
    ),
    "lstm, the first default with 32 epochs": ("lstm", LONGER),
    "lstm, the first default with width 192": ("lstm", FIRST_DEFAULT + " -S train.hidden_size=192"),
    "lstm, the first default with 32 epochs, l1 loss": ("lstm", LONGER + " -S train.loss=l1"),
    "lstm, the first default with 32 epochs, peak lr 0.005": (
        "lstm",
        LONGER + " -S train.lr=0.005",
    ),
    "lstm, the first default with 32 epochs, l1 loss, peak lr 0.005": (
        "lstm",
        LONGER + " -S train.loss=l1 -S train.lr=0.005",
    ),
    "lstm, the first default with 32 epochs, l1 loss, peak lr 0.008": (
        "lstm",
        LONGER + " -S train.loss=l1 -S train.lr=0.008",
    ),
    "gru, the first default with 32 epochs, l1 loss, peak lr 0.005": (
        "gru",
        LONGER + " -S train.loss=l1 -S train.lr=0.005",
    ),
    "lstm, the first default with 32 epochs, l1 loss, peak lr 0.012": (
        "lstm",
        LONGER + " -S train.loss=l1 -S train.lr=0.012",
    ),
    "gru, the first default with 32 epochs, l1 loss, peak lr 0.008": (
        "gru",
        LONGER + " -S train.loss=l1 -S train.lr=0.008",
    ),
    "lstm, the first default with 32 epochs, l1 loss, peak lr 0.016": (
        "lstm",
        LONGER + " -S train.loss=l1 -S train.lr=0.016",
    ),
    "gru, the first default with 32 epochs, l1 loss, peak lr 0.012": (
        "gru",
        LONGER + " -S train.loss=l1 -S train.lr=0.012",
    ),
}


def run_variant(table, cell: str, overrides: str, device: torch.device) -> dict:
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    params = parse_params(apply_overrides(raw, overrides + SAME_WINDOWS))
    features = add_time_features(table, params.features)
    windows, _ = build_windows(features, params.window)
    config = model_config(cell, windows, params.train)
    started = time.perf_counter()
    model, history = train_model(windows, config, params.train, params.seeds[0], device)
    train_seconds = time.perf_counter() - started
    val = windows.split("val")
    started = time.perf_counter()
    batch, precision = params.evaluate.batch_size, params.train.precision
    forecast = validation_forecast(model, windows, device, batch, precision)
    model_smape = validation_smape(windows, {"model": forecast})["model"]  # as train
    val_seconds = time.perf_counter() - started
    persistence = one_hour(fit_baselines(windows, ("persistence",), params.seeds[0]), windows, val)
    mean, _ = score(predictions_frame(windows, val, persistence), ["persistence"])
    return {
        "cell": cell,
        "overrides": (overrides + SAME_WINDOWS).strip(),
        "val_windows": len(val),
        "val_smape": {
            "model": round(model_smape, 4),
            "persistence": round(mean["persistence"]["smape"], 4),
        },
        "best_epoch": best_record(history)["epoch"],
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "val_forecast_seconds": round(val_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", nargs="*", help="run only these variants")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--output", type=Path, help="default: results/selection-<device>-<date>")
    args = parser.parse_args()
    device = select_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    params = parse_params(yaml.safe_load(PARAMS_FILE.read_text()))
    table, _ = read_regions(args.data_dir, params.data.regions, params.ingest)
    path = args.output or RESULTS / f"selection-{device.type}-{datetime.now(UTC):%Y%m%d}.json"
    report = {
        **report_header(
            "model selection on validation windows, full data, first seed",
            "benchmarks.selection",
            device,
        ),
        "results": {},
    }
    for name, (cell, overrides) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        result = run_variant(table, cell, overrides, device)
        report["results"][name] = result
        print(name, result["val_smape"], result["train_seconds"], flush=True)
        write_json(path, report)


if __name__ == "__main__":
    main()
