"""The baselines every model must beat, computed on exactly the windows the models are scored on.

Repeats of the reading 1, 24 or 168 hours back; a least-squares linear model on the lookback
window's loads; and a gradient-boosting model on lags 1-48 and 168, the calendar of the forecast
hour and the region, predicting the change from the last hour. The fitted ones learn from the
training windows and stop on the validation windows.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from stages.batches import LOAD_COLUMN, Windows

log = logging.getLogger(__name__)

# Naive baseline name -> hours back of the reading it repeats.
REPEATS = {"persistence": 1, "same_hour_yesterday": 24, "same_hour_last_week": 168}
GBM_LAGS = (*range(1, 49), 168)


def lagged_loads(series: np.ndarray, rows: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """(windows, lags) scaled loads `lag` hours before each label row."""
    return series[rows[:, None] - np.asarray(lags), LOAD_COLUMN]


def gbm_inputs(windows: Windows, split: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lagged loads, the forecast hour's calendar and a region code; and the change to forecast."""
    rows = split["label_row"].to_numpy()
    lags = tuple(lag for lag in GBM_LAGS if lag <= windows.spec.history)
    region = pd.Categorical(split["region"], categories=sorted(windows.scalers)).codes
    inputs = np.column_stack(
        [
            lagged_loads(windows.series, rows, lags),
            windows.series[rows, LOAD_COLUMN + 1 :],
            region.astype(np.float32),
        ]
    )
    return inputs, windows.series[rows, LOAD_COLUMN] - windows.series[rows - 1, LOAD_COLUMN]


def fitted_baseline(name: str, windows: Windows, test: pd.DataFrame, seed: int) -> np.ndarray:
    """Scaled test forecasts of a baseline fitted on the training windows of all regions."""
    train, val = windows.split("train"), windows.split("val")
    if name == "linear":
        lags = tuple(range(1, windows.spec.lookback + 1))
        model = LinearRegression().fit(
            lagged_loads(windows.series, train["label_row"].to_numpy(), lags),
            windows.series[train["label_row"], LOAD_COLUMN],
        )
        return model.predict(lagged_loads(windows.series, test["label_row"].to_numpy(), lags))
    x_train, y_train = gbm_inputs(windows, train)
    region_column = x_train.shape[1] - 1
    model = HistGradientBoostingRegressor(
        max_iter=1000,
        learning_rate=0.1,
        max_leaf_nodes=63,
        categorical_features=[region_column],
        early_stopping=True,
        validation_fraction=None if len(val) else 0.1,
        n_iter_no_change=20,
        random_state=seed,
    )
    if len(val):
        x_val, y_val = gbm_inputs(windows, val)
        model.fit(x_train, y_train, X_val=x_val, y_val=y_val)
    else:
        model.fit(x_train, y_train)
    log.info("gradient boosting: %d trees", model.n_iter_)
    x_test, _ = gbm_inputs(windows, test)
    rows = test["label_row"].to_numpy()
    return windows.series[rows - 1, LOAD_COLUMN] + model.predict(x_test)


def baseline_forecasts(
    windows: Windows, test: pd.DataFrame, names: tuple[str, ...], seed: int
) -> dict[str, np.ndarray]:
    """Scaled baseline forecasts. A repeat baseline needs its reading within the windows'
    history; one that reaches further is skipped with a warning."""
    rows = test["label_row"].to_numpy()
    forecasts = {}
    for name in names:
        started = time.perf_counter()
        if name in REPEATS:
            if REPEATS[name] > windows.spec.history:
                log.warning(
                    "%s skipped: it needs %d hours of history, the windows have %d",
                    name,
                    REPEATS[name],
                    windows.spec.history,
                )
                continue
            forecasts[name] = windows.series[rows - REPEATS[name], LOAD_COLUMN]
        else:
            forecasts[name] = fitted_baseline(name, windows, test, seed)
        log.info("%s baseline: %.1f s", name, time.perf_counter() - started)
    return forecasts
