"""Min-max scaling per region, fitted on the training part only: fitted, applied and undone here
and nowhere else, with scikit-learn's MinMaxScaler arithmetic (tested equal)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

LOAD_COLUMN = 0  # the load comes first among the features, so column 0 of every scaled row
Scaler = dict[str, list[float]]  # "min" and "max" of each feature over the training hours
Scalers = dict[str, Scaler]  # region -> its scaler


def fit_scaler(values: np.ndarray) -> Scaler:
    """Each column's minimum and maximum (scikit-learn's MinMaxScaler, NaN ignored)."""
    fitted = MinMaxScaler().fit(values)
    return {"min": fitted.data_min_.tolist(), "max": fitted.data_max_.tolist()}


def scale(values: np.ndarray, scaler: Scaler) -> np.ndarray:
    """Rows (hours, features) in [0, 1] over the training hours, as float32; a feature that was
    constant in training is shifted only."""
    low, high = np.asarray(scaler["min"]), np.asarray(scaler["max"])
    span = high - low
    factor = 1.0 / np.where(span == 0.0, 1.0, span)
    return (values * factor + (0.0 - low * factor)).astype(np.float32)


def unscale_load(scaled: np.ndarray, regions: np.ndarray, scalers: Scalers) -> np.ndarray:
    """Scaled loads, each of the region beside it, back to megawatts (float64)."""
    return unscale(scaled, regions, scalers, LOAD_COLUMN)


def unscale(scaled: np.ndarray, regions: np.ndarray, scalers: Scalers, column: int) -> np.ndarray:
    """Scaled values of feature `column`, each of the region beside it, back to its units."""
    low = pd.Series({r: s["min"][column] for r, s in scalers.items()})
    high = pd.Series({r: s["max"][column] for r, s in scalers.items()})
    low, high = low[regions].to_numpy(), high[regions].to_numpy()
    return low + np.asarray(scaled, dtype=np.float64) * (high - low)
