"""Day-ahead evaluation: midnights with a whole test day ahead, the cells' forecasts equal to the
forecaster's from the readings before midnight, the baselines' hours, and the scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from loadforecast import dayahead
from loadforecast.baselines import fit_baselines, multi_hour, one_hour
from loadforecast.forecaster import network_forecasts
from loadforecast.metrics import seed_column
from loadforecast.scaling import LOAD_COLUMN
from tests.synthetic import readings


@pytest.fixture(scope="module")
def setup(untrained_gru):
    windows, models, forecasts = untrained_gru
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


def test_each_cell_and_seed_forecasts_as_the_forecaster_does_from_the_readings(setup) -> None:
    windows, models, forecaster, origins, _ = setup
    series = torch.from_numpy(windows.series)
    scaled, levels = dayahead.issue_forecasts(
        {"gru": forecaster}, windows, series, origins, dayahead.MIDNIGHT
    )
    seeds = [seed_column("gru", s) for s in forecaster.seeds]
    assert set(scaled) == {"gru", *seeds} and levels["gru"] == forecaster.recipe.config.quantiles
    assert scaled["gru"].shape == (len(origins), 24, 3)
    rows = torch.tensor(origins["label_row"].to_numpy())
    for column, model in zip(seeds, models, strict=True):  # each seed its own network's forecast
        alone = network_forecasts([model], series, rows, windows.spec, 24)[0]
        np.testing.assert_array_equal(scaled[column], alone)
    history = readings()
    for (_, origin), day in zip(origins.iterrows(), scaled["gru"], strict=True):
        before = history[
            (history["region"] == origin["region"]) & (history["timestamp"] < origin["label_time"])
        ]
        expected = forecaster.forecast(before, hours=24)
        scale = windows.scalers[origin["region"]]
        low, high = scale["min"][LOAD_COLUMN], scale["max"][LOAD_COLUMN]
        np.testing.assert_allclose(low + day[:, 1] * (high - low), expected["p50"], rtol=5e-5)


def test_a_cell_without_a_decoder_has_no_day_ahead_figures(setup, untrained_one_hour_gru):
    windows, _, _, origins, _ = setup
    series = torch.from_numpy(windows.series)
    cells = {"gru": untrained_one_hour_gru.forecaster}
    scaled, _ = dayahead.issue_forecasts(cells, windows, series, origins, dayahead.MIDNIGHT)
    assert scaled == {}
    predictors = fit_baselines(windows, ("persistence",), seed=0)
    tables, fans = dayahead.day_ahead(cells, windows, series, baselines=predictors)
    assert tables["23:00"]["models"] == {} and "persistence" in tables["23:00"]["baselines"]
    assert fans.empty


def test_repeat_baselines_read_the_hours_they_name(setup) -> None:
    windows, _, _, origins, _ = setup
    names = ("persistence", "same_hour_yesterday", "same_hour_last_week")
    out = multi_hour(fit_baselines(windows, names, seed=0), windows, origins, 24)
    loads = windows.series[:, LOAD_COLUMN]
    row = origins["label_row"].iloc[0]
    assert (out["persistence"][0] == loads[row - 1]).all()
    assert out["same_hour_yesterday"][0].tolist() == loads[row - 24 : row].tolist()
    assert out["same_hour_last_week"][0].tolist() == loads[row - 168 : row - 144].tolist()


def test_fitted_baselines_read_their_own_forecasts_as_recent_loads(setup) -> None:
    windows, _, _, origins, _ = setup
    predictors = fit_baselines(windows, ("linear", "gradient_boosting"), seed=0)
    days = multi_hour(predictors, windows, origins, 24)
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
    report = dayahead.score_days(windows, origins, {"perfect": perfect, "off": perfect * 1.1 + 0.1})
    assert report["perfect"]["smape_day"] == 0
    off = report["off"]
    assert len(off["smape_by_horizon"]) == 24 and off["smape_day"] > 0
    regional = np.mean([r["smape_by_horizon"] for r in off["regions"].values()], axis=0)
    np.testing.assert_allclose(off["smape_by_horizon"], regional)
