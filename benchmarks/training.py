"""Training and evaluation, the study's loop against ours, on one device in one run.

Both train the study's model (2 x 256, dropout 0.2, Adam 1e-3, MSE, batch 1024) on the same
12 regions: the study's way (float64 windows -> TensorDataset -> shuffled DataLoader -> `.float()`
and `.to(device)` per batch, hidden state carried across batches) and ours (`stages.train`:
batches gathered on the device from the scaled float32 series), ours once in fp32 and once with
bf16 autocast. The study's configuration comes from presets/study.txt. Reported per cell and
variant: windows per second, seconds per epoch (projected to a full epoch when `--max-steps` cuts
it short), peak GPU memory, final training loss, the true test sMAPE (mean over regions) and the
seconds our evaluation takes over every test window.

    python -m benchmarks.training --data-dir ../shared/data/pjm-hourly            # full, on a GPU
    python -m benchmarks.training --data-dir ... --epochs 1 --max-steps 20        # a sample
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmarks.data_prep import cpu_name
from benchmarks.study_reference import study_params, study_preprocess, study_train
from stages.batches import Windows
from stages.evaluate import predict, predictions_frame, score
from stages.features import add_time_features
from stages.ingest import ingest
from stages.metrics import smape
from stages.model import ModelConfig, select_device
from stages.train import epoch_size, train_model
from stages.window import build_windows, input_spec

RESULTS = Path(__file__).parent / "results"


def device_info(device: torch.device) -> dict:
    info = {
        "device": str(device),
        "torch": torch.__version__,
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
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
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
    reset_peak(device)
    predict(model.eval(), series, rows[:batch], windows.spec, batch, precision)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    scaled = predict(model.eval(), series, rows, windows.spec, batch, precision)
    seconds = time.perf_counter() - started
    mean, _ = score(predictions_frame(windows, test, {"model": scaled}), ["model"])
    return mean["model"]["smape"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=0, help="steps per epoch (0 = all)")
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = select_device(args.device)
    if device.type == "cuda":  # as stages.train does
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    params = study_params()  # the study's model and hyperparameters, on the study's windows
    train_params = replace(
        params.train,
        epochs=args.epochs,
        device=str(device),
        max_windows_per_epoch=args.max_steps * params.train.batch_size,
    )

    started = time.perf_counter()
    train_x, train_y, test_x, test_y, scalers = study_preprocess(
        [args.data_dir / f"{r}_hourly.csv" for r in params.data.regions]
    )
    study_prep = time.perf_counter() - started
    started = time.perf_counter()
    table, _ = ingest(args.data_dir, params.data.regions, params.ingest)
    features = add_time_features(table, params.features.cyclic, params.features.holidays)
    series, index, meta, _ = build_windows(features, params.window)
    windows = Windows(series, index, input_spec(params.window), meta["features"], meta["scalers"])
    our_prep = time.perf_counter() - started

    results = {}
    for cell in args.cells:
        reset_peak(device)
        model, epoch_seconds, loss = study_train(
            train_x,
            train_y,
            cell,
            device,
            args.epochs,
            params.train.batch_size,
            params.train.lr,
            args.max_steps or None,
        )
        steps = args.max_steps or len(train_x) // params.train.batch_size
        per_second = steps * params.train.batch_size / epoch_seconds[-1]
        results[f"study_{cell}"] = {
            "windows_per_second": round(per_second, 1),
            "epoch_seconds": round(len(train_x) / per_second, 2),
            "measured_epoch_seconds": [round(s, 2) for s in epoch_seconds],
            "peak_gpu_mib": peak_memory_mib(device),
            "final_train_loss": loss,
            "test_smape": study_test_smape(model, test_x, test_y, scalers, device),
        }
        print(cell, "study", results[f"study_{cell}"], flush=True)

        config = ModelConfig(
            cell,
            len(windows.features),
            params.train.hidden_size,
            params.train.num_layers,
            params.train.dropout,
            params.train.target,
        )
        for precision in ("fp32", "bf16"):
            name = f"ours_{cell}" if precision == "fp32" else f"ours_{cell}_bf16"
            reset_peak(device)
            model, history = train_model(
                windows,
                config,
                replace(train_params, precision=precision),
                params.seeds[0],
                device,
            )
            train_peak = peak_memory_mib(device)
            n_train = len(windows.split("train"))
            per_second = (
                epoch_size(n_train, train_params.max_windows_per_epoch) / history[-1]["seconds"]
            )
            test_smape, eval_seconds = our_test_smape(
                model, windows, device, params.evaluate.batch_size, precision
            )
            results[name] = {
                "precision": precision,
                "windows_per_second": round(per_second, 1),
                "epoch_seconds": round(n_train / per_second, 2),
                "measured_epoch_seconds": [round(r["seconds"], 2) for r in history],
                "peak_gpu_mib": train_peak,
                "final_train_loss": history[-1]["train_loss"],
                "test_smape": test_smape,
                "eval_seconds_all_test_windows": round(eval_seconds, 3),
            }
            print(cell, name, results[name], flush=True)
        results[f"speedup_{cell}"] = round(
            results[f"ours_{cell}"]["windows_per_second"]
            / results[f"study_{cell}"]["windows_per_second"],
            1,
        )

    report = {
        "benchmark": "training: the study's loop vs ours, the study's model and hyperparameters",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.training --data-dir <dir> "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in (("epochs", args.epochs), ("max_steps", args.max_steps))
        ),
        **device_info(device),
        "python": platform.python_version(),
        "data_prep_seconds": {"study": round(study_prep, 2), "ours": round(our_prep, 2)},
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"training-{device.type}-{datetime.now(UTC):%Y%m%d}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
