"""The test evaluation: each cell's forecasters and the baselines scored on the same test
windows, one hour ahead (every seed, and the seeds' averaged forecast) and day ahead at both
issue times, with a warning for each cell that validation says is no better than a baseline."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from loadforecast import dayahead, report
from loadforecast.baselines import (
    fit_baselines,
    losing_to_baselines,
    one_hour,
    validation_forecasts,
)
from loadforecast.files import atomic_path
from loadforecast.forecaster import BATCH_SIZE, Forecaster
from loadforecast.metrics import predictions_frame, score, seed_column, validation_smape
from loadforecast.plots import plot_by_horizon, plot_fan, plot_region
from loadforecast.quantiles import average_seeds
from loadforecast.windows import Windows


@dataclass
class Evaluation:
    predictions: pd.DataFrame  # one row per test window: actual and every predictor, in MW
    seed_columns: dict[str, list[str]]  # cell -> its seeds' columns
    baselines: list[str]
    mean: dict  # predictor -> metric -> the mean over regions
    per_region: dict  # region -> predictor -> metric
    summary: dict  # `report.summarise` of `mean`
    by_region: dict  # region -> `report.summarise` of its figures
    day: dict  # `dayahead.day_ahead`'s tables
    fans: pd.DataFrame  # the fan charts' week of 10:00 quantiles
    baselines_val: dict[str, float]  # each baseline's validation sMAPE
    warnings: list[str]
    model_seconds: float  # the cells' one-hour forecasts
    day_seconds: float  # the day-ahead tables

    @property
    def cells(self) -> list[str]:
        return list(self.seed_columns)


def evaluate(
    forecasters: dict[str, Forecaster],
    windows: Windows,
    baselines: list[str],
    baseline_seed: int,
    batch_size: int = BATCH_SIZE,
    precision: str = "fp32",
) -> Evaluation:
    """Score `forecasters` (cell -> its forecaster) and the named baselines (fitted with
    `baseline_seed`) on the test windows, which must exist."""
    test = windows.split("test")
    device = next(iter(forecasters.values())).device if forecasters else torch.device("cpu")
    started = time.perf_counter()
    series = torch.from_numpy(windows.series).to(device)
    rows = torch.tensor(test["label_row"].to_numpy(), device=device)
    regions = test["region"].to_numpy()
    scaled, seed_columns = {}, {}
    for cell, forecaster in forecasters.items():
        seed_columns[cell] = [seed_column(cell, seed) for seed in forecaster.seeds]
        per_seed = forecaster.next_hour(series, rows, regions, batch_size, precision)
        scaled |= dict(zip(seed_columns[cell], per_seed, strict=True))
        scaled[cell] = average_seeds(per_seed)
    model_seconds = time.perf_counter() - started
    predictors = fit_baselines(windows, baselines, baseline_seed)
    one_hour_baselines = one_hour(predictors, windows, test)
    names = list(one_hour_baselines)
    predictions = predictions_frame(windows, test, scaled | one_hour_baselines)
    mean, per_region = score(predictions, [*scaled, *names])
    started = time.perf_counter()
    day, fans = dayahead.day_ahead(forecasters, windows, series, precision, predictors, batch_size)
    day_seconds = time.perf_counter() - started
    baselines_val = validation_smape(windows, validation_forecasts(predictors, windows))
    validated = {cell: f.validation.get("val_smape") for cell, f in forecasters.items()}
    warnings = [
        warning
        for cell, val_smape in validated.items()
        if (warning := losing_to_baselines(cell, val_smape, baselines_val))
    ]
    return Evaluation(
        predictions=predictions,
        seed_columns=seed_columns,
        baselines=names,
        mean=mean,
        per_region=per_region,
        summary=report.summarise(mean, seed_columns, names),
        by_region={r: report.summarise(s, seed_columns, names) for r, s in per_region.items()},
        day=day,
        fans=fans,
        baselines_val=baselines_val,
        warnings=warnings,
        model_seconds=model_seconds,
        day_seconds=day_seconds,
    )


def write_plots(
    evaluation: Evaluation, hours: int, data_dir: Path, fan_dir: Path, image_dir: Path
) -> None:
    """The last `hours` of each region's test part (CSV and PNG), the 10:00 fan charts (CSV
    and PNG) and the day-ahead error by horizon (PNG), each directory written whole."""
    cells = evaluation.cells
    fans = evaluation.fans
    tail = evaluation.predictions.groupby("region", sort=False).tail(hours)
    fan_cells = [c for c in cells if any(k.startswith(f"{c}_p") for k in fans.columns)]
    with (
        atomic_path(data_dir) as data_tmp,
        atomic_path(fan_dir) as fan_tmp,
        atomic_path(image_dir) as image_tmp,
    ):
        for directory in (data_tmp, fan_tmp, image_tmp):
            directory.mkdir()
        for region, frame in tail.groupby("region", sort=False):
            frame[["label_time", "actual", *cells]].to_csv(data_tmp / f"{region}.csv", index=False)
            plot_region(frame, cells, region, image_tmp / f"{region}.png")
        for region, frame in fans.groupby("region", sort=False) if fan_cells else ():
            frame.drop(columns="region").to_csv(fan_tmp / f"{region}.csv", index=False)
            plot_fan(frame, fan_cells, region, image_tmp / f"fan_{region}.png")
        for issued, table in evaluation.day.items():
            path = image_tmp / f"{dayahead.ISSUES[issued].metric}.png"
            plot_by_horizon(table, issued, path)
