"""Day-ahead forecasts of the test period, at the two times a utility issues them.

`23:00`: from readings up to 23:00, the next 24 hours (operations' day). `10:00`: from readings
up to 09:00, the next calendar day, 15 to 38 hours ahead (what a day-ahead market takes; bids
close mid-morning of the day before). Origins are the test labels at the issue's first hour
followed by all its hours of test labels in one unbroken stretch.

A multi-horizon cell (`ModelConfig.multi_horizon`) forecasts every hour and quantile at once. A
one-hour cell forecasts recursively, its state carried from hour to hour: each hour's forecast
becomes the next hour's last load, while the calendar of the hours ahead is known and the lag
channels read real readings wherever they reach back past the origin. A cell is scored per seed
and as the seeds' averaged forecast (a recursion feeds back the average; a direct forecast
averages the seeds' quantiles). The baselines are fed back the same way: the fitted ones (linear,
gradient boosting) read their own forecasts as their recent lags, persistence repeats the last
reading, and the same hour a day or a week earlier repeats real readings where the origin has
them (two days back for 25-48 hours ahead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import torch

from loadforecast.baselines import Predictor
from loadforecast.forecaster import CarriedStep, Forecaster, feed_back, next_hour
from loadforecast.metrics import quantile_scores, seed_column, smape, spread
from loadforecast.model import RNNForecaster, forecast_horizons, quantile_name
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import InputSpec, Windows, chunk_ends


@dataclass(frozen=True)
class Issue:
    """When a forecast is issued: the hour of day of its first hour, the hours it forecasts,
    and those scored (the next calendar day)."""

    first_hour: int
    hours: int
    scored: slice
    metric: str  # the name its figures go by: dayahead_smape, nextday_pinball, ...

    @property
    def horizons(self) -> list[int]:
        return list(range(self.hours + 1))[1:][self.scored]


ISSUES = {
    "23:00": Issue(first_hour=0, hours=24, scored=slice(0, 24), metric="dayahead"),
    "10:00": Issue(first_hour=10, hours=38, scored=slice(14, 38), metric="nextday"),
}
MIDNIGHT = ISSUES["23:00"]
HOURS = MIDNIGHT.hours


def issue_origins(windows: Windows, issue: Issue = MIDNIGHT, split: str = "test") -> pd.DataFrame:
    """The labels of `split` at the issue's first hour followed by `issue.hours - 1` more labels
    of the split in the same unbroken stretch of hours."""
    index = windows.index.sort_values("label_row")
    in_split = (index["split"] == split).to_numpy()
    ends, _ = chunk_ends(index["label_row"].to_numpy(), in_split, issue.hours, issue.hours)
    labels = windows.split(split)
    whole = labels["label_row"].isin(ends - (issue.hours - 1))
    return labels[whole & (labels["label_time"].dt.hour == issue.first_hour)].sort_values(
        "label_row"
    )


def from_origins(
    step: Callable, series, origins, spec: InputSpec, hours: int = HOURS
) -> np.ndarray:
    """Scaled forecasts (origins, hours) of the hours from each origin on. Each origin gets its
    own copy of the hours from `spec.history` before it to `hours` after, into which its
    forecasts are fed back (`forecaster.feed_back`, which also holds the observed covariates at
    their value before the origin). The series is a NumPy array or a tensor on the models'
    device."""
    on_device = isinstance(series, torch.Tensor)
    arange = partial(torch.arange, device=series.device) if on_device else np.arange
    history, width = spec.history, series.shape[1]
    local = series[origins[:, None] + arange(-history, hours)].reshape(-1, width)
    starts = arange(len(origins)) * (history + hours) + history
    forecasts = feed_back(step, local, starts, hours, spec.columns(width)[2])
    if on_device:
        return torch.stack(forecasts, dim=1).cpu().numpy()
    return np.stack(forecasts, axis=1).astype(np.float32)


@torch.inference_mode()
def recursive(
    models: Sequence[RNNForecaster],
    series: torch.Tensor,
    origins: torch.Tensor,
    windows: Windows,
    precision: str = "fp32",
    carry_state: bool = True,
    hours: int = HOURS,
) -> np.ndarray:
    """Scaled forecasts (origins, hours) of a one-hour model, or of several fed back their
    average: with the state carried from hour to hour (`forecaster.CarriedStep`), or
    (`carry_state=False`) each hour from a fresh window."""
    if carry_state:
        step = CarriedStep(models, windows.spec, precision)
    else:

        def step(local: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            return next_hour(models, local, rows, windows.spec, precision)

    return from_origins(step, series, origins, windows.spec, hours)


def direct(
    models: Sequence[RNNForecaster],
    series: torch.Tensor,
    origins: torch.Tensor,
    windows: Windows,
    precision: str = "fp32",
    hours: int = HOURS,
) -> np.ndarray:
    """Scaled quantiles (origins, hours, quantiles) of multi-horizon models, their seeds'
    quantiles averaged."""
    spec = windows.spec
    quantiles = [
        forecast_horizons(m, series, origins, spec, 1024, precision, hours) for m in models
    ]
    return np.mean(quantiles, axis=0)


def baseline_days(
    predictors: dict[str, Predictor],
    windows: Windows,
    origins: pd.DataFrame,
    hours: int = HOURS,
) -> dict[str, np.ndarray]:
    """Scaled forecasts of the baselines, fed back like the models'. A repeat of a day or a
    week back reads only real readings; persistence repeats the last one."""
    rows, regions = origins["label_row"].to_numpy(), origins["region"].to_numpy()
    return {
        name: from_origins(
            lambda local, at, p=predict: p(local, at, regions),
            windows.series,
            rows,
            windows.spec,
            hours,
        )
        for name, predict in predictors.items()
    }


def score(
    windows: Windows,
    origins: pd.DataFrame,
    scaled: dict[str, np.ndarray],
    issue: Issue = MIDNIGHT,
    levels: dict[str, tuple[float, ...]] | None = None,
) -> dict:
    """Per predictor, over the issue's scored hours: the sMAPE of its point forecast by
    horizon and over the day, as the mean of the regions' figures (like the one-hour table), and
    each region's. A predictor with quantiles (`scaled` (origins, hours, quantiles) at the
    `levels` it names; the point forecast is the median) also gets the pinball loss, and its
    interval's coverage and width (`metrics.quantile_scores`), likewise."""
    levels = levels or {}
    regions = origins["region"].to_numpy()
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(issue.hours)[issue.scored]
    repeat = np.repeat(regions[:, None], rows.shape[1], axis=1).ravel()
    actual = windows.unscale_load(windows.series[rows.ravel(), LOAD_COLUMN], repeat)
    actual = actual.reshape(rows.shape)
    report = {}
    for name, values in scaled.items():
        values = values[:, issue.scored]
        quantiles = values if values.ndim == 3 else values[..., None]
        count = quantiles.shape[2]
        megawatts = windows.unscale_load(
            quantiles.transpose(2, 0, 1).ravel(), np.tile(repeat, count)
        ).reshape(count, *rows.shape)
        megawatts = megawatts.transpose(1, 2, 0)  # (origins, scored hours, quantiles)
        median = int(np.argmin(np.abs(np.asarray(levels.get(name, (0.5,))) - 0.5)))
        by_region = {}
        for region in dict.fromkeys(regions):
            mine = regions == region
            figures = {"smape": smape(megawatts[mine, :, median], actual[mine], axis=0)}
            if name in levels and len(levels[name]) > 1:
                figures |= quantile_scores(megawatts[mine], levels[name], actual[mine])
            by_region[region] = figures
        report[name] = curve_scores(by_region, issue)
    return report


def curve_scores(by_region: dict[str, dict[str, np.ndarray]], issue: Issue) -> dict:
    """Each metric by hour ahead (the mean over regions) and over the day (their mean), and
    each region's over the day."""
    report: dict = {"horizons": issue.horizons}
    for metric in next(iter(by_region.values())):
        curve = np.mean([figures[metric] for figures in by_region.values()], axis=0)
        report[f"{metric}_by_horizon"] = curve.tolist()
        report[f"{metric}_day"] = float(curve.mean())
    report["regions"] = {
        region: {
            key: value
            for metric, curve in figures.items()
            for key, value in (
                (f"{metric}_by_horizon", curve.tolist()),
                (f"{metric}_day", float(np.mean(curve))),
            )
        }
        for region, figures in by_region.items()
    }
    return report


def over_seeds(scores: dict, columns: list[str]) -> dict:
    """A cell's figures: the mean of its seeds' curves, each region's, and the spread of the
    day's sMAPE over seeds."""
    first = scores[columns[0]]
    report = {"horizons": first["horizons"]}
    for key in first:
        if key.endswith("_by_horizon"):
            curves = np.array([scores[c][key] for c in columns])
            metric = key.removesuffix("_by_horizon")
            report[key] = curves.mean(axis=0).tolist()
            report[f"{metric}_day"], std = spread(curves.mean(axis=1))
            if metric == "smape":
                report["smape_day_std"] = std
    report["regions"] = {
        region: {
            key: np.mean([scores[c]["regions"][region][key] for c in columns], axis=0).tolist()
            for key in figures
        }
        for region, figures in first["regions"].items()
    }
    return report


def issue_forecasts(
    cells: dict[str, Forecaster],
    windows: Windows,
    series: torch.Tensor,
    origins: pd.DataFrame,
    issue: Issue,
    precision: str = "fp32",
    baselines: dict[str, Predictor] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, tuple[float, ...]]]:
    """Scaled forecasts of every seed, cell (its seeds' averaged forecast) and baseline from
    `origins`, and the quantile levels of those that have them."""
    rows = torch.tensor(origins["label_row"].to_numpy(), device=series.device)
    scaled, levels = {}, {}
    for cell, forecaster in cells.items():
        config = forecaster.recipe.config
        columns = [seed_column(cell, seed) for seed in forecaster.seeds]
        for column, model in zip(columns, forecaster.models, strict=True):
            forecast = direct if config.multi_horizon else recursive
            scaled[column] = forecast([model], series, rows, windows, precision, hours=issue.hours)
        if config.multi_horizon:
            scaled[cell] = np.mean([scaled[c] for c in columns], axis=0)
            levels |= dict.fromkeys([*columns, cell], config.quantiles)
        else:  # the seeds' average fed back
            scaled[cell] = recursive(
                forecaster.models, series, rows, windows, precision, hours=issue.hours
            )
    scaled |= baseline_days(baselines or {}, windows, origins, issue.hours)
    return scaled, levels


def fan_week(
    windows: Windows,
    origins: pd.DataFrame,
    scaled: dict[str, np.ndarray],
    levels: dict[str, tuple[float, ...]],
    days: int = 7,
) -> pd.DataFrame:
    """The next calendar days forecast at 10:00 on each region's last `days` test origins, in
    MW, hour by hour: region, label_time, actual and each quantile cell's `<cell>_<p10>`..."""
    issue = ISSUES["10:00"]
    last = origins.groupby("region", sort=False).tail(days)
    at = origins.index.get_indexer(last.index)
    rows = last["label_row"].to_numpy()[:, None] + np.arange(issue.hours)[issue.scored]
    regions = np.repeat(last["region"].to_numpy(), rows.shape[1])
    hours = pd.to_timedelta(np.arange(issue.hours)[issue.scored], unit="h")
    frame = {
        "region": regions,
        "label_time": (last["label_time"].to_numpy()[:, None] + hours.to_numpy()).ravel(),
        "actual": windows.unscale_load(windows.series[rows.ravel(), LOAD_COLUMN], regions),
    }
    for cell, values in scaled.items():
        for i, level in enumerate(levels.get(cell, ())):
            chosen = values[at][:, issue.scored, i].ravel()
            frame[f"{cell}_{quantile_name(level)}"] = windows.unscale_load(chosen, regions)
    return pd.DataFrame(frame)


def day_ahead(
    cells: dict[str, Forecaster],
    windows: Windows,
    series: torch.Tensor,
    precision: str = "fp32",
    baselines: dict[str, Predictor] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """The day-ahead tables, one per issue time (`ISSUES`; none for an issue time without an
    origin): each cell's seeds (their mean and spread) and averaged forecast, and the
    baselines, scored by horizon over every origin. Also the fan charts' week of 10:00
    forecasts of the cells that forecast quantiles (`fan_week`; empty without any)."""
    tables, fans = {}, pd.DataFrame()
    for name, issue in ISSUES.items():
        origins = issue_origins(windows, issue)
        if origins.empty:
            continue
        scaled, levels = issue_forecasts(
            cells, windows, series, origins, issue, precision, baselines
        )
        scores = score(windows, origins, scaled, issue, levels)
        seeds = {cell: [seed_column(cell, s) for s in f.seeds] for cell, f in cells.items()}
        tables[name] = {
            "origins": len(origins),
            "models": {cell: over_seeds(scores, columns) for cell, columns in seeds.items()},
            "ensembles": {cell: scores[cell] for cell in cells},
            "baselines": {b: scores[b] for b in baselines or {}},
            "seeds": {c: scores[c] for columns in seeds.values() for c in columns},
        }
        if name == "10:00" and any(cell in levels for cell in cells):
            fans = fan_week(windows, origins, {c: scaled[c] for c in cells}, levels)
    return tables, fans
