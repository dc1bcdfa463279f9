"""Integration checks on the real PJM files, when they are at hand (set PJM_DATA_DIR, or keep the
shared copy beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.study_reference import study_params
from loadforecast.calendar import add_time_features
from loadforecast.data import read_regions
from loadforecast.settings import load_params
from loadforecast.windows import build_windows, split_codes
from tests import REPO
from tests.synthetic import calendar

DATA = Path(os.environ.get("PJM_DATA_DIR", REPO.parent / "shared" / "data" / "pjm-hourly"))
# Rows per file, as published with the dataset.
RAW_ROWS = {
    "AEP": 121273, "COMED": 66497, "DAYTON": 121275, "DEOK": 57739, "DOM": 116189,
    "DUQ": 119068, "EKPC": 45334, "FE": 62874, "NI": 58450, "PJME": 145366, "PJMW": 143206,
    "PJM_Load": 32896,
}  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"no real data in {DATA}"),
]


@pytest.fixture(scope="module")
def ingested():
    params = study_params(REPO / "params.yaml")  # the study's windows
    return read_regions(DATA, params.data.regions, params.ingest), params


def test_ingest_reads_every_row_of_every_region(ingested):
    (table, report), _ = ingested
    assert {r: report[r]["rows_raw"] for r in report} == RAW_ROWS
    # DST: the repeated autumn hour of 2014-2017 (none in NI's and PJM_Load's years).
    assert report["AEP"]["duplicate_timestamps_merged"] == 4
    assert report["NI"]["duplicate_timestamps_merged"] == 0
    assert report["FE"]["implausible_readings"] == 1  # its 0 MW hour
    for region, r in report.items():
        distinct = r["rows_raw"] - r["exact_duplicate_rows"] - r["duplicate_timestamps_merged"]
        assert r["rows_clean"] == distinct + r["missing_hours"] - r["hours_left_out"]
        assert (table["region"] == region).sum() == r["rows_clean"]


def test_study_split_on_raw_rows_gives_its_980185_training_windows():
    lookback, test_fraction = 90, 0.1
    train = sum(
        int((split_codes(rows - lookback, test_fraction, 0.0) == 0).sum())
        for rows in RAW_ROWS.values()
    )
    assert train == 980_185


def test_cleaned_series_give_980343_training_windows(ingested):
    """Cleaning adds the filled hours and removes merged duplicates and FE's leading 0 MW hour,
    so each region has rows_clean - 90 windows instead of rows_raw - 90."""
    (table, report), params = ingested
    _, counts = build_windows(
        add_time_features(table, calendar(cyclic=False, holidays=None)), params.window
    )
    for region, r in report.items():
        windows = r["rows_clean"] - params.window.lookback  # no gap splits a real series
        assert counts[region]["test"] == int(0.1 * windows)
        assert counts[region]["train"] == windows - int(0.1 * windows)
    assert sum(c["train"] for c in counts.values()) == 980_343
    assert sum(c["test"] for c in counts.values()) == 108_920


def test_default_windows_hold_out_validation_before_test(ingested):
    """By default every label has the 257 hours its inputs reach (a 90-hour window whose first
    hour reads the load a week before it); the validation part is the last 10% of each region's
    training part and ends where its test part begins."""
    (table, _), _ = ingested
    params = load_params(REPO / "params.yaml")
    features = add_time_features(table, params.features)
    windows, counts = build_windows(features, params.window)
    for _, region in windows.index.groupby("region", sort=False):
        splits = region["split"].tolist()
        assert splits == sorted(splits, key=["train", "val", "test"].index)
    totals = {s: sum(c[s] for c in counts.values()) for s in ("train", "val", "test")}
    assert totals == {"train": 880_692, "val": 97_848, "test": 108_719}
