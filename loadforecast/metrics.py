"""Forecast accuracy metrics, all computed here and nowhere else.

Percentages are in percent (1.0 means 1%). Loads are in MW.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    root_mean_squared_error,
)

from loadforecast.quantiles import quantile_name
from loadforecast.scaling import LOAD_COLUMN

if TYPE_CHECKING:
    from loadforecast.windows import Windows


def smape(forecast: np.ndarray, actual: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """True symmetric MAPE in percent: mean(2|F - A| / (|F| + |A|)) * 100, over all terms or
    along `axis` (an array then: the day-ahead table's per-horizon figures).

    A term whose denominator is zero (forecast and actual both 0) counts as 0: a perfect forecast.
    """
    forecast, actual = np.asarray(forecast, np.float64), np.asarray(actual, np.float64)
    denominator = np.abs(forecast) + np.abs(actual)
    ratio = np.divide(
        2 * np.abs(forecast - actual),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator != 0,
    )
    mean = ratio.mean(axis=axis) * 100
    return float(mean) if axis is None else mean


def quantile_scores(
    quantiles: np.ndarray, levels: tuple[float, ...], actual: np.ndarray
) -> dict[str, np.ndarray]:
    """Probabilistic scores of quantile forecasts (N, H, Q) at `levels` of the actual loads
    (N, H), per horizon (along H): the pinball loss (mean over the levels) and the mean width of
    the interval between the outermost quantiles, in percent of the mean actual load, and that
    interval's coverage, the percent of actual loads inside it (of P10-P90: 80 if calibrated)."""
    level = np.asarray(levels)
    error = actual[..., None] - quantiles
    pinball = np.maximum(level * error, (level - 1) * error).mean(axis=(0, 2))
    low, high = quantiles[..., 0], quantiles[..., -1]
    inside = (actual >= low) & (actual <= high)
    interval = f"{quantile_name(levels[0])}_{quantile_name(levels[-1])}"
    scale = 100 / actual.mean()
    return {
        "pinball": pinball * scale,
        f"coverage_{interval}": 100 * inside.mean(axis=0),
        f"width_{interval}": (high - low).mean(axis=0) * scale,
    }


def smape_study_formula(forecast: np.ndarray, actual: np.ndarray) -> float:
    """The figure the study printed as sMAPE: mean(|F - A| / (F + A) / 2) * 100, a quarter of the
    true sMAPE. Kept only to compare with the study's published numbers."""
    return smape(forecast, actual) / 4


def forecast_metrics(forecast: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Every metric the pipeline reports, for one set of forecasts.

    MAPE follows scikit-learn: an actual of 0 MW is replaced by machine epsilon (ingest removes
    such readings, so none reach evaluation).
    """
    return {
        "smape": smape(forecast, actual),
        "mae": float(mean_absolute_error(actual, forecast)),
        "rmse": float(root_mean_squared_error(actual, forecast)),
        "mape": float(mean_absolute_percentage_error(actual, forecast) * 100),
        "smape_study_formula": smape_study_formula(forecast, actual),
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


def validation_smape(windows: Windows, forecasts: dict[str, np.ndarray]) -> dict[str, float]:
    """Each named forecast's sMAPE (mean over regions) of the next hour of every validation
    window ({} without a validation part)."""
    val = windows.split("val")
    if val.empty or not forecasts:
        return {}
    mean, _ = score(predictions_frame(windows, val, forecasts), list(forecasts))
    return {name: mean[name]["smape"] for name in forecasts}


def seed_column(cell: str, seed: int) -> str:
    """The name of one seed's forecasts beside its cell's (the seeds' averaged forecast)."""
    return f"{cell}_seed{seed}"


def spread(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Mean over seeds and its sample standard deviation (0 for one seed)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def over_seeds(metrics: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over seeds, with its sample standard deviation (`<name>_std`)."""
    out = {}
    for name in metrics[0]:
        out[name], out[f"{name}_std"] = spread([m[name] for m in metrics])
    return out
