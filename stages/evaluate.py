"""evaluate: score each trained model and the baselines on the same test windows.

For every model and region, and the mean over regions: true sMAPE, MAE, RMSE, MAPE and the figure
the study printed (`smape_study_formula`, a quarter of the true sMAPE). A model trained with several
seeds is reported as the mean and standard deviation over its seeds, and its seeds' averaged
forecast as `<cell>_ensemble`. The baselines (`evaluate.baselines`, from `stages.baselines`) are
scored on the same windows: repeats of the reading 1, 24 or 168 hours back, a least-squares
linear model on the lookback window's loads, and a gradient-boosting model on lags 1-48 and 168,
the calendar of the forecast hour and the region. The fitted baselines learn from the training
windows and stop on the validation windows; only this stage reads the test windows. Test metrics
and predicted-vs-actual plots go to each model's MLflow runs.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure  # no pyplot: files only, no display needed

from stages import dayahead
from stages.baselines import fit_baselines, one_hour
from stages.batches import InputSpec, Windows, load_windows
from stages.errors import PipelineError, run_stage
from stages.files import atomic_path, write_json
from stages.metrics import predictions_frame, score
from stages.model import ModelConfig, RNNForecaster, predict, select_device
from stages.params import load_params

log = logging.getLogger(__name__)


def load_models(
    path: Path, windows: Windows, device: torch.device
) -> tuple[str, list[tuple[int, RNNForecaster, str | None]], str | None]:
    """The cell, its (seed, model, MLflow run id) triples, checked against the windows, and the
    cell's MLflow run (the seeds' averaged forecast)."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    spec = InputSpec.from_dict(checkpoint["spec"])
    if spec != windows.spec or checkpoint["features"] != windows.features:
        raise PipelineError(
            f"{path}: trained on windows {asdict(spec)} of {checkpoint['features']}, but the "
            f"windows are {asdict(windows.spec)} of {windows.features}; rerun train"
        )
    config = ModelConfig(**checkpoint["config"])
    models = []
    for entry in checkpoint["models"]:
        model = RNNForecaster(config).to(device)
        model.load_state_dict(entry["state_dict"])
        models.append((entry["seed"], model.eval(), entry.get("mlflow_run_id")))
    return config.cell, models, checkpoint.get("mlflow_run_id")


def over_seeds(metrics: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over seeds, with its sample standard deviation (0 for one seed)."""
    out = {}
    for name in metrics[0]:
        values = np.array([m[name] for m in metrics])
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out


def summarise(scores: dict, seed_columns: dict[str, list[str]], baselines: list[str]) -> dict:
    """One scores table (the mean over regions, or one region's) grouped for reporting."""
    return {
        "models": {c: over_seeds([scores[s] for s in cols]) for c, cols in seed_columns.items()},
        "ensembles": {c: scores[c] for c in seed_columns},
        "baselines": {b: scores[b] for b in baselines},
        "seeds": {col: scores[col] for cols in seed_columns.values() for col in cols},
    }


def headline(report: dict, test_windows: int) -> dict:
    """The figures an experiment is judged by (`dvc exp show`): each predictor's test sMAPE, mean
    over regions; for a cell, the mean over seeds, its spread, and the seeds' averaged forecast."""
    return {
        "test_smape": by_predictor(report, "smape"),
        "test_smape_std": {cell: s["smape_std"] for cell, s in report["models"].items()},
        "test_windows": test_windows,
    }


def by_predictor(report: dict, key: str) -> dict[str, float]:
    """`key` of every predictor in a report: each cell (the mean over seeds), its seeds' averaged
    forecast (`<cell>_ensemble`) and each baseline."""
    return {
        **{cell: scores[key] for cell, scores in report["models"].items()},
        **{f"{cell}_ensemble": s[key] for cell, s in report["ensembles"].items()},
        **{name: scores[key] for name, scores in report["baselines"].items()},
    }


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
    parser.add_argument(
        "--metrics", type=Path, required=True, help="output JSON: test sMAPE per predictor"
    )
    parser.add_argument(
        "--detail", type=Path, required=True, help="output JSON: every metric, every seed"
    )
    parser.add_argument("--regions", type=Path, required=True, help="output JSON: per region")
    parser.add_argument("--plot-data", type=Path, required=True, help="output dir: CSV per region")
    parser.add_argument(
        "--plot-images", type=Path, required=True, help="output dir: PNG per region"
    )
    parser.add_argument("--dayahead", type=Path, required=True, help="output JSON: day ahead")
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
    scaled, seed_columns, run_ids, seed_models = {}, {}, {}, {}
    for path in args.models:
        cell, models, run_ids[cell] = load_models(path, windows, device)
        seed_models[cell] = [(seed, model) for seed, model, _ in models]
        seed_columns[cell] = []
        for seed, model, run_id in models:
            column = f"{cell}_seed{seed}"
            scaled[column] = predict(
                model,
                series,
                rows,
                windows.spec,
                params.evaluate.batch_size,
                params.train.precision,
            )
            seed_columns[cell].append(column)
            run_ids[column] = run_id
        scaled[cell] = np.mean([scaled[c] for c in seed_columns[cell]], axis=0)
    model_seconds = time.perf_counter() - started
    predictors = fit_baselines(windows, params.evaluate.baselines, params.seeds[0])
    baselines = one_hour(predictors, windows, test)
    predictions = predictions_frame(windows, test, scaled | baselines)
    mean, per_region = score(predictions, [*scaled, *baselines])
    report = summarise(mean, seed_columns, list(baselines))
    region_report = {r: summarise(s, seed_columns, list(baselines)) for r, s in per_region.items()}
    started = time.perf_counter()
    day = dayahead.day_ahead(seed_models, windows, test, series, params.train.precision, predictors)
    day_seconds = time.perf_counter() - started

    with atomic_path(args.predictions) as tmp:
        predictions.to_parquet(tmp, index=False)
    write_json(args.metrics, headline(report, len(test)) | day_ahead_headline(day))
    write_json(args.detail, {**report, "model_seconds": round(model_seconds, 3)})
    write_json(args.dayahead, {**day, "seconds": round(day_seconds, 3)})
    write_json(args.regions, region_report)
    cells = list(seed_columns)
    tail = predictions.groupby("region", sort=False).tail(params.evaluate.plot_hours)
    with atomic_path(args.plot_data) as data_dir, atomic_path(args.plot_images) as image_dir:
        data_dir.mkdir()
        image_dir.mkdir()
        for region, frame in tail.groupby("region", sort=False):
            frame[["label_time", "actual", *cells]].to_csv(data_dir / f"{region}.csv", index=False)
            plot_region(frame, cells, region, image_dir / f"{region}.png")
        if day:
            plot_by_horizon(day, image_dir / "dayahead.png")
    for cell in cells:
        log.info("%s: test sMAPE %s", cell, report["models"][cell]["smape"])
    log.info("baselines: %s", {b: v["smape"] for b, v in report["baselines"].items()})
    log_to_mlflow(run_ids, mean, per_region, day, list(baselines), args.windows, args.plot_images)


def day_ahead_headline(day: dict) -> dict:
    """Each predictor's day-ahead sMAPE (mean over the 24 horizons and the regions)."""
    return {"dayahead_smape": by_predictor(day, "smape_day")} if day else {}


def plot_by_horizon(day: dict, path: Path) -> None:
    """sMAPE against the hour ahead, every day-ahead predictor."""
    fig = Figure(figsize=(9, 5))
    ax = fig.subplots()
    hours = np.arange(1, 25)
    for group, suffix in (("models", " (mean of seeds)"), ("ensembles", " (averaged)")):
        for name, scores in day[group].items():
            ax.plot(hours, scores["smape_by_horizon"], marker=".", label=name + suffix)
    for name, scores in day["baselines"].items():
        ax.plot(hours, scores["smape_by_horizon"], linestyle="--", label=name)
    ax.set(
        title=f"Day ahead from each test midnight ({day['origins']} days x regions)",
        xlabel="hour ahead",
        ylabel="sMAPE (%), mean over regions",
        yscale="log",
    )
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def test_metrics(column: str, mean: dict, per_region: dict) -> dict[str, float]:
    """A predictor's test figures under the names every run shares, so that the runs table
    sorts models and baselines together: `test_smape`, ..., and `test_smape/<REGION>` (a section
    of its own on the run page, right after the loss curves)."""
    return {f"test_{m}": v for m, v in mean[column].items()} | {
        f"test_smape/{r}": scores[column]["smape"] for r, scores in per_region.items()
    }


def day_ahead_scores(day: dict, column: str) -> dict | None:
    """A predictor's day-ahead scores: a seed's, a cell's averaged forecast's or a baseline's."""
    for group in ("seeds", "ensembles", "baselines"):
        if column in day.get(group, {}):
            return day[group][column]
    return None


def log_to_mlflow(
    run_ids: dict,
    mean: dict,
    per_region: dict,
    day: dict,
    baselines: list[str],
    windows: Path,
    images: Path,
) -> None:
    """Test figures for each model run (a cell's run holds its seeds' averaged forecast, with
    the plots), a run of each baseline, and the cells' averaged models registered."""
    from mlflow.entities import Metric

    from stages import registry, tracking

    def log_day_ahead(column: str) -> None:
        scores = day_ahead_scores(day, column)
        if scores is None:
            return
        figures = {"dayahead_smape": scores["smape_day"]}
        figures |= {f"dayahead_smape/{r}": v["smape_day"] for r, v in scores["regions"].items()}
        now = int(time.time() * 1000)
        metrics = [Metric(name, value, now, 0) for name, value in figures.items()]
        metrics += [  # the curve by hour ahead, one step per hour
            Metric("dayahead_smape_by_hour", value, now, hour)
            for hour, value in enumerate(scores["smape_by_horizon"], start=1)
        ]
        run_id = tracking.mlflow.active_run().info.run_id
        tracking.mlflow.MlflowClient().log_batch(run_id, metrics=metrics)  # one request

    for column, run_id in run_ids.items():
        with tracking.start_run(run_name=column, resume_run_id=run_id):
            tracking.mlflow.log_metrics(test_metrics(column, mean, per_region))
            log_day_ahead(column)
            if "_seed" not in column:
                tracking.mlflow.log_artifacts(str(images), artifact_path="plots")
    for name in baselines:
        with tracking.start_run(run_name=f"baseline-{name}"):
            tracking.mlflow.log_params({"model": name, "kind": "baseline"})
            tracking.log_dataset(windows)
            tracking.mlflow.log_metrics(test_metrics(name, mean, per_region))
            log_day_ahead(name)
    versions = []
    try:
        for cell, run_id in run_ids.items():
            if "_seed" in cell or not run_id:
                continue
            if not tracking.run_exists(run_id):  # trained against another store
                log.warning(
                    "%s: its run %s is not in this MLflow store: not registered", cell, run_id
                )
                continue
            versions.append(registry.register_challenger(cell, run_id))
    except PipelineError:
        registry.withdraw(versions)  # all of this evaluate's versions, or none
        raise


if __name__ == "__main__":
    run_stage(main)
