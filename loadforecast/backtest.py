"""Backtest: the forecasters replayed as they would have run, day after day, over past months.

Over the last `days` days of the readings, forecasts are issued every day at the issue times of
`dayahead.ISSUES` (23:00 for the next 24 hours, 10:00 for the next calendar day). Every
`refit_days` days, from the first, both cells and the fitted baselines are trained again on every
reading before that day (the last `window.val_fraction` of them validate and calibrate), from
`train.init_from`, or with `warm_start` from the previous refit's forecasters; the days until
the next refit are forecast by those models from their own origins. No model reads an hour after
its refit, and no forecast an hour after its origin.

Scored per month (the month of the day forecast) and over the period, as the mean over regions:
the sMAPE of each predictor's point forecast, its error at each day's peak hour (the absolute
percentage error at the hour of the day's highest load), and the cells' pinball loss and
P10-P90 coverage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from loadforecast.baselines import fit_baselines
from loadforecast.checks import guards
from loadforecast.config import TrainParams, WindowParams
from loadforecast.dayahead import ISSUES, Issue, issue_forecasts, issue_origins
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Recipe
from loadforecast.metrics import quantile_scores, smape
from loadforecast.model import ModelConfig, select_device
from loadforecast.plots import plot_backtest
from loadforecast.quantiles import POINT, median_index, to_megawatts
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.seeds import train_seeds, trained_forecaster, val_smape
from loadforecast.settings import Params
from loadforecast.training import model_config
from loadforecast.windows import Windows, build_windows

log = logging.getLogger(__name__)

CELLS = ("gru", "lstm")
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Plan:
    """The period (the last `days` whole days of the readings), how often the models are fitted
    again, and whether each refit starts from the previous one's networks."""

    days: int
    refit_days: int
    warm_start: bool = False

    def __post_init__(self) -> None:
        if self.days < 1 or self.refit_days < 1:
            raise ValueError(
                f"days = {self.days}, refit_days = {self.refit_days}: expected whole days >= 1"
            )


def refit_days(last: pd.Timestamp, plan: Plan) -> tuple[list[pd.Timestamp], pd.Timestamp]:
    """The midnights at which the models are refitted, and the end of the period: the last
    `plan.days` whole days up to `last` (the latest reading; a day forecast needs its hours)."""
    end = (last + pd.Timedelta(hours=1)).normalize()
    starts = pd.date_range(end - plan.days * DAY, end, freq=f"{plan.refit_days}D", inclusive="left")
    return list(starts), end


@dataclass
class Forecasts:
    """One predictor's forecasts of one issue time: per origin, its region, the day forecast,
    the actual load (hours) and the forecast (hours, levels), in MW."""

    levels: tuple[float, ...]
    regions: list[np.ndarray]
    days: list[np.ndarray]
    actual: list[np.ndarray]
    forecast: list[np.ndarray]


def backtest(
    features: pd.DataFrame,
    window: WindowParams,
    covariates: dict[str, str],
    train: TrainParams,
    seeds: list[int],
    baselines: tuple[str, ...],
    plan: Plan,
    recipe_of: Callable[[str, ModelConfig, Windows], Recipe],
    device: torch.device,
    batch_size: int,
    scratch: Path,
) -> dict:
    """Replay the period of `plan` on the features table (`calendar.add_time_features`) with
    the recipe `window`, `train`, `seeds` and the `baselines`; `scratch` keeps each refit's
    forecasters (the next refit starts from them with `plan.warm_start`). Returns the figures
    (`score`) and the record of each refit, by its day."""
    last = features["timestamp"].max()
    refits, end = refit_days(last, plan)
    if not refits:
        raise LoadForecastError(f"backtest: days = {plan.days}: no day to forecast")
    reading_ahead = pd.Timedelta(hours=max(issue.hours for issue in ISSUES.values()) + 1)
    collected: dict[str, dict[str, Forecasts]] = {name: {} for name in ISSUES}
    records: dict[str, dict] = {}  # by refit day: a dict, so that `dvc exp show` shows it
    start = train.init_from
    started_from = "init_from" if start else "random weights"
    for at in refits:
        started = time.perf_counter()
        until = min(at + plan.refit_days * DAY, end)
        part = features[features["timestamp"] < until + reading_ahead]
        windows, _ = build_windows(part, window, covariates, test_from=at)
        params = train.changed(init_from=start)
        forecasters, validation = {}, {}
        kept = scratch / f"{at:%Y-%m-%d}"
        kept.mkdir(parents=True, exist_ok=True)
        for cell in CELLS:
            config = model_config(cell, windows, params)
            trained = train_seeds(windows, config, params, seeds, device, batch_size)
            validation[cell] = val_smape(windows, trained).get("val_smape")
            limits = guards(windows, config.levels)
            forecasters[cell] = trained_forecaster(
                recipe_of(cell, config, windows), trained, limits
            )
            forecasters[cell].save(kept / f"{cell}.pt")
        predictors = fit_baselines(windows, baselines, seeds[0])
        series = torch.from_numpy(windows.series).to(device)
        for name, issue in ISSUES.items():
            origins = issue_origins(windows, issue)
            origins = origins[origins["label_time"] < until]
            if origins.empty:  # no day of this issue falls in this refit's days
                continue
            scaled, levels = issue_forecasts(
                forecasters, windows, series, origins, issue, baselines=predictors
            )
            for predictor in (*forecasters, *predictors):
                add_forecasts(collected[name], predictor, windows, origins, issue, scaled, levels)
        records[f"{at:%Y-%m-%d}"] = {
            "forecast_until": f"{until:%Y-%m-%d}",
            "started_from": started_from,
            "train_windows": len(windows.split("train")),
            "val_windows": len(windows.split("val")),
            "val_smape": validation,  # each cell's seeds averaged, one hour ahead
            "seconds": round(time.perf_counter() - started, 1),
        }
        log.info("backtest refit %s: %s", f"{at:%Y-%m-%d}", records[f"{at:%Y-%m-%d}"])
        if plan.warm_start:
            start, started_from = str(kept), "the previous refit"
    return {
        "period": {"first_day": f"{refits[0]:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"},
        "refits": records,
        "issues": {name: score(by_predictor) for name, by_predictor in collected.items()},
    }


def replay(features: pd.DataFrame, settings: Params, plan: Plan, scratch: Path) -> dict:
    """`backtest` with the recipe of a settings file (`loadforecast.settings`): its window,
    covariates, training, seeds, baselines, device and batch size."""

    def recipe_of(cell: str, config: ModelConfig, windows: Windows) -> Recipe:
        return Recipe.for_windows(
            cell, config, windows, settings.ingest, settings.features, settings.data.readings
        )

    return backtest(
        features,
        settings.window,
        settings.data.used_covariates,
        settings.train,
        settings.seeds,
        tuple(settings.evaluate.baselines),
        plan,
        recipe_of,
        select_device(settings.train.device),
        settings.evaluate.batch_size,
        scratch,
    )


def add_forecasts(
    collected: dict[str, Forecasts],
    predictor: str,
    windows: Windows,
    origins: pd.DataFrame,
    issue: Issue,
    scaled: dict[str, np.ndarray],
    levels: dict[str, tuple[float, ...]],
) -> None:
    """Append `predictor`'s forecasts of the scored hours from `origins`, in MW."""
    if predictor not in scaled or origins.empty:
        return
    regions = origins["region"].to_numpy()
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(issue.hours)[issue.scored]
    values = scaled[predictor][:, issue.scored]
    values = values if values.ndim == 3 else values[..., None]
    first = origins["label_time"].to_numpy() + np.timedelta64(issue.scored.start, "h")
    entry = collected.setdefault(predictor, Forecasts(levels.get(predictor, POINT), [], [], [], []))
    entry.regions.append(regions)
    entry.days.append(first.astype("datetime64[D]"))
    entry.actual.append(to_megawatts(windows.series[rows, LOAD_COLUMN], regions, windows.scalers))
    entry.forecast.append(to_megawatts(values, regions, windows.scalers))


def day_scores(actual: np.ndarray, forecast: np.ndarray, levels: tuple[float, ...]) -> dict:
    """The figures of days (days, hours) of actual loads and forecasts (days, hours, levels)."""
    point = forecast[..., median_index(levels)]
    peak = actual.argmax(axis=1)
    at_peak = np.arange(len(actual)), peak
    figures = {
        "smape": smape(point, actual),
        "peak_hour_ape": float(
            np.mean(100 * np.abs(point[at_peak] - actual[at_peak]) / actual[at_peak])
        ),
        "days": len(actual),
    }
    if len(levels) > 1:
        scores = quantile_scores(forecast, levels, actual)
        figures["pinball"] = float(scores["pinball"].mean())
        coverage = next(key for key in scores if key.startswith("coverage"))
        figures[coverage] = float(scores[coverage].mean())
    return figures


def score(by_predictor: dict[str, Forecasts]) -> dict:
    """Each predictor's figures over the period and per month: each region's, then their mean."""
    report: dict = {"period": {}, "months": {}}
    for predictor, entry in by_predictor.items():
        regions = np.concatenate(entry.regions)
        months = np.concatenate(entry.days).astype("datetime64[M]").astype(str)
        actual, forecast = np.concatenate(entry.actual), np.concatenate(entry.forecast)
        groups = {"period": np.ones(len(actual), dtype=bool)}
        groups |= {month: months == month for month in sorted(set(months))}
        for group, chosen in groups.items():
            by_region = [
                day_scores(actual[mine], forecast[mine], entry.levels)
                for region in dict.fromkeys(regions)
                if (mine := chosen & (regions == region)).any()
            ]
            figures = {k: float(np.mean([r[k] for r in by_region])) for k in by_region[0]}
            figures["days"] = int(sum(r["days"] for r in by_region))
            target = (
                report["period"] if group == "period" else report["months"].setdefault(group, {})
            )
            target[predictor] = figures
    return report


def month_table(result: dict) -> pd.DataFrame:
    """The figures per month as rows (issue, month, predictor, smape, peak_hour_ape, ...): the
    DVC plot's data and the picture's."""
    rows = [
        {"issue": issue, "month": month, "predictor": predictor, **figures}
        for issue, report in result["issues"].items()
        for month, predictors in report["months"].items()
        for predictor, figures in predictors.items()
    ]
    return pd.DataFrame(rows)


def write_months(result: dict, directory: Path) -> pd.DataFrame:
    """Create `directory` with each issue's sMAPE per month and predictor (`smape_2300.csv`,
    `smape_1000.csv`) and their picture (`smape_by_month.png`); returns `month_table`."""
    table = month_table(result)
    directory.mkdir()
    for issue, rows in table.groupby("issue", sort=False):
        wide = rows.pivot(index="month", columns="predictor", values="smape")
        wide.reset_index().to_csv(directory / f"smape_{issue.replace(':', '')}.csv", index=False)
    plot_backtest(table, directory / "smape_by_month.png")
    return table
