"""Day-ahead forecasts of the test period, at the two times a utility issues them.

`23:00`: from readings up to 23:00, the next 24 hours (operations' day). `10:00`: from readings
up to 09:00, the next calendar day, 15 to 38 hours ahead (what a day-ahead market takes; bids
close mid-morning of the day before). Origins are the test labels at the issue's first hour
followed by all its hours of test labels in one unbroken stretch.

A cell forecasts every hour and quantile at once (`forecaster.forecast_rows`), and is scored per
seed and as the seeds' averaged quantiles; a cell without a decoder (the study's) forecasts the
next hour only and has no day-ahead figures. The baselines recurse (`baselines.multi_hour`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from loadforecast.baselines import Predictor, multi_hour
from loadforecast.forecaster import BATCH_SIZE, Forecaster
from loadforecast.metrics import quantile_scores, seed_column, smape, spread
from loadforecast.quantiles import POINT, median_index, quantile_name, to_megawatts
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import Windows, chunk_ends


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


def score_days(
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
    actual = to_megawatts(windows.series[rows, LOAD_COLUMN], regions, windows.scalers)
    report = {}
    for name, values in scaled.items():
        values = values[:, issue.scored]
        quantiles = values if values.ndim == 3 else values[..., None]
        megawatts = to_megawatts(quantiles, regions, windows.scalers)  # (origins, hours, levels)
        median = median_index(levels.get(name, POINT))
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


def mean_curves(scores: dict, columns: list[str]) -> dict:
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
    batch_size: int = BATCH_SIZE,
) -> tuple[dict[str, np.ndarray], dict[str, tuple[float, ...]]]:
    """Scaled forecasts of every seed, cell (its seeds' averaged quantiles) and baseline from
    `origins`, and the quantile levels of the cells' forecasts. Cells without a decoder are left
    out."""
    rows = torch.tensor(origins["label_row"].to_numpy(), device=series.device)
    scaled, levels = {}, {}
    for cell, forecaster in cells.items():
        config = forecaster.recipe.config
        if not config.multi_horizon:
            continue
        scaled[cell], per_seed = forecaster.forecast_rows(
            series, rows, origins["region"].to_numpy(), issue.hours, batch_size, precision
        )
        columns = [seed_column(cell, seed) for seed in forecaster.seeds]
        scaled |= dict(zip(columns, per_seed, strict=True))
        levels |= dict.fromkeys([*columns, cell], config.quantiles)
    scaled |= multi_hour(baselines or {}, windows, origins, issue.hours)
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
    regions = last["region"].to_numpy()
    hours = pd.to_timedelta(np.arange(issue.hours)[issue.scored], unit="h")
    frame = {
        "region": np.repeat(regions, rows.shape[1]),
        "label_time": (last["label_time"].to_numpy()[:, None] + hours.to_numpy()).ravel(),
        "actual": to_megawatts(windows.series[rows, LOAD_COLUMN], regions, windows.scalers).ravel(),
    }
    for cell, values in scaled.items():
        megawatts = to_megawatts(values[at][:, issue.scored], regions, windows.scalers)
        for i, level in enumerate(levels.get(cell, ())):
            frame[f"{cell}_{quantile_name(level)}"] = megawatts[..., i].ravel()
    return pd.DataFrame(frame)


def day_ahead(
    cells: dict[str, Forecaster],
    windows: Windows,
    series: torch.Tensor,
    precision: str = "fp32",
    baselines: dict[str, Predictor] | None = None,
    batch_size: int = BATCH_SIZE,
    split: str = "test",
) -> tuple[dict, pd.DataFrame]:
    """The day-ahead tables of `split`'s days, one per issue time (`ISSUES`; none for an issue
    time without an origin): each cell's seeds (their mean and spread) and averaged forecast,
    and the baselines, scored by horizon over every origin. Also the fan charts' week of 10:00
    forecasts of the cells that forecast quantiles (`fan_week`; empty without any)."""
    tables, fans = {}, pd.DataFrame()
    for name, issue in ISSUES.items():
        origins = issue_origins(windows, issue, split)
        if origins.empty:
            continue
        scaled, levels = issue_forecasts(
            cells, windows, series, origins, issue, precision, baselines, batch_size
        )
        scores = score_days(windows, origins, scaled, issue, levels)
        forecasting = [cell for cell in cells if cell in scaled]
        seeds = {c: [seed_column(c, s) for s in cells[c].seeds] for c in forecasting}
        tables[name] = {
            "origins": len(origins),
            "models": {cell: mean_curves(scores, columns) for cell, columns in seeds.items()},
            "ensembles": {cell: scores[cell] for cell in forecasting},
            "baselines": {b: scores[b] for b in baselines or {}},
            "seeds": {c: scores[c] for columns in seeds.values() for c in columns},
        }
        if name == "10:00" and forecasting:
            fans = fan_week(windows, origins, {c: scaled[c] for c in forecasting}, levels)
    return tables, fans
