import numpy as np
import pytest

from loadforecast.metrics import forecast_metrics, smape, smape_study_formula


def test_smape_against_hand_computed_values():
    # 2*10/210 = 0.0952381, 2*10/190 = 0.1052632 -> mean 0.1002506 -> 10.02506 %
    assert smape(np.array([110.0, 90.0]), np.array([100.0, 100.0])) == pytest.approx(10.02506, 1e-5)


def test_smape_along_an_axis_gives_each_columns_figure():
    forecast, actual = np.array([[110.0, 0.0], [90.0, 5.0]]), np.array([[100.0, 0.0], [100.0, 5.0]])
    assert smape(forecast, actual, axis=0).tolist() == [pytest.approx(10.02506, 1e-5), 0.0]


def test_smape_counts_zero_over_zero_as_perfect():
    assert smape(np.array([0.0, 50.0]), np.array([0.0, 50.0])) == 0.0
    assert smape(np.array([0.0]), np.array([10.0])) == pytest.approx(200.0)


def test_study_figure_is_a_quarter_of_the_true_smape():
    forecast, actual = np.array([120.0, 80.0, 100.0]), np.array([100.0, 100.0, 90.0])
    expected = np.mean(np.abs(forecast - actual) / (forecast + actual) / 2) * 100
    assert smape_study_formula(forecast, actual) == pytest.approx(expected)
    assert smape_study_formula(forecast, actual) == pytest.approx(smape(forecast, actual) / 4)


def test_all_metrics_against_hand_computed_values():
    metrics = forecast_metrics(np.array([110.0, 90.0, 103.0]), np.array([100.0, 100.0, 100.0]))
    assert metrics["mae"] == pytest.approx((10 + 10 + 3) / 3)
    assert metrics["rmse"] == pytest.approx(np.sqrt((100 + 100 + 9) / 3))
    assert metrics["mape"] == pytest.approx((10 + 10 + 3) / 3)
    assert set(metrics) == {"smape", "mae", "rmse", "mape", "smape_study_formula"}
