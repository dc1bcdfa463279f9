"""The peers benchmark (`benchmarks/peers.py`): what it hands the libraries, how it scores them,
and, where `.[peers]` is installed (its own environment, as `.ci/run` makes it), a whole run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmarks import peers
from loadforecast.calendar import add_time_features
from loadforecast.errors import LoadForecastError
from loadforecast.scaling import LOAD_COLUMN
from loadforecast.windows import build_windows, save_windows
from tests.conftest import CALENDAR, REPO, multi_horizon_config, untrained
from tests.synthetic import readings, window_params

PEER_PACKAGES = ("statsforecast", "mlforecast", "neuralforecast", "lightgbm")
MISSING = [name for name in PEER_PACKAGES if importlib.util.find_spec(name) is None]


def tiny_windows(frame: pd.DataFrame | None = None):
    frame = add_time_features(readings() if frame is None else frame, CALENDAR)
    windows, _ = build_windows(frame, window_params(24, 0.1, 0.1, (24, 168), True, 168))
    return windows


def test_the_peers_get_the_windows_loads_in_megawatts_at_their_own_hours():
    windows = tiny_windows()
    hours = peers.region_hours(windows)
    labels = windows.index.merge(hours, left_on="label_row", right_on="row")
    assert (labels["ds"] == labels["label_time"]).all()
    assert (labels["unique_id"] == labels["region"]).all()
    expected = windows.unscale_load(
        windows.series[labels["label_row"], LOAD_COLUMN], labels["region"].to_numpy()
    )
    np.testing.assert_allclose(labels["y"], expected)
    train = peers.training_part(hours, windows)
    last_train = windows.split("train").groupby("region")["label_time"].max()
    assert train.groupby("unique_id")["ds"].max().equals(last_train.rename_axis("unique_id"))


def test_each_origin_reads_the_four_weeks_before_it_and_nothing_after():
    windows = tiny_windows()
    hours = peers.region_hours(windows)
    origins = peers.peer_origins(windows, "test")["10:00"]
    context = peers.contexts(hours, origins)
    last = context.groupby("unique_id", sort=False)["ds"].agg(["max", "size"])
    assert (last["size"] == peers.CONTEXT_HOURS).all()
    expected = origins["label_time"].to_numpy() - np.timedelta64(1, "h")
    np.testing.assert_array_equal(last.loc[peers.origin_ids(origins), "max"], expected)


def test_both_issue_times_use_the_pipelines_origins():
    from loadforecast.dayahead import ISSUES, issue_origins

    windows = tiny_windows()
    origins = peers.peer_origins(windows, "test")
    for name, issue in ISSUES.items():
        assert origins[name].equals(issue_origins(windows, issue))


def test_a_region_with_a_gap_is_refused_by_name():
    frame = readings()
    gap = (frame["region"] == "BBB") & frame["timestamp"].between("2018-11-20", "2018-11-30")
    with pytest.raises(LoadForecastError, match=r"region BBB: .* not one unbroken stretch"):
        peers.region_hours(tiny_windows(frame[~gap]))


def test_origins_without_four_weeks_before_them_are_refused_with_their_count():
    frame = readings()
    windows = tiny_windows(frame[frame["timestamp"] >= "2018-12-01"])
    with pytest.raises(LoadForecastError, match=r"issued 23:00: \d+ origins of the test part"):
        peers.peer_origins(windows, "test")


def test_a_perfect_forecast_scores_zero_and_an_interval_covers_what_it_should():
    actual = np.full((4, 24), 100.0)
    regions = np.array(["A", "A", "B", "B"])
    issue = peers.ISSUES["23:00"]
    perfect = peers.score(
        {"p50": actual, "p10": actual - 10, "p90": actual + 10}, actual, regions, issue
    )
    assert perfect["smape"] == 0 and perfect["coverage_p10_p90"] == 100
    assert perfect["width_p10_p90"] == pytest.approx(20)
    assert perfect["pinball"] == pytest.approx(100 * (0.1 * 10 + 0.1 * 10) / 3 / 100)
    low = peers.score(
        {"p50": actual - 20, "p10": actual - 30, "p90": actual - 11}, actual, regions, issue
    )
    assert low["coverage_p10_p90"] == 0
    # Every target is above all three quantiles: pinball = mean of q * error over 0.1, 0.5, 0.9.
    assert low["pinball"] == pytest.approx((0.1 * 30 + 0.5 * 20 + 0.9 * 11) / 3)
    assert low["regions_smape"].keys() == {"A", "B"}


@pytest.mark.slow
@pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} missing: pip install torch==2.13.0 -e '.[peers]' in an "
    "environment of its own (they need pandas < 3)",
)
def test_every_peer_forecasts_both_issue_times_and_seasonal_naive_lines_up(untrained_gru, tmp_path):
    windows, _, forecaster = untrained_gru
    save_windows(windows, tmp_path)
    forecaster.save(tmp_path / "gru.pt")
    output = tmp_path / "peers.json"
    tiny = ["--lgbm-estimators", "20", "--lgbm-direct-estimators", "5", "--neural-steps", "3"]
    command = [sys.executable, "-m", "benchmarks.peers", "--windows", str(tmp_path), *tiny]
    quantiles = untrained(windows, multi_horizon_config(windows, "lstm")).forecaster
    quantiles.save(tmp_path / "lstm.pt")
    command += ["--models", str(tmp_path / "gru.pt"), str(tmp_path / "lstm.pt")]
    done = subprocess.run(
        [*command, "--output", str(output)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(output.read_text())
    assert result["seasonal_naive_max_difference_mw"] == {"23:00": 0.0, "10:00": 0.0}
    assert set(result["versions"]) >= set(PEER_PACKAGES)
    naive, same_hour = (
        result["predictors"][k] for k in ("statsforecast_seasonal_naive_24", "same_hour_latest_day")
    )
    assert naive == same_hour
    for name, issues in result["predictors"].items():
        assert len(issues["23:00"]["smape_by_horizon"]) == 24, name
        assert len(issues["10:00"]["smape_by_horizon"]) == 24, name
        assert np.isfinite(issues["10:00"]["smape"]), name
    gru = result["predictors"]["gru"]
    seeds = [result["predictors"][f"gru_seed{seed}"]["10:00"]["smape"] for seed in (1, 2)]
    assert gru["10:00"]["smape"] == pytest.approx(np.mean(seeds))
    assert "gru_ensemble" in result["predictors"]
    lstm = result["predictors"]["lstm"]["10:00"]
    assert lstm["pinball"] > 0 and 0 <= lstm["coverage_p10_p90"] <= 100
    for name in ("statsforecast_mstl", "neuralforecast_nhits", "neuralforecast_lstm"):
        assert 0 <= result["predictors"][name]["10:00"]["coverage_p10_p90"] <= 100
        assert result["predictors"][name]["10:00"]["pinball"] > 0
