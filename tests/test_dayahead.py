"""Day-ahead evaluation: midnights with a whole test day ahead, recursive forecasts equal to the
forecaster's from the readings before midnight, the baselines' hours, and the scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast import dayahead
from loadforecast.baselines import fit_baselines, one_hour
from loadforecast.model import predict
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import gather
from tests.synthetic import readings


@pytest.fixture(scope="module")
def setup(trained):
    windows, models, forecasts = trained
    test = windows.split("test")
    return windows, models, forecasts, dayahead.issue_origins(windows), test


def test_origins_are_midnights_with_a_whole_test_day_ahead(setup) -> None:
    _, _, _, origins, test = setup
    assert len(origins) > 0 and (origins["label_time"].dt.hour == 0).all()
    labelled = set(test["label_row"])
    for row in origins["label_row"]:
        assert all(row + k in labelled for k in range(24))
    midnights = test[test["label_time"].dt.hour == 0]
    last_day = midnights["label_time"] > test["label_time"].max() - pd.Timedelta(hours=23)
    assert len(origins) == len(midnights) - last_day.sum()  # the last day is cut short


def test_the_first_hour_is_the_one_hour_forecast_and_the_rest_the_forecasters(setup) -> None:
    windows, models, forecasts, origins, _ = setup
    series = torch.from_numpy(windows.series)
    rows = torch.tensor(origins["label_row"].to_numpy())
    days = dayahead.recursive(models, series, rows, windows)
    one_hour = np.mean([predict(m, series, rows, windows.spec, 64) for m in models], axis=0)
    np.testing.assert_allclose(days[:, 0], one_hour, rtol=1e-6)
    history = readings()
    for (_, origin), day in zip(origins.iterrows(), days, strict=True):
        before = history[
            (history["region"] == origin["region"]) & (history["timestamp"] < origin["label_time"])
        ]
        expected = forecasts.forecast(before, hours=24)
        scale = windows.scalers[origin["region"]]
        low, high = scale["min"][LOAD_COLUMN], scale["max"][LOAD_COLUMN]
        np.testing.assert_allclose(low + day * (high - low), expected["forecast_mw"], rtol=5e-5)


def test_repeat_baselines_read_the_hours_they_name(setup) -> None:
    windows, _, _, origins, _ = setup
    names = ("persistence", "same_hour_yesterday", "same_hour_last_week")
    out = dayahead.baseline_days(fit_baselines(windows, names, seed=0), windows, origins)
    loads = windows.series[:, LOAD_COLUMN]
    row = origins["label_row"].iloc[0]
    assert (out["persistence"][0] == loads[row - 1]).all()
    assert out["same_hour_yesterday"][0].tolist() == loads[row - 24 : row].tolist()
    assert out["same_hour_last_week"][0].tolist() == loads[row - 168 : row - 144].tolist()


def test_fitted_baselines_read_their_own_forecasts_as_recent_loads(setup) -> None:
    windows, _, _, origins, _ = setup
    predictors = fit_baselines(windows, ("linear", "gradient_boosting"), seed=0)
    days = dayahead.baseline_days(predictors, windows, origins)
    one_hour_ahead = one_hour(predictors, windows, origins)
    first = origins.iloc[:1]
    for name, baseline in predictors.items():
        np.testing.assert_allclose(days[name][:, 0], one_hour_ahead[name], rtol=1e-6)
        # The second hour, by hand: the first hour's forecast written in as its load.
        fed = windows.series.copy()
        row = first["label_row"].to_numpy()
        fed[row, LOAD_COLUMN] = days[name][0, 0]
        second = baseline(fed, row + 1, first["region"].to_numpy())
        np.testing.assert_allclose(days[name][0, 1], second[0], rtol=1e-6)
        from_real = baseline(windows.series, row + 1, first["region"].to_numpy())
        assert days[name][0, 1] != from_real[0]  # not the one-hour forecast


def test_scores_by_horizon_are_the_mean_of_the_regions(setup) -> None:
    windows, _, _, origins, _ = setup
    rows = origins["label_row"].to_numpy()[:, None] + np.arange(24)
    perfect = windows.series[rows, LOAD_COLUMN]
    report = dayahead.score(windows, origins, {"perfect": perfect, "off": perfect * 1.1 + 0.1})
    assert report["perfect"]["smape_day"] == 0
    off = report["off"]
    assert len(off["smape_by_horizon"]) == 24 and off["smape_day"] > 0
    regional = np.mean([r["smape_by_horizon"] for r in off["regions"].values()], axis=0)
    np.testing.assert_allclose(off["smape_by_horizon"], regional)


def test_the_carried_state_forecasts_as_the_whole_window_since_the_origin_would(setup) -> None:
    """Each hour carried on equals one zero-state run over the origin's window and every hour
    since, the forecasts written in: the state carried is that run's, one hour at a time."""
    windows, models, _, origins, _ = setup
    series = torch.from_numpy(windows.series)
    for row in origins["label_row"].to_numpy()[:3]:  # one at a time: days overlap in a series
        rows = torch.tensor([row])
        carried = dayahead.recursive(models[:1], series, rows, windows)
        fresh = dayahead.recursive(models[:1], series, rows, windows, carry_state=False)
        np.testing.assert_allclose(carried[:, 0], fresh[:, 0], rtol=0, atol=1e-6)  # one window
        for k in (1, 5, 23):
            local = series.clone()
            local[row : row + k, LOAD_COLUMN] = torch.from_numpy(carried[0, :k])
            since_origin = dataclasses.replace(windows.spec, lookback=windows.spec.lookback + k)
            inputs = gather(local, rows + k, since_origin)[0]
            with torch.inference_mode():
                whole = models[0].next_hour(inputs).numpy()
            np.testing.assert_allclose(carried[:, k], whole, rtol=0, atol=1e-5)
