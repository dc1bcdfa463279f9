"""Evaluate: baselines on the same windows as the models, scores over seeds, and forecasters
that must match the windows they are evaluated on (layout and scalers)."""

from __future__ import annotations

import numpy as np
import pytest

from loadforecast.baselines import fit_baselines, one_hour
from loadforecast.data import PJM_READINGS
from loadforecast.errors import LoadForecastError
from loadforecast.forecaster import Recipe
from loadforecast.metrics import over_seeds
from loadforecast.model import ModelConfig
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import InputSpec, Windows, build_windows
from tests.synthetic import POLICY, calendar, regions_frame, window_params

CALENDAR = calendar(cyclic=False, holidays=None)


def windows_of(spec: InputSpec, hours: int = 24 * 60, regions=("AAA", "BBB")) -> Windows:
    params = window_params(spec.lookback, 0.1, 0.1, spec.lags, spec.future_calendar)
    windows, _ = build_windows(regions_frame(regions, hours, grow=True), params)
    assert windows.spec == spec
    return windows


def test_repeat_baselines_read_the_hour_they_name():
    windows = windows_of(InputSpec(24, lags=(168,)))
    test = windows.split("test")
    rows = test["label_row"].to_numpy()
    names = ("persistence", "same_hour_yesterday", "same_hour_last_week")
    forecasts = one_hour(fit_baselines(windows, names, seed=0), windows, test)
    for name, back in zip(names, (1, 24, 168), strict=True):
        np.testing.assert_array_equal(forecasts[name], windows.series[rows - back, LOAD_COLUMN])


def test_a_baseline_beyond_the_windows_history_is_skipped(caplog):
    windows = windows_of(InputSpec(24))
    forecasts = fit_baselines(windows, ("persistence", "same_hour_last_week"), seed=0)
    assert set(forecasts) == {"persistence"} and "same_hour_last_week skipped" in caplog.text


def test_fitted_baselines_beat_persistence_on_a_daily_cycle():
    windows = windows_of(InputSpec(48, lags=(168,)))
    test = windows.split("test")
    actual = windows.series[test["label_row"], LOAD_COLUMN]
    names = ("persistence", "linear", "gradient_boosting")
    forecasts = one_hour(fit_baselines(windows, names, seed=0), windows, test)
    errors = {name: np.abs(f - actual).mean() for name, f in forecasts.items()}
    assert errors["linear"] < errors["persistence"] / 2
    assert errors["gradient_boosting"] < errors["persistence"] / 2


def test_scores_over_seeds_give_mean_and_sample_spread():
    out = over_seeds([{"smape": 1.0}, {"smape": 2.0}, {"smape": 3.0}])
    assert out == {"smape": 2.0, "smape_std": 1.0}
    assert over_seeds([{"smape": 1.5}]) == {"smape": 1.5, "smape_std": 0.0}


def recipe_for(windows: Windows) -> Recipe:
    config = ModelConfig("gru", len(windows.spec.channels(windows.features)), 4, 1, 0.0)
    return Recipe.for_windows("gru", config, windows, POLICY, CALENDAR, PJM_READINGS)


def test_a_forecaster_checks_the_windows_it_is_evaluated_on():
    trained_on = windows_of(InputSpec(24, lags=(168,), future_calendar=True))
    recipe_for(trained_on).check_windows(trained_on, "gru.pt")  # its own: accepted
    with pytest.raises(LoadForecastError, match=r"gru\.pt: trained on windows .*retrain it"):
        recipe_for(trained_on).check_windows(windows_of(InputSpec(24)), "gru.pt")


def test_a_forecaster_refuses_windows_scaled_otherwise():
    """The same layout re-windowed with another split refits the scalers: refused."""
    spec = InputSpec(24, lags=(168,), future_calendar=True)
    trained_on = windows_of(spec)
    params = window_params(spec.lookback, 0.5, 0.3, spec.lags, spec.future_calendar)
    rescaled, _ = build_windows(regions_frame(("AAA", "BBB"), 24 * 60, grow=True), params)
    assert rescaled.spec == spec and rescaled.scalers != trained_on.scalers
    with pytest.raises(LoadForecastError, match="scaled otherwise"):
        recipe_for(trained_on).check_windows(rescaled, "gru.pt")


def test_a_network_no_better_than_any_baseline_is_reported(untrained_gru, tmp_path) -> None:
    from loadforecast.baselines import (
        fit_baselines,
        losing_to_baselines,
        naive_validation_smape,
        validation_forecasts,
    )
    from loadforecast.forecaster import Forecaster
    from loadforecast.metrics import validation_smape

    windows, _, forecaster = untrained_gru
    naive = naive_validation_smape(windows)
    assert set(naive) == {"persistence", "same_hour_yesterday", "same_hour_last_week"}
    fitted_baselines = fit_baselines(windows, ("linear", "gradient_boosting"), 0)
    fitted = validation_smape(windows, validation_forecasts(fitted_baselines, windows))
    every = naive | fitted
    best = min(every, key=every.get)
    worse = every[best] + 0.01
    warning = losing_to_baselines("gru", worse, every)
    assert f"validation sMAPE {worse:.3f}% is not below {best} {every[best]:.3f}%" in warning
    assert all(name in warning for name, smape in every.items() if smape <= worse)
    assert losing_to_baselines("gru", every[best] - 0.01, every) is None
    assert losing_to_baselines("gru", None, every) is None  # no validation part: nothing to say
    worse = {"val_smape": worse, "naive": naive}
    forecaster.validation = worse
    try:
        forecaster.save(tmp_path / "model.pt")
        assert Forecaster.load(tmp_path / "model.pt").validation == worse
    finally:
        forecaster.validation = {}
