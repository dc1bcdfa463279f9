"""Model selection on a reduced configuration, judged on the validation windows only.

Each variant is params.yaml with `-S key=value` overrides (the syntax of `dvc exp run`), on top of
REDUCED: a smaller network trained on a sample of windows per epoch, so that a variant takes
minutes on two CPU cores. Every variant is scored by its true sMAPE on the validation windows
(the end of each region's training part), beside the persistence and same-hour-last-week
baselines on the same windows. The test windows are not read.

    python -m benchmarks.selection --data-dir ../shared/data/pjm-hourly
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
import yaml

from benchmarks.data_prep import cpu_name
from benchmarks.study_reference import STUDY_PRESET, apply_overrides
from stages.batches import LOAD_COLUMN
from stages.evaluate import predict, predictions_frame, score
from stages.features import add_time_features
from stages.ingest import ingest
from stages.model import ModelConfig, select_device
from stages.params import PARAMS_FILE, parse_params
from stages.train import best_record, train_model
from stages.window import build_windows

RESULTS = Path(__file__).parent / "results"
REDUCED = (
    "-S train.hidden_size=64 -S train.epochs=3 -S train.max_windows_per_epoch=100000"
    " -S seeds=[42] -S window.val_fraction=0.1"
)
STUDY = STUDY_PRESET.read_text().replace("-S window.val_fraction=0", "")
# Each step adds one change to the one before it. The validation figures chose params.yaml's
# default: the third step (with window.min_history=168, so that every baseline has its week).
CALENDAR = (
    " -S train.target=delta -S window.future_calendar=true"
    " -S features.cyclic=true -S features.holidays=true"
)
VARIANTS = {
    "study": STUDY,
    "+delta target": STUDY + " -S train.target=delta",
    "+forecast-hour calendar, cyclic, holidays": STUDY + CALENDAR,
    "+weekly lag": STUDY + CALENDAR + " -S window.lags=[168]",
    "+cosine lr, gradient clipping": STUDY
    + CALENDAR
    + " -S window.lags=[168] -S train.lr_schedule=cosine -S train.grad_clip=1.0",
}


def run_variant(table, overrides: str, device: torch.device) -> dict:
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    params = parse_params(apply_overrides(apply_overrides(raw, overrides), REDUCED))
    features = add_time_features(table, params.features.cyclic, params.features.holidays)
    windows, _ = build_windows(features, params.window)
    config = ModelConfig(
        "gru",
        len(windows.spec.channels(windows.features)),
        params.train.hidden_size,
        params.train.num_layers,
        params.train.dropout,
        params.train.target,
    )
    started = time.perf_counter()
    model, history = train_model(windows, config, params.train, params.seeds[0], device)
    seconds = time.perf_counter() - started
    val = windows.split("val")
    rows = val["label_row"].to_numpy()
    scaled = {
        "model": predict(
            model,
            torch.from_numpy(windows.series).to(device),
            torch.tensor(rows, device=device),
            windows.spec,
            params.evaluate.batch_size,
        ),
        "persistence": windows.series[rows - 1, LOAD_COLUMN],
    }
    if windows.spec.history >= 168:
        scaled["same_hour_last_week"] = windows.series[rows - 168, LOAD_COLUMN]
    mean, _ = score(predictions_frame(windows, val, scaled), list(scaled))
    return {
        "overrides": overrides,
        "val_windows": len(val),
        "val_smape": {name: round(m["smape"], 4) for name, m in mean.items()},
        "best_epoch": best_record(history)["epoch"],
        "history": history,
        "train_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", nargs="*", help="run only these variants")
    args = parser.parse_args()
    device = select_device(args.device)
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    params = parse_params(raw)
    table, _ = ingest(args.data_dir, params.data.regions, params.ingest)
    results = {}
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        results[name] = run_variant(table, overrides, device)
        print(name, results[name]["val_smape"], results[name]["train_seconds"], flush=True)
    report = {
        "benchmark": "model selection on validation windows, reduced configuration, GRU",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.selection --data-dir <dir>",
        "reduced": REDUCED,
        "device": str(device),
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"selection-{device.type}-{datetime.now(UTC):%Y%m%d}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
