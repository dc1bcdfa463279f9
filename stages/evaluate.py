"""evaluate: score each trained model and the naive baselines on the same test windows.

For every model and region, and the mean over regions: true sMAPE, MAE, RMSE, MAPE and the figure
the study printed (`smape_study_formula`, a quarter of the true sMAPE). The baselines are
persistence (the last observed hour) and the same hour of the day before; a model is worth its cost
only where it beats both. Test metrics and predicted-vs-actual plots go to the model's MLflow run.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure  # no pyplot: files only, no display needed

from stages.batches import LOAD_COLUMN, Windows, gather, load_windows
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, write_json
from stages.metrics import forecast_metrics
from stages.model import ModelConfig, RNNForecaster, select_device
from stages.params import load_params

log = logging.getLogger(__name__)

# Baseline name -> hours back of the reading it repeats.
BASELINES = {"persistence": 1, "same_hour_yesterday": 24}


def load_model(path: Path, device: torch.device) -> tuple[RNNForecaster, dict]:
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = RNNForecaster(ModelConfig(**checkpoint["config"])).to(device)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint


@torch.inference_mode()
def predict(
    model: RNNForecaster, series: torch.Tensor, rows: torch.Tensor, lookback: int, batch: int
) -> np.ndarray:
    """Scaled forecasts for the windows ending at `rows`, in large batches."""
    parts = [model(gather(series, chunk, lookback)[0]) for chunk in rows.split(batch)]
    return torch.cat(parts).float().cpu().numpy()


def baseline_forecasts(windows: Windows, test: pd.DataFrame) -> dict[str, np.ndarray]:
    """Scaled baseline forecasts; a baseline needs its reading inside the lookback window."""
    rows = test["label_row"].to_numpy()
    return {
        name: windows.series[rows - hours_back, LOAD_COLUMN]
        for name, hours_back in BASELINES.items()
        if hours_back <= windows.lookback
    }


def predictions_frame(
    windows: Windows, test: pd.DataFrame, scaled: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Actual and forecast loads in MW, one row per test window, one column per predictor."""
    regions = test["region"].to_numpy()
    return pd.DataFrame(
        {
            "region": regions,
            "label_time": test["label_time"].to_numpy(),
            "actual": windows.unscale_load(windows.series[test["label_row"], LOAD_COLUMN], regions),
            **{name: windows.unscale_load(values, regions) for name, values in scaled.items()},
        }
    )


def score(predictions: pd.DataFrame, predictors: list[str]) -> tuple[dict, dict]:
    """Metrics per region and their mean over regions, for each predictor."""
    per_region = {
        region: {
            p: forecast_metrics(group[p].to_numpy(), group["actual"].to_numpy()) for p in predictors
        }
        for region, group in predictions.groupby("region", sort=False)
    }
    mean = {
        p: {
            m: float(np.mean([r[p][m] for r in per_region.values()]))
            for m in next(iter(per_region.values()))[p]
        }
        for p in predictors
    }
    return mean, per_region


def plot_region(frame: pd.DataFrame, predictors: list[str], region: str, path: Path) -> None:
    fig = Figure(figsize=(12, 4))
    ax = fig.subplots()
    ax.plot(frame["label_time"], frame["actual"], color="black", linewidth=1.5, label="actual")
    for name in predictors:
        ax.plot(frame["label_time"], frame[name], linewidth=1, label=name)
    ax.set(title=f"{region}: forecast vs actual, end of the test period", ylabel="load (MW)")
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("windows", type=Path, help="input directory from the window stage")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="checkpoints")
    parser.add_argument("--predictions", type=Path, required=True, help="output Parquet")
    parser.add_argument("--metrics", type=Path, required=True, help="output JSON: means")
    parser.add_argument("--regions", type=Path, required=True, help="output JSON: per region")
    parser.add_argument("--plot-data", type=Path, required=True, help="output dir: CSV per region")
    parser.add_argument(
        "--plot-images", type=Path, required=True, help="output dir: PNG per region"
    )
    args = parser.parse_args()
    params = load_params()
    device = select_device(params.train.device)
    windows = load_windows(args.windows)
    test = windows.split("test")
    if test.empty:
        raise PipelineError("no test windows: check window.test_fraction in params.yaml")

    started = time.perf_counter()
    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(test["label_row"].to_numpy(), device=device)
    scaled = {}
    run_ids = {}
    for path in args.models:
        model, checkpoint = load_model(path, device)
        if checkpoint["lookback"] != windows.lookback:
            raise PipelineError(
                f"{path}: trained with lookback {checkpoint['lookback']}, "
                f"but the windows have {windows.lookback}; rerun train"
            )
        name = model.config.cell
        scaled[name] = predict(model, series, rows, windows.lookback, params.evaluate.batch_size)
        run_ids[name] = checkpoint.get("mlflow_run_id")
    scaled |= baseline_forecasts(windows, test)
    predictions = predictions_frame(windows, test, scaled)
    predictors = list(scaled)
    mean, per_region = score(predictions, predictors)
    seconds = time.perf_counter() - started

    with atomic_path(args.predictions) as tmp:
        predictions.to_parquet(tmp, index=False)
    write_json(args.metrics, {**mean, "test_windows": len(test), "eval_seconds": round(seconds, 3)})
    write_json(args.regions, per_region)
    models = [p for p in predictors if p not in BASELINES]
    tail = predictions.groupby("region", sort=False).tail(params.evaluate.plot_hours)
    with atomic_path(args.plot_data) as data_dir, atomic_path(args.plot_images) as image_dir:
        data_dir.mkdir()
        image_dir.mkdir()
        for region, frame in tail.groupby("region", sort=False):
            frame[["label_time", "actual", *models]].to_csv(data_dir / f"{region}.csv", index=False)
            plot_region(frame, models, region, image_dir / f"{region}.png")
    log.info("mean over regions: %s (%.2f s)", mean, seconds)
    log_to_mlflow(run_ids, mean, per_region, args.plot_images, seconds)


def log_to_mlflow(
    run_ids: dict, mean: dict, per_region: dict, images: Path, seconds: float
) -> None:
    """Add test metrics and plots to each model's training run (a new run if it is gone)."""
    from stages import tracking

    baselines = {f"baseline_{b}_{m}": v for b in BASELINES if b in mean for m, v in mean[b].items()}
    for name, run_id in run_ids.items():
        with tracking.start_run(run_name=f"{name}-evaluate", resume_run_id=run_id):
            tracking.mlflow.log_metrics(
                {f"test_{m}": v for m, v in mean[name].items()}
                | {f"test_smape_{r}": v[name]["smape"] for r, v in per_region.items()}
                | baselines
                | {"eval_seconds": seconds}
            )
            tracking.mlflow.log_artifacts(str(images), artifact_path="plots")


if __name__ == "__main__":
    run_stage(main)
