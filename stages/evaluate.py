"""evaluate: score each trained forecaster and the baselines on the same test windows.

For every model and region, and the mean over regions: true sMAPE, MAE, RMSE, MAPE and the figure
the study printed (`smape_study_formula`, a quarter of the true sMAPE). A model trained with several
seeds is reported as the mean and standard deviation over its seeds, and its seeds' averaged
forecast as `<cell>_ensemble`. The baselines (`evaluate.baselines`, `loadforecast.baselines`)
learn from the training windows and stop on the validation windows; only this stage reads the
test windows. Then the day-ahead tables of both issue times, 23:00 and 10:00
(`loadforecast.dayahead`), with the quantile cells' fan charts. The figures also go to each
model's MLflow runs, and each cell's averaged model is registered as the challenger.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from loadforecast import dayahead, report
from loadforecast.baselines import (
    fit_baselines,
    losing_to_baselines,
    one_hour,
    validation_forecasts,
)
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.files import atomic_path, write_json
from loadforecast.forecaster import Forecaster
from loadforecast.metrics import predictions_frame, score, seed_column, validation_smape
from loadforecast.model import select_device
from loadforecast.plots import plot_by_horizon, plot_fan, plot_region
from loadforecast.quantiles import average_seeds
from loadforecast.windows import load_windows
from stages import repo
from stages.params import load_params

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("windows", type=Path, help="input directory from the window stage")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="forecasters")
    parser.add_argument("--predictions", type=Path, required=True, help="output Parquet")
    parser.add_argument("--metrics", type=Path, required=True, help="output JSON: headline")
    parser.add_argument("--detail", type=Path, required=True, help="output JSON: every seed")
    parser.add_argument("--regions", type=Path, required=True, help="output JSON: per region")
    parser.add_argument("--plot-data", type=Path, required=True, help="output dir: CSV per region")
    parser.add_argument("--plot-images", type=Path, required=True, help="output dir: PNGs")
    parser.add_argument(
        "--fan-data", type=Path, required=True, help="output dir: CSV per region, 10:00 quantiles"
    )
    parser.add_argument("--dayahead", type=Path, required=True, help="output JSON: day ahead")
    args = parser.parse_args()
    params = load_params()
    device = select_device(params.train.device)
    windows = load_windows(args.windows)
    test = windows.split("test")
    if test.empty:
        raise LoadForecastError("no test windows: check window.test_fraction in params.yaml")

    started = time.perf_counter()
    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(test["label_row"].to_numpy(), device=device)
    regions = test["region"].to_numpy()
    forecasters, scaled, seed_columns = {}, {}, {}
    batch, precision = params.evaluate.batch_size, params.train.precision
    for path in args.models:
        forecaster = Forecaster.load(path, device)
        forecaster.recipe.check_windows(windows, str(path))
        cell = forecaster.recipe.config.cell
        forecasters[cell] = forecaster
        seed_columns[cell] = [seed_column(cell, seed) for seed in forecaster.seeds]
        per_seed = forecaster.next_hour(series, rows, regions, batch, precision)
        scaled |= dict(zip(seed_columns[cell], per_seed, strict=True))
        scaled[cell] = average_seeds(per_seed)
    model_seconds = time.perf_counter() - started
    predictors = fit_baselines(windows, params.evaluate.baselines, params.seeds[0])
    baselines = one_hour(predictors, windows, test)
    predictions = predictions_frame(windows, test, scaled | baselines)
    mean, per_region = score(predictions, [*scaled, *baselines])
    summary = report.summarise(mean, seed_columns, list(baselines))
    names = list(baselines)
    by_region = {r: report.summarise(s, seed_columns, names) for r, s in per_region.items()}
    started = time.perf_counter()
    day, fans = dayahead.day_ahead(forecasters, windows, series, precision, predictors, batch)
    day_seconds = time.perf_counter() - started

    with atomic_path(args.predictions) as tmp:
        predictions.to_parquet(tmp, index=False)
    write_json(args.metrics, report.headline(summary, len(test)) | report.day_ahead_headline(day))
    baselines_val = validation_smape(windows, validation_forecasts(predictors, windows))
    warnings = [
        warning
        for cell, forecaster in forecasters.items()
        if (
            warning := losing_to_baselines(
                cell, forecaster.validation.get("val_smape"), baselines_val
            )
        )
    ]
    for warning in warnings:
        log.warning("%s", warning)
    detail = {
        **summary,
        "baselines_val_smape": baselines_val,
        "model_seconds": round(model_seconds, 3),
        "warnings": warnings,
    }
    write_json(args.detail, detail)
    write_json(args.dayahead, {**day, "seconds": round(day_seconds, 3)})
    write_json(args.regions, by_region)
    cells = list(seed_columns)
    tail = predictions.groupby("region", sort=False).tail(params.evaluate.plot_hours)
    fan_cells = [c for c in cells if any(k.startswith(f"{c}_p") for k in fans.columns)]
    with (
        atomic_path(args.plot_data) as data_dir,
        atomic_path(args.fan_data) as fan_dir,
        atomic_path(args.plot_images) as image_dir,
    ):
        for directory in (data_dir, fan_dir, image_dir):
            directory.mkdir()
        for region, frame in tail.groupby("region", sort=False):
            frame[["label_time", "actual", *cells]].to_csv(data_dir / f"{region}.csv", index=False)
            plot_region(frame, cells, region, image_dir / f"{region}.png")
        for region, frame in fans.groupby("region", sort=False) if fan_cells else ():
            frame.drop(columns="region").to_csv(fan_dir / f"{region}.csv", index=False)
            plot_fan(frame, fan_cells, region, image_dir / f"fan_{region}.png")
        for issued, table in day.items():
            plot_by_horizon(table, issued, image_dir / f"{dayahead.ISSUES[issued].metric}.png")
    for cell in cells:
        log.info("%s: test sMAPE %s", cell, summary["models"][cell]["smape"])
    log.info("baselines: %s", {b: v["smape"] for b, v in summary["baselines"].items()})

    from loadforecast.tracking.evaluation import log_evaluation  # MLflow only where it logs

    repo.track(params.project.name)
    log_evaluation(forecasters, mean, per_region, day, names, args.windows, args.plot_images)


if __name__ == "__main__":
    run_command(main)
