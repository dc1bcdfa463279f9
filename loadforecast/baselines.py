"""The baselines every model must beat, computed on exactly the windows the models are scored on.

Repeats of the reading 1, 24 or 168 hours back; a least-squares linear model on the lookback
window's loads; and a gradient-boosting model on lags 1-48 and 168, the calendar (and known
covariates) of the forecast hour, the observed covariates of the hour before and the region,
predicting the change from the last hour. The fitted ones learn from the
training windows and stop on the validation windows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from loadforecast.metrics import validation_smape
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import Windows

log = logging.getLogger(__name__)

# Naive baseline name -> hours back of the reading it repeats.
REPEATS = {"persistence": 1, "same_hour_yesterday": 24, "same_hour_last_week": 168}
GBM_LAGS = (*range(1, 49), 168)


# A baseline, fitted or not: (scaled series, label rows, their regions) -> scaled loads at those
# rows, read only from the hours before each. Day-ahead feeds its forecasts back through it.
Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def lagged_loads(series: np.ndarray, rows: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """(windows, lags) scaled loads `lag` hours before each label row."""
    return series[rows[:, None] - np.asarray(lags), LOAD_COLUMN]


def repeat(lag: int) -> Predictor:
    """The reading `lag` hours before each label."""
    return lambda series, rows, regions: series[rows - lag, LOAD_COLUMN]


def fit_linear(windows: Windows) -> Predictor:
    """Least squares on the lookback window's loads, all regions together."""
    lags = tuple(range(1, windows.spec.lookback + 1))
    rows = windows.split("train")["label_row"].to_numpy()
    model = LinearRegression().fit(
        lagged_loads(windows.series, rows, lags), windows.series[rows, LOAD_COLUMN]
    )
    return lambda series, rows, regions: model.predict(lagged_loads(series, rows, lags))


def fit_gradient_boosting(windows: Windows, seed: int) -> Predictor:
    """Gradient boosting of the change from the last hour, on lags 1-48 and 168 (those within
    the windows' history), the forecast hour's calendar and known covariates, the observed
    covariates of the hour before it, and a region code."""
    lags = tuple(lag for lag in GBM_LAGS if lag <= windows.spec.history)
    categories = sorted(windows.scalers)
    _, known, observed = windows.spec.columns(windows.series.shape[1])

    def inputs(series: np.ndarray, rows: np.ndarray, regions: np.ndarray) -> np.ndarray:
        codes = pd.Categorical(regions, categories=categories).codes.astype(np.float32)
        calendar_and_known = series[rows, LOAD_COLUMN + 1 : known.stop]
        last_observed = series[rows - 1, observed]
        return np.column_stack(
            [lagged_loads(series, rows, lags), calendar_and_known, last_observed, codes]
        )

    def fit_data(split: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        rows, series = split["label_row"].to_numpy(), windows.series
        change = series[rows, LOAD_COLUMN] - series[rows - 1, LOAD_COLUMN]
        return inputs(series, rows, split["region"].to_numpy()), change

    x_train, y_train = fit_data(windows.split("train"))
    val = windows.split("val")
    model = HistGradientBoostingRegressor(
        max_iter=1000,
        learning_rate=0.1,
        max_leaf_nodes=63,
        categorical_features=[x_train.shape[1] - 1],
        early_stopping=True,
        validation_fraction=None if len(val) else 0.1,
        n_iter_no_change=20,
        random_state=seed,
    )
    if len(val):
        x_val, y_val = fit_data(val)
        model.fit(x_train, y_train, X_val=x_val, y_val=y_val)
    else:
        model.fit(x_train, y_train)
    log.info("gradient boosting: %d trees", model.n_iter_)
    return lambda series, rows, regions: (
        series[rows - 1, LOAD_COLUMN] + model.predict(inputs(series, rows, regions))
    )


def fit_baselines(windows: Windows, names: tuple[str, ...], seed: int) -> dict[str, Predictor]:
    """The baselines among `names`, fitted on the training windows of all regions (stopping on
    the validation windows). A repeat needs its reading within the windows' history; one that
    reaches further is skipped with a warning."""
    predictors = {}
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
            predictors[name] = repeat(REPEATS[name])
        elif name == "linear":
            predictors[name] = fit_linear(windows)
        else:
            predictors[name] = fit_gradient_boosting(windows, seed)
        log.info("%s baseline: %.1f s", name, time.perf_counter() - started)
    return predictors


def one_hour(
    predictors: dict[str, Predictor], windows: Windows, split: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Each baseline's scaled forecasts of the split's labels."""
    rows, regions = split["label_row"].to_numpy(), split["region"].to_numpy()
    return {name: p(windows.series, rows, regions) for name, p in predictors.items()}


def multi_hour(
    predictors: dict[str, Predictor], windows: Windows, origins: pd.DataFrame, hours: int
) -> dict[str, np.ndarray]:
    """Each baseline's scaled forecasts (origins, hours) of the `hours` from each origin on,
    recursively: each origin gets its own copy of the hours from `spec.history` before it to
    `hours` after, and each hour's forecast is written into it as that hour's load before the
    next hour is forecast, so the fitted baselines read their own forecasts as their recent
    lags, persistence repeats the last reading, and a repeat of a day or a week back reads real
    readings where the origin has them. The calendar and known covariates of the hours ahead
    stay as they are; the observed covariates are held at their value before the origin."""
    rows, regions = origins["label_row"].to_numpy(), origins["region"].to_numpy()
    history, width = windows.spec.history, windows.series.shape[1]
    held = windows.spec.columns(width)[2]
    starts = np.arange(len(rows)) * (history + hours) + history
    days = {}
    for name, predict in predictors.items():
        local = windows.series[rows[:, None] + np.arange(-history, hours)].reshape(-1, width)
        forecasts = []
        for hour in range(hours):
            forecast = predict(local, starts + hour, regions)
            local[starts + hour, LOAD_COLUMN] = forecast
            local[starts + hour, held] = local[starts - 1, held]
            forecasts.append(forecast)
        days[name] = np.stack(forecasts, axis=1).astype(np.float32)
    return days


def validation_forecasts(predictors: dict[str, Predictor], windows: Windows) -> dict:
    """Each baseline's scaled forecasts of the next hour of every validation window ({} without
    a validation part), for `metrics.validation_smape`."""
    val = windows.split("val")
    return one_hour(predictors, windows, val) if len(val) and predictors else {}


def naive_validation_smape(windows: Windows) -> dict[str, float]:
    """Each naive repeat's validation sMAPE, for those within the windows' history: what a
    network must beat before it is worth using."""
    naive = {name: repeat(lag) for name, lag in REPEATS.items() if lag <= windows.spec.history}
    return validation_smape(windows, validation_forecasts(naive, windows))


def losing_to_baselines(
    cell: str, val_smape: float | None, baselines: dict[str, float]
) -> str | None:
    """A warning naming each baseline whose validation sMAPE (`baselines`) is at or below the
    cell's (`val_smape`), by how much, and what to try; None when the cell beats them all or
    there is no validation figure."""
    if val_smape is None:
        return None
    beaten_by = {name: smape for name, smape in baselines.items() if smape <= val_smape}
    if not beaten_by:
        return None
    listed = ", ".join(
        f"{name} {smape:.3f}% ({100 * (val_smape / smape - 1):.0f}% better)"
        for name, smape in sorted(beaten_by.items(), key=lambda item: item[1])
    )
    return (
        f"{cell}: validation sMAPE {val_smape:.3f}% is not below {listed}: on this data the "
        "network does not earn its place yet; try a smaller network or fewer epochs on a short "
        "series, a known covariate such as a temperature forecast, and compare on validation "
        "(docs/accuracy.md)"
    )
