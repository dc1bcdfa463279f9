"""The forecast command's readings: raw files of any region, refused with one clear line when
they are not in the raw format."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from loadforecast.data import read_readings, region_of
from loadforecast.errors import LoadForecastError
from tests.synthetic import load_series, write_region_csv


def test_each_raw_file_gives_its_regions_readings(tmp_path: Path) -> None:
    paths = [
        write_region_csv(tmp_path, region, load_series("2018-01-01", 300, seed=i), seed=i)
        for i, region in enumerate(("AEP", "PJM_Load"))
    ]
    readings = read_readings(paths)
    assert list(readings.columns) == ["region", "timestamp", "load_mw"]
    assert readings.groupby("region").size().to_dict() == {"AEP": 300, "PJM_Load": 300}
    assert readings["timestamp"].dt.year.unique().tolist() == [2018]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Datetime,AEP\n2018-01-01 00:00:00,1\n", r"header is 'Datetime,AEP', expected"),
        ("time,AEP_MW\n2018-01-01 00:00:00,1\n", r"header is 'time,AEP_MW', expected"),
        ("Datetime,AEP_MW,DOM_MW\n2018-01-01 00:00:00,1,2\n", r"one region per file"),
        ("Datetime,AEP_MW\n2018-01-01 00:00:00,12O5\n", r"line 2: '12O5' is not a number"),
        ("", r"the file is empty"),
    ],
)
def test_a_file_not_in_the_raw_format_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "AEP_hourly.csv"
    path.write_text(content)
    with pytest.raises(LoadForecastError, match=message):
        read_readings([path])


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LoadForecastError, match=r"no such file"):
        region_of(tmp_path / "missing.csv")
    broken = tmp_path / "AEP_hourly.csv.gz"
    broken.write_bytes(gzip.compress(b"Datetime,AEP_MW\n2018-01-01 00:00:00,1\n")[:20])
    with pytest.raises(LoadForecastError, match=r"AEP_hourly.csv.gz"):
        read_readings([broken])
