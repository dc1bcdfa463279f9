"""The forecast command's readings: raw files of any region, refused with one clear line when
they are not in the raw format."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
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


def test_a_long_table_in_utc_forecasts_as_its_local_readings(tmp_path: Path, untrained_gru) -> None:
    """A model trained from a long table in Berlin time reads the user's UTC export, and says
    which hour it means by its UTC offset."""
    import copy
    from dataclasses import replace

    import pandas as pd

    from loadforecast.cli import main
    from loadforecast.config import ColumnsParams, ReadingsParams
    from loadforecast.readings import recent_readings

    windows, _, forecaster = untrained_gru
    columns = ColumnsParams(series="area", timestamp="utc_time", load="demand_mw")
    berlin = ReadingsParams(
        format="table",
        columns=columns,
        timezone="Europe/Berlin",
        frequency="auto",
        covariates={"feeder_note": "ignored"},
    )
    forecaster = copy.copy(forecaster)  # the session's fixture stays as it is
    forecaster.recipe = replace(forecaster.recipe, readings=berlin)
    forecaster.save(tmp_path / "model.pt")
    local = recent_readings(windows, 300)
    utc = local["timestamp"].dt.tz_localize("Europe/Berlin").dt.tz_convert("UTC")
    export = pd.DataFrame(
        {
            "utc_time": utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "area": local["region"],
            "demand_mw": local["load_mw"],
            "feeder_note": "declared ignored, not read",
        }
    )
    export.to_csv(tmp_path / "export.csv", index=False)
    out = tmp_path / "forecast.csv"
    main(["forecast", str(tmp_path / "model.pt"), str(tmp_path / "export.csv"), "--hours", "3",
          "--output", str(out)])  # fmt: skip
    got = pd.read_csv(out, parse_dates=["timestamp"])
    expected = forecaster.forecast(local, hours=3)
    assert list(got["timestamp"]) == list(expected["timestamp"])
    assert list(got["utc_offset"]) == ["+01:00"] * 3  # winter in Berlin
    np.testing.assert_allclose(got["forecast_mw"], expected["forecast_mw"], rtol=1e-6)


def test_utc_offsets_name_the_hour_on_the_days_the_clocks_change() -> None:
    import pandas as pd

    from loadforecast.hourly import utc_offsets

    local = pd.Series(pd.to_datetime(["2018-03-25 01:00", "2018-03-25 02:00", "2018-03-25 03:00",
                                      "2018-10-28 02:00", "2018-10-28 03:00"]))  # fmt: skip
    # the skipped hour (filled) takes the offset after the change; the merged repeated hour
    # its first, summer-time offset
    assert list(utc_offsets(local, "Europe/Berlin")) == [
        "+01:00", "+02:00", "+02:00", "+02:00", "+01:00"
    ]  # fmt: skip
