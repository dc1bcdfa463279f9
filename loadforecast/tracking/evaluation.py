"""An evaluation's figures in MLflow: test and day-ahead figures on each model's runs, a run per
baseline, and each cell's averaged model registered as the challenger."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from mlflow.entities import Metric

from loadforecast import tracking
from loadforecast.dayahead import ISSUES
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Forecaster
from loadforecast.metrics import seed_column
from loadforecast.report import day_ahead_scores, test_metrics
from loadforecast.tracking import registry

log = logging.getLogger(__name__)


def log_day_ahead(tables: dict, column: str) -> None:
    """A predictor's figures of each issue time on the active run, in one request: over the
    day (`dayahead_smape`, `nextday_pinball`, ...), per region, and the sMAPE by hour ahead."""
    now = int(time.time() * 1000)
    metrics = []
    for name, table in tables.items():
        scores = day_ahead_scores(table, column)
        if scores is None:
            continue
        prefix = ISSUES[name].metric
        figures = {
            f"{prefix}_{key.removesuffix('_day')}": value
            for key, value in scores.items()
            if key.endswith("_day")
        }
        figures |= {f"{prefix}_smape/{r}": v["smape_day"] for r, v in scores["regions"].items()}
        metrics += [Metric(name, value, now, 0) for name, value in figures.items()]
        metrics += [  # the curve by hour ahead, one step per hour
            Metric(f"{prefix}_smape_by_hour", value, now, hour)
            for hour, value in zip(scores["horizons"], scores["smape_by_horizon"], strict=True)
        ]
    if metrics:
        run_id = tracking.mlflow.active_run().info.run_id
        tracking.mlflow.MlflowClient().log_batch(run_id, metrics=metrics)


def log_evaluation(
    forecasters: dict[str, Forecaster],
    mean: dict,
    per_region: dict,
    day: dict,
    baselines: list[str],
    windows: Path,
    images: Path,
) -> None:
    """Test figures for each model run (a cell's run holds its seeds' averaged forecast, with
    the plots), a run of each baseline, and the cells' averaged models registered (all of this
    evaluation's versions, or none)."""
    for cell, forecaster in forecasters.items():
        seed_runs = forecaster.runs.get("seeds") or [None] * len(forecaster.seeds)
        for seed, run_id in zip(forecaster.seeds, seed_runs, strict=True):
            column = seed_column(cell, seed)
            with tracking.start_run(run_name=column, resume_run_id=run_id):
                tracking.mlflow.log_metrics(test_metrics(column, mean, per_region))
                log_day_ahead(day, column)
        with tracking.start_run(run_name=cell, resume_run_id=forecaster.runs.get("cell")):
            tracking.mlflow.log_metrics(test_metrics(cell, mean, per_region))
            log_day_ahead(day, cell)
            tracking.mlflow.log_artifacts(str(images), artifact_path="plots")
    for name in baselines:
        with tracking.start_run(run_name=f"baseline-{name}"):
            tracking.mlflow.log_params({"model": name, "kind": "baseline"})
            tracking.log_dataset(windows)
            tracking.mlflow.log_metrics(test_metrics(name, mean, per_region))
            log_day_ahead(day, name)
    versions = []
    try:
        for cell, forecaster in forecasters.items():
            run_id = forecaster.runs.get("cell")
            if not run_id:
                continue
            if not tracking.run_exists(run_id):  # trained against another store
                log.warning(
                    "%s: its run %s is not in this MLflow store: not registered", cell, run_id
                )
                continue
            versions.append(registry.register_challenger(cell, run_id))
    except LoadForecastError:
        registry.withdraw(versions)
        raise
