"""Data-parallel training: the train stage, as `dvc repro` runs it, with 1 and with N processes
(`train.processes`) on the same windows, one seed; seconds per epoch and the final losses.

    python -m benchmarks.processes --windows data/windows --cells gru lstm --epochs 2
    python -m benchmarks.processes --windows data/windows --processes 1 2 4 8   # on 8 GPUs

Each run has its own MLflow store in a temporary directory; nothing of the repository is written
but the result file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
import yaml

from benchmarks.training import RESULTS, device_info
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import read_json, write_json
from loadforecast.model import select_device

REPO = Path(__file__).resolve().parents[1]


def train_stage(workdir: Path, windows: Path, cell: str, seeds: list[int], train: dict) -> dict:
    """Run `python -m stages.train` in `workdir` with the repository's params.yaml, `seeds` and
    the `train` overrides; return its wall time and its epoch records per seed."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["seeds"] = seeds
    params["train"] |= train
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env |= {"PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    outputs = [f"{cell}.pt", "train.json", "seeds.json", "history"]
    command = [sys.executable, "-m", "stages.train", cell, str(windows.resolve()), *outputs]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode:
        raise LoadForecastError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return {
        "wall_seconds": time.perf_counter() - started,
        "history": {s: read_json(workdir / "history" / f"seed{s}.json") for s in seeds},
    }


def summary(run: dict) -> dict:
    """Per-epoch seconds (training alone, and its validation) and the last epoch's losses."""
    (history,) = run["history"].values()
    return {
        "wall_seconds": round(run["wall_seconds"], 1),
        "epoch_seconds": [round(r["seconds"], 2) for r in history],
        "val_seconds": [round(r.get("val_seconds", 0.0), 2) for r in history],
        "train_loss": history[-1]["train_loss"],
        "val_loss": history[-1].get("val_loss"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=Path, required=True, help="the window stage's output")
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--processes", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="other train.* values, as `dvc exp run -S train.KEY=VALUE` would set them",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    device = select_device(args.device)
    overrides = {}
    for item in args.set:
        key, _, value = item.removeprefix("train.").partition("=")
        overrides[key] = yaml.safe_load(value)
    results = {}
    for cell in args.cells:
        for processes in args.processes:
            train = overrides | {
                "epochs": args.epochs,
                "processes": processes,
                "device": args.device,
            }
            with tempfile.TemporaryDirectory() as workdir:
                run = train_stage(Path(workdir), args.windows, cell, [args.seed], train)
            results[f"{cell}_processes{processes}"] = summary(run)
            print(cell, processes, results[f"{cell}_processes{processes}"], flush=True)
    stamp = datetime.now(UTC)
    output = args.output or RESULTS / f"processes-{device.type}-{stamp:%Y%m%d}.json"
    write_json(
        output,
        {
            "date": stamp.isoformat(timespec="seconds"),
            "cpu_cores": os.cpu_count(),
            "gpus": torch.cuda.device_count(),
            **device_info(device),
            "epochs": args.epochs,
            "seed": args.seed,
            "results": results,
        },
    )
    print(f"-> {output}")


if __name__ == "__main__":
    run_command(main)
