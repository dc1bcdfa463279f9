"""Forecast accuracy metrics, all computed here and nowhere else.

Percentages are in percent (1.0 means 1%). Loads are in MW.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    root_mean_squared_error,
)


def smape(forecast: np.ndarray, actual: np.ndarray) -> float:
    """True symmetric MAPE in percent: mean(2|F - A| / (|F| + |A|)) * 100.

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
    return float(ratio.mean() * 100)


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
