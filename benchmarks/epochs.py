"""Seconds per training epoch of each cell, with every seed: the path before (`nn.GRU`'s own
backward pass, the seeds one after another on all cores) against today's (`loadforecast.gru`,
the seeds at once in processes of their own, `loadforecast.seeds`), on the same windows and
machine in one run. An epoch is sampled (`--labels`, drawn as `train.max_labels_per_epoch`
draws them) and its seconds projected to every training label; training and per-epoch
validation are timed (`wall_seconds` adds the processes' start, and each seed's validation
forecast and calibration after it).

    python -m benchmarks.epochs --windows data/windows
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \\
        python -m benchmarks.epochs --windows data/windows \\
        --output benchmarks/results/epochs-cpu-held-avx2.json    # as on an AVX2-only CPU
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks.training import device_info
from loadforecast import seeds
from loadforecast.errors import run_command
from loadforecast.files import write_json
from loadforecast.model import RNNForecaster, select_device
from loadforecast.settings import load_params
from loadforecast.training import Sequences, model_config
from loadforecast.windows import load_windows

RESULTS = Path(__file__).parent / "results"
# name: (loadforecast.gru on the CPU, seeds at once)
PATHS = {"before": (False, False), "gru_kernel": (True, False), "after": (True, True)}


def cpu_flags() -> dict:
    """The CPU's model and vector extensions (`lscpu`), and any ISA the run was held to."""
    flags = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    listed = next(
        (line.split(":", 1)[1].split() for line in flags.splitlines() if line.startswith("Flags")),
        [],
    )
    return {
        "lscpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in flags.splitlines()
                if line.startswith("Model name")
            ),
            None,
        ),
        "vector_flags": sorted(f for f in listed if f.startswith(("avx", "amx", "fma"))),
        "held_to": {
            k: os.environ[k]
            for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
            if k in os.environ
        },
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def epoch_seconds(trained: list[seeds.TrainedSeed], parallel: bool) -> float:
    """One epoch of every seed: their sum one after another, the slowest when at once."""
    per_seed = [sum(r["seconds"] + r.get("val_seconds", 0.0) for r in t.history) for t in trained]
    return max(per_seed) if parallel else sum(per_seed)


FAST_GRU = RNNForecaster._cpu_gru_training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=Path, required=True, help="the window stage's output")
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--labels", type=int, default=200_000, help="labels per seed, sampled")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    params = load_params()
    windows = load_windows(args.windows)
    device = select_device("cpu")
    full_labels = Sequences(windows, params.train, device).labels("train")
    # One pass over the sampled labels: min_steps would repeat a sample this small (fit_budget).
    train = params.train.changed(
        epochs=1, max_labels_per_epoch=args.labels, min_steps=0, device="cpu"
    )
    results = {}
    for cell in args.cells:
        config = model_config(cell, windows, train)
        for path in args.paths:
            fast_gru, parallel = PATHS[path]
            if cell == "lstm" and path == "gru_kernel":
                continue  # the same as before for the LSTM
            # the path before `loadforecast.gru`: nn.GRU's own backward pass (in this process)
            RNNForecaster._cpu_gru_training = FAST_GRU if fast_gru else lambda self, inputs: False
            started = time.perf_counter()
            try:
                trained = seeds.train_seeds(
                    windows,
                    config,
                    train.changed(parallel_seeds=parallel),
                    params.seeds,
                    device,
                    params.evaluate.batch_size,
                )
            finally:
                RNNForecaster._cpu_gru_training = FAST_GRU
            wall = time.perf_counter() - started
            labels = trained[0].history[0]["train_labels"]
            sampled = epoch_seconds(trained, parallel)
            results[f"{cell}_{path}"] = {
                "seeds": params.seeds,
                "sampled_labels_per_seed": labels,
                "sampled_epoch_seconds": round(sampled, 2),
                "epoch_seconds": round(sampled * full_labels / labels, 1),
                "wall_seconds": round(wall, 1),
                "train_loss": [t.history[0]["train_loss"] for t in trained],
            }
            print(cell, path, results[f"{cell}_{path}"], flush=True)
        base = results[f"{cell}_before"]["epoch_seconds"]
        results[f"{cell}_speedup"] = round(base / results[f"{cell}_after"]["epoch_seconds"], 2)
    stamp = datetime.now(UTC)
    output = args.output or RESULTS / f"epochs-cpu-{stamp:%Y%m%d}.json"
    write_json(
        output,
        {
            "benchmark": "seconds per epoch, all seeds, before against after (issue 21)",
            "date": stamp.isoformat(timespec="seconds"),
            "command": "python -m benchmarks.epochs " + " ".join(sys.argv[1:]),
            "cpu_cores": os.cpu_count(),
            **device_info(device),
            **cpu_flags(),
            "train_labels_per_epoch": full_labels,
            "results": results,
        },
    )
    print(f"-> {output}")


if __name__ == "__main__":
    run_command(main)
