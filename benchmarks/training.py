"""Training and evaluation, the study's loop against ours, on one device in one run.

Both train the study's model (2 x 256, dropout 0.2, Adam 1e-3, MSE, batch 1024) on the same
regions: the study's way (float64 windows -> TensorDataset -> shuffled DataLoader -> `.float()`
and `.to(device)` per batch, hidden state carried across batches) and ours (`stages.train`:
batches gathered on the device from the scaled float32 series), ours in fp32 and with bf16
autocast, once per seed so that the spread over seeds shows the run-to-run noise. The study's
configuration comes from presets/study.txt. Reported per cell and variant: windows per second,
seconds per epoch and for all epochs (projected when a step limit cuts epochs short), peak GPU
memory, final training loss, the true test sMAPE (mean over regions) and the seconds our
evaluation takes over every test window; `summary` sets these beside the issue's targets. And,
without the model, the milliseconds each side takes to make one batch on the device.

    python -m benchmarks.training --data-dir data/raw --seeds 42 43 44    # on a GPU
    python -m benchmarks.training --data-dir data/raw --study-steps 200    # study epochs sampled
    python -m benchmarks.training --data-dir data/raw --device cpu --precisions fp32 \
        --epochs 2 --max-steps 3 --study-steps 3                            # a CPU sample
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmarks.data_prep import cpu_name
from benchmarks.study_reference import study_loader, study_params, study_preprocess, study_train
from loadforecast import metrics
from loadforecast.calendar import add_time_features
from loadforecast.config import PRECISIONS
from loadforecast.data import read_regions, region_file
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import write_json
from loadforecast.forecaster import network_forecasts
from loadforecast.metrics import predictions_frame, score, smape
from loadforecast.model import ModelConfig, RNNForecaster, autocast, select_device
from loadforecast.quantiles import next_hour
from loadforecast.training import train_model
from loadforecast.windows import Windows, build_windows, gather

RESULTS = Path(__file__).parent / "results"


def device_info(device: torch.device) -> dict:
    """What the figures were measured on."""
    info = {
        "device": str(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "cpu": cpu_name(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        try:
            info["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            info["driver"] = None
    return info


def peak_memory_mib(device: torch.device) -> float | None:
    """Peak GPU memory allocated by tensors since `reset_peak` (None on the CPU)."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def synchronize(device: torch.device) -> None:
    """Wait for the GPU, so that a timer read next includes the work queued before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    """Start counting peak GPU memory afresh, once the work queued so far has finished."""
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


@torch.inference_mode()
def study_test_smape(model, test_x: dict, test_y: dict, scalers: dict, device) -> float:
    """The study's evaluation (hidden state sized to each file's test set), with the true sMAPE."""
    model.eval()
    per_region = []
    for name, inputs in test_x.items():
        x = torch.from_numpy(inputs).to(device).float()
        out, _ = model(x, model.init_hidden(len(inputs), device))
        forecast = scalers[name].inverse_transform(out.float().cpu().numpy()).ravel()
        actual = scalers[name].inverse_transform(test_y[name]).ravel()
        per_region.append(smape(forecast, actual))
    return float(np.mean(per_region))


def our_test_smape(
    model, windows: Windows, device: torch.device, batch: int, precision: str
) -> tuple[float, float]:
    """Our evaluation path; returns the mean test sMAPE and the seconds prediction took."""
    test = windows.split("test")
    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(test["label_row"].to_numpy(), device=device)
    network_forecasts([model.eval()], series, rows[:batch], windows.spec, 1, batch, precision)
    synchronize(device)
    started = time.perf_counter()
    scaled = network_forecasts([model], series, rows, windows.spec, 1, batch, precision)  # on host
    scaled = next_hour(scaled, model.config.median)[0]
    seconds = time.perf_counter() - started
    mean, _ = score(predictions_frame(windows, test, {"model": scaled}), ["model"])
    return mean["model"]["smape"], seconds


def batch_milliseconds(make_batch, device: torch.device, steps: int = 30) -> float:
    """Mean time to put one training batch on the device, ready for the model (after warm-up)."""
    for _ in range(3):
        make_batch()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        make_batch()
    synchronize(device)
    return round((time.perf_counter() - started) / steps * 1000, 3)


def batch_making(study_data, windows: Windows, device: torch.device, batch: int) -> dict:
    """The two data paths alone, without the model: the study's DataLoader with `.to(device)` and
    `.float()` per batch, and ours, a gather by index from the resident series."""
    loader = study_loader(study_data[0], study_data[1], batch)
    batches = itertools.chain.from_iterable(itertools.repeat(loader))  # epoch after epoch

    def study_batch():
        inputs, labels = next(batches)
        return inputs.to(device).float(), labels.to(device).float()

    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(windows.split("train")["label_row"].to_numpy(), device=device)

    def our_batch():
        pick = torch.randint(len(rows), (batch,), device=device)
        return gather(series, rows[pick], windows.spec)

    return {
        "study_ms": batch_milliseconds(study_batch, device),
        "ours_ms": batch_milliseconds(our_batch, device),
    }


def spread(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over seeds (`loadforecast.metrics.spread`: 0 for one)."""
    mean, std = metrics.spread(values)
    return {"mean": mean, "std": std}


def epoch_timing(measured: list[float], windows_run: int, windows_per_epoch: int) -> dict:
    """Speed from the last (warm) epoch. All epochs' seconds: their sum when every epoch ran in
    full, else projected from that speed (`projected`)."""
    per_second = windows_run / measured[-1]
    full_epoch = windows_per_epoch / per_second
    projected = windows_run < windows_per_epoch
    return {
        "windows_per_second": round(per_second, 1),
        "epoch_seconds": round(full_epoch, 2),
        "all_epochs_seconds": round(len(measured) * full_epoch if projected else sum(measured), 2),
        "projected": projected,
        "measured_epoch_seconds": [round(s, 2) for s in measured],
    }


@torch.no_grad()
def recurrent_dtype(model: RNNForecaster, device: torch.device, precision: str) -> str:
    """The dtype the GRU/LSTM layers return under `precision`'s autocast. On CUDA that is the
    dtype cuDNN ran them in, which autocast may choose whatever dtype it was asked for."""
    probe = torch.zeros(1, 2, model.config.input_size, device=device)
    with autocast(device, precision):
        return str(model.rnn(probe)[0].dtype).removeprefix("torch.")


def run_study(data, cell: str, device, args, params) -> dict:
    """The study's loop, `args.epochs` epochs (of `args.study_steps` steps each, when set)."""
    train_x, train_y, test_x, test_y, scalers = data
    batch = params.train.batch_size
    full_steps = len(train_x) // batch  # the study's DataLoader drops the incomplete batch
    steps = min(args.study_steps or full_steps, full_steps)
    torch.manual_seed(args.seeds[0])  # the study did not seed; we do, for a repeatable sample
    reset_peak(device)
    model, epoch_seconds, loss = study_train(
        train_x, train_y, cell, device, args.epochs, batch, params.train.lr, steps
    )
    return {
        **epoch_timing(epoch_seconds, steps * batch, full_steps * batch),
        "peak_gpu_mib": peak_memory_mib(device),
        "final_train_loss": loss,
        "test_smape": study_test_smape(model, test_x, test_y, scalers, device),
    }


def run_ours(windows: Windows, cell: str, precision: str, seed: int, device, args, params) -> dict:
    """Our `train_model` and evaluation path, one seed."""
    config = ModelConfig(
        cell,
        len(windows.spec.channels(windows.features)),
        params.train.hidden_size,
        params.train.num_layers,
        params.train.dropout,
        params.train.target,
    )
    train = params.train.changed(
        epochs=args.epochs,
        device=str(device),
        precision=precision,
        max_labels_per_epoch=args.max_steps * params.train.batch_size,
        min_steps=0,  # the steps this benchmark asks for, no more
    )
    reset_peak(device)
    started = time.perf_counter()
    model, history = train_model(windows, config, train, seed, device)
    synchronize(device)
    run_seconds = time.perf_counter() - started  # setup and every epoch
    peak = peak_memory_mib(device)
    n_train = len(windows.split("train"))
    test_smape, eval_seconds = our_test_smape(
        model, windows, device, params.evaluate.batch_size, precision
    )
    measured = [r["seconds"] for r in history]
    return {
        "seed": seed,
        **epoch_timing(measured, history[-1]["train_labels"], n_train),
        "run_seconds": round(run_seconds, 2),
        "recurrent_dtype": recurrent_dtype(model, device, precision),
        "peak_gpu_mib": peak,
        "final_train_loss": history[-1]["train_loss"],
        "test_smape": test_smape,
        "eval_seconds_all_test_windows": round(eval_seconds, 4),
    }


def summarise(results: dict, cells: list[str], precisions: list[str]) -> dict:
    """The figures the issue sets targets for, per cell, and evaluation of both cells."""
    summary = {}
    for cell in cells:
        study = results[f"study_{cell}"]
        entry = {"study_all_epochs_seconds": study["all_epochs_seconds"]}
        for precision in precisions:
            runs = results[f"ours_{cell}_{precision}"]
            seconds = spread([r["all_epochs_seconds"] for r in runs])
            entry[f"ours_{precision}_all_epochs_seconds"] = seconds
            entry[f"speedup_{precision}"] = round(study["all_epochs_seconds"] / seconds["mean"], 1)
            entry[f"test_smape_{precision}"] = spread([r["test_smape"] for r in runs])
            entry[f"recurrent_dtype_{precision}"] = runs[0]["recurrent_dtype"]
        entry["test_smape_study"] = study["test_smape"]
        summary[cell] = entry
    precision = precisions[0]
    summary[f"eval_seconds_all_test_windows_both_cells_{precision}"] = round(
        sum(
            spread([r["eval_seconds_all_test_windows"] for r in results[f"ours_{c}_{precision}"]])[
                "mean"
            ]
            for c in cells
        ),
        4,
    )
    return summary


def step_count(text: str) -> int:
    """An argparse type: a whole number of steps, 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def command_line(module: str = "benchmarks.training") -> str:
    """This run's command, with absolute paths (this machine's, not the reader's) left out."""
    words = [re.sub(r"(^|=)/\S*", r"\1<path>", word) for word in sys.argv[1:]]
    return " ".join([f"python -m {module}", *words])


def report_header(benchmark: str, module: str, device: torch.device) -> dict:
    """What every benchmark result file starts with: what, when, how, and on what it ran."""
    return {
        "benchmark": benchmark,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(module),
        "device": str(device),
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="directory of <REGION>_hourly.csv files"
    )
    parser.add_argument("--regions", nargs="+", help="default: data.regions in params.yaml")
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"], choices=["gru", "lstm"])
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--seeds", nargs="+", type=int, help="ours, once each (default: the first)")
    parser.add_argument("--epochs", type=step_count, help="default: the study's (train.epochs)")
    parser.add_argument(
        "--max-steps", type=step_count, default=0, help="ours: steps per epoch (0 = all)"
    )
    parser.add_argument(
        "--study-steps",
        type=step_count,
        default=0,
        help="the study's loop: steps per epoch (0 = all)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--output", type=Path, help="default: benchmarks/results/training-<device>-<date>.json"
    )
    args = parser.parse_args()
    device = select_device(args.device)
    params = study_params()  # the study's model and hyperparameters, on the study's windows
    args.seeds = args.seeds or [params.seeds[0]]
    args.epochs = args.epochs or params.train.epochs
    regions = tuple(args.regions or params.data.regions)

    started = time.perf_counter()
    table, _ = read_regions(args.data_dir, regions, params.ingest)  # names any missing file
    features = add_time_features(table, params.features)
    windows, _ = build_windows(features, params.window)
    our_prep = time.perf_counter() - started
    started = time.perf_counter()
    study_data = study_preprocess([region_file(args.data_dir, r) for r in regions])
    study_prep = time.perf_counter() - started
    if len(study_data[0]) < params.train.batch_size:
        raise LoadForecastError(
            f"{args.data_dir}: {len(study_data[0])} training windows, fewer than one batch "
            f"of {params.train.batch_size}; the study's loop drops incomplete batches"
        )

    batch_ms = batch_making(study_data, windows, device, params.train.batch_size)
    print("making one batch", batch_ms, flush=True)
    path = args.output or RESULTS / f"training-{device.type}-{datetime.now(UTC):%Y%m%d}.json"
    results = {}
    report = {
        "benchmark": "training: the study's loop vs ours, the study's model and hyperparameters",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        **device_info(device),
        "python": platform.python_version(),
        "regions": list(regions),
        "train_windows": {"study": len(study_data[0]), "ours": len(windows.split("train"))},
        "test_windows": {
            "study": sum(map(len, study_data[2].values())),
            "ours": len(windows.split("test")),
        },
        "data_prep_seconds": {"study": round(study_prep, 2), "ours": round(our_prep, 2)},
        "batch_making": batch_ms,
        "results": results,
    }

    def finished(name: str, result: dict) -> None:
        """Keep one run's figures, on screen and in the report (rewritten: a cut run keeps it)."""
        print(name, result, flush=True)
        write_json(path, report)

    for cell in args.cells:
        results[f"study_{cell}"] = run_study(study_data, cell, device, args, params)
        finished(f"study_{cell}", results[f"study_{cell}"])
        for precision in args.precisions:
            name = f"ours_{cell}_{precision}"
            results[name] = []
            for seed in args.seeds:
                results[name].append(run_ours(windows, cell, precision, seed, device, args, params))
                finished(name, results[name][-1])

    report["summary"] = summarise(results, args.cells, args.precisions)
    write_json(path, report)
    print(json.dumps(report["summary"], indent=2))
    print(f"-> {path}")


if __name__ == "__main__":
    run_command(main)
