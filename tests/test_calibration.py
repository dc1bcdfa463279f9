"""Calibrated intervals: split-conformal offsets of each quantile, per hour ahead and region,
learnt on the validation part, stored in the forecaster and applied wherever it forecasts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loadforecast.forecaster import Forecaster
from loadforecast.quantiles import calibrated, conformal_offsets
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.training import calibration_offsets
from loadforecast.windows import reaching_ahead
from tests.conftest import HORIZONS, LEVELS
from tests.synthetic import readings


def too_narrow(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantile forecasts (count, 2 hours, P10/P50/P90) of a standard normal that claim a
    P10-P90 of +-0.5 (it is +-1.28), and the actual values."""
    rng = np.random.default_rng(seed)
    actual = rng.normal(size=(count, 2))
    quantiles = np.broadcast_to(np.array([-0.5, 0.0, 0.5]), (count, 2, 3)).copy()
    return quantiles, actual


def coverage(quantiles: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean((actual >= quantiles[..., 0]) & (actual <= quantiles[..., -1])) * 100)


def test_offsets_learnt_on_some_origins_make_others_cover_what_they_promise() -> None:
    learn, check = too_narrow(4000, seed=0), too_narrow(20000, seed=1)
    assert coverage(*check) < 40
    offsets = conformal_offsets(*learn, LEVELS)
    assert offsets.shape == (2, 3) and (offsets[:, 1] == 0).all()
    fixed = calibrated(check[0], offsets[None], median=1)
    assert 78 < coverage(fixed, check[1]) < 82
    np.testing.assert_array_equal(fixed[..., 1], check[0][..., 1])  # the median as it was
    np.testing.assert_allclose(offsets[:, 2], 1.2816 - 0.5, atol=0.08)


@pytest.mark.parametrize(
    ("count", "lower_rank", "upper_rank"),
    [(9, 1, 9), (19, 2, 18), (99, 10, 90), (4, 1, 4)],  # floor((n+1) 0.1), ceil((n+1) 0.9)
)
def test_each_shift_is_the_finite_sample_rank_of_the_errors(count, lower_rank, upper_rank):
    errors = np.random.default_rng(count).permutation(np.arange(1.0, count + 1))  # 1..n
    quantiles = np.zeros((count, 1, 3))
    offsets = conformal_offsets(quantiles, errors[:, None], LEVELS)
    assert offsets[0].tolist() == [lower_rank, 0.0, upper_rank]  # the k-th smallest error is k


def test_a_shift_that_would_reach_the_median_leaves_that_level_as_it_was() -> None:
    quantiles = np.array([[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]], dtype=np.float32)
    offsets = np.array([[[3.0, 0.0, -1.0], [0.5, 0.0, -0.5]]], dtype=np.float32)
    shifted = calibrated(quantiles, offsets, median=1)
    assert shifted.tolist() == [[[0.0, 1.0, 2.0], [0.5, 1.0, 1.5]]]  # 3 and 1 would cross


def test_no_calibration_origins_leave_the_quantiles_as_they_are() -> None:
    offsets = conformal_offsets(np.zeros((0, 4, 3)), np.zeros((0, 4)), LEVELS)
    assert offsets.shape == (4, 3) and not offsets.any()


def test_each_region_is_calibrated_to_cover_its_validation_origins(untrained_gru) -> None:
    windows, models, plain = untrained_gru
    offsets = calibration_offsets(models[0], windows, torch.device("cpu"), 256)
    assert set(offsets) == {"AAA", "BBB"}
    for region, shifts in offsets.items():
        assert shifts.shape == (HORIZONS, len(LEVELS)) and (shifts[:, 1] == 0).all(), region
    one = Forecaster(plain.recipe, plain.states[:1], plain.seeds[:1], calibration=[offsets])
    index = windows.index.sort_values("label_row")
    rows = index["label_row"].to_numpy()
    val = index[reaching_ahead(rows, (index["split"] == "val").to_numpy(), HORIZONS)]
    series, origins = torch.from_numpy(windows.series), val["label_row"].to_numpy()
    actual = windows.series[origins[:, None] + np.arange(HORIZONS), LOAD_COLUMN]
    regions = val["region"].to_numpy()
    before = plain.forecast_rows(series, torch.tensor(origins), regions, HORIZONS)[1][0]
    after = one.forecast_rows(series, torch.tensor(origins), regions, HORIZONS)[1][0]
    assert coverage(before, actual) < 50  # an untrained network's interval is far too narrow
    # at least 80%; above it by the finite-sample correction: 41 origins a region, 3 out each side
    assert 80 <= coverage(after, actual) < 88


def test_the_forecaster_keeps_its_calibration_and_forecasts_with_it(untrained_gru, tmp_path):
    windows, _, plain = untrained_gru
    offsets = {"AAA": np.tile(np.array([-0.01, 0.0, 0.02], np.float32), (HORIZONS, 1))}
    wider = Forecaster(plain.recipe, plain.states, plain.seeds, calibration=[offsets] * 2)
    wider.save(tmp_path / "gru.pt")
    loaded = Forecaster.load(tmp_path / "gru.pt")
    np.testing.assert_array_equal(loaded.calibration[1]["AAA"], offsets["AAA"])
    recent = readings().groupby("region").tail(400)
    before, after = plain.forecast(recent, 24), loaded.forecast(recent, 24)
    np.testing.assert_array_equal(after["forecast_mw"], before["forecast_mw"])
    span = windows.scalers["AAA"]["max"][0] - windows.scalers["AAA"]["min"][0]
    aaa, bbb = (after["region"] == "AAA").to_numpy(), (after["region"] == "BBB").to_numpy()
    widened = (after["p90"] - before["p90"])[aaa]
    assert widened.to_numpy() == pytest.approx(0.02 * span, rel=1e-3)  # unless at the median
    assert (after["p10"][aaa] <= before["p10"][aaa]).all()
    np.testing.assert_array_equal(after["p90"][bbb], before["p90"][bbb])  # no offsets: as is
