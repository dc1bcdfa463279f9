"""The default recipe's training (params.yaml) on one device: each seed of each cell trained as
the train stage trains it, with its seconds, labels per second and validation sMAPE beside the
committed run's (`metrics/seeds/`), so that a GPU run says both how long the full default
training takes there and whether it reaches the CPU's accuracy.

The windows are built from the CSV files as ingest, features and window build them; no DVC or
MLflow is needed. The seeds run in the order 42-gru, 42-lstm, 43-gru, ..., and the report is
rewritten after each one, so a run cut short by a time limit keeps what it finished.

    python -m benchmarks.default_training --data-dir data/raw                  # on a GPU
    python -m benchmarks.default_training --data-dir data/raw --device cpu \\
        --regions EKPC --epochs 1 --min-steps 0 --seeds 42                     # a smoke test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.training import device_info, report_header, synchronize
from loadforecast.calendar import add_time_features
from loadforecast.data import read_regions
from loadforecast.errors import run_command
from loadforecast.files import write_json
from loadforecast.model import select_device
from loadforecast.seeds import train_seed, val_smape
from loadforecast.settings import load_params
from loadforecast.training import model_config
from loadforecast.windows import build_windows

COMMITTED = Path(__file__).parents[1] / "metrics" / "seeds"


def committed_seed(cell: str, seed: int) -> dict | None:
    """The committed default run's figures of this seed (None when it has none)."""
    path = COMMITTED / f"train_{cell}.json"
    return json.loads(path.read_text()).get(f"seed{seed}") if path.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="<REGION>_hourly.csv files")
    parser.add_argument("--regions", nargs="+", help="default: data.regions in params.yaml")
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"], choices=["gru", "lstm"])
    parser.add_argument("--seeds", nargs="+", type=int, help="default: seeds in params.yaml")
    parser.add_argument("--epochs", type=int, help="default: train.epochs in params.yaml")
    parser.add_argument("--min-steps", type=int, help="default: train.min_steps in params.yaml")
    parser.add_argument("--precision", choices=["fp32", "bf16"], help="default: train.precision")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    params = load_params()
    device = select_device(args.device)
    train = params.train.changed(
        device=str(device),
        epochs=args.epochs or params.train.epochs,
        min_steps=params.train.min_steps if args.min_steps is None else args.min_steps,
        precision=args.precision or params.train.precision,
    )
    regions = tuple(args.regions or params.data.regions)
    full_default = regions == tuple(params.data.regions) and train == params.train.changed(
        device=str(device)
    )

    started = time.perf_counter()
    table, _ = read_regions(args.data_dir, regions, params.ingest, params.data.readings)
    features = add_time_features(table, params.features)
    windows, _ = build_windows(features, params.window, params.data.used_covariates)
    report = {
        **report_header("the default recipe's training, seed by seed", __spec__.name, device),
        **device_info(device),
        "regions": list(regions),
        "train": train.model_dump(),
        "full_default": full_default,
        "data_seconds": round(time.perf_counter() - started, 2),
        "runs": [],
    }
    trained: dict[str, list] = {cell: [] for cell in args.cells}
    for seed in args.seeds or params.seeds:
        for cell in args.cells:
            config = model_config(cell, windows, train)
            started = time.perf_counter()
            result = train_seed(
                windows,
                config,
                train,
                seed,
                device,
                params.evaluate.batch_size,
                progress_bar=False,
            )
            synchronize(device)
            trained[cell].append(result)
            labels = sum(r["train_labels"] for r in result.history)
            run = {
                "cell": cell,
                "seed": seed,
                "train_seconds": round(result.seconds, 2),
                "with_validation_seconds": round(time.perf_counter() - started, 2),
                "epochs": len(result.history),
                "labels_per_second": round(labels / result.seconds, 1),
                "train_loss": result.history[-1]["train_loss"],
                **val_smape(windows, [result]),
                "committed_cpu_run": committed_seed(cell, seed) if full_default else None,
            }
            report["runs"].append(run)
            report["seeds_averaged"] = {c: val_smape(windows, t) for c, t in trained.items() if t}
            write_json(args.output, report)
            print(json.dumps(run), flush=True)
    print(f"-> {args.output}")


if __name__ == "__main__":
    run_command(main)
