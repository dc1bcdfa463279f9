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
from pathlib import Path

from loadforecast import report
from loadforecast.errors import LoadForecastError, run_command
from loadforecast.evaluation import evaluate, write_plots
from loadforecast.files import atomic_path, write_json
from loadforecast.forecaster import Forecaster
from loadforecast.model import select_device
from loadforecast.settings import load_params
from loadforecast.windows import load_windows
from stages import repo

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
    if windows.split("test").empty:
        raise LoadForecastError("no test windows: check window.test_fraction in params.yaml")
    forecasters = {}
    for path in args.models:
        forecaster = Forecaster.load(path, device)
        forecaster.recipe.check_windows(windows, str(path))
        forecasters[forecaster.recipe.config.cell] = forecaster

    result = evaluate(
        forecasters,
        windows,
        params.evaluate.baselines,
        params.seeds[0],
        params.evaluate.batch_size,
        params.train.precision,
    )

    with atomic_path(args.predictions) as tmp:
        result.predictions.to_parquet(tmp, index=False)
    test_windows = len(result.predictions)
    headline = report.headline(result.summary, test_windows)
    write_json(args.metrics, headline | report.day_ahead_headline(result.day))
    for warning in result.warnings:
        log.warning("%s", warning)
    detail = {
        **result.summary,
        "baselines_val_smape": result.baselines_val,
        "model_seconds": round(result.model_seconds, 3),
        "warnings": result.warnings,
    }
    write_json(args.detail, detail)
    write_json(args.dayahead, {**result.day, "seconds": round(result.day_seconds, 3)})
    write_json(args.regions, result.by_region)
    write_plots(result, params.evaluate.plot_hours, args.plot_data, args.fan_data, args.plot_images)
    for cell in result.cells:
        log.info("%s: test sMAPE %s", cell, result.summary["models"][cell]["smape"])
    log.info("baselines: %s", {b: v["smape"] for b, v in result.summary["baselines"].items()})

    from loadforecast.tracking.evaluation import log_evaluation  # MLflow only where it logs

    repo.track(params.project.name)
    log_evaluation(
        forecasters,
        result.mean,
        result.per_region,
        result.day,
        result.baselines,
        args.windows,
        args.plot_images,
    )


if __name__ == "__main__":
    run_command(main)
