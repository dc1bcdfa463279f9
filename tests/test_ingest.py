import numpy as np
import pandas as pd
import pytest

from loadforecast.cleaning import clean_series
from loadforecast.config import IngestParams
from loadforecast.data import read_region_csv, read_regions
from loadforecast.errors import LoadForecastError
from tests.synthetic import load_series, raw_frame, write_region_csv

POLICY = IngestParams(duplicates="mean", max_fill_hours=3, outlier_ratio=0.5)


def as_frame(series: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": series.index, "load_mw": series.to_numpy()})


def test_shuffled_rows_clean_back_to_the_sorted_series():
    series = load_series("2018-01-01", 200)
    cleaned, report = clean_series(as_frame(series).sample(frac=1.0, random_state=1), POLICY)
    pd.testing.assert_series_equal(cleaned, series, check_names=False, check_freq=False)
    assert report["rows_clean"] == 200 and report["hours_filled"] == 0


def test_repeated_hour_is_merged_and_exact_duplicates_dropped():
    series = load_series("2017-11-04", 48)
    autumn = pd.Timestamp("2017-11-05 01:00")
    frame = pd.concat(
        [
            as_frame(series),
            pd.DataFrame({"timestamp": [autumn], "load_mw": [series[autumn] + 100.0]}),
            as_frame(series.iloc[:2]),  # exact duplicate rows
        ]
    )
    cleaned, report = clean_series(frame, POLICY)
    assert cleaned[autumn] == pytest.approx(series[autumn] + 50.0)
    assert len(cleaned) == 48
    assert report["exact_duplicate_rows"] == 2 and report["duplicate_timestamps_merged"] == 1


def test_short_gaps_are_interpolated_and_long_gaps_split_the_series():
    series = load_series("2018-01-01", 100)
    holes = list(range(20, 22)) + list(range(50, 60))  # a 2-hour gap and a 10-hour gap
    cleaned, report = clean_series(as_frame(series.drop(series.index[holes])), POLICY)
    assert cleaned.index[20] == series.index[20]
    between = np.interp(20, [19, 22], [series.iloc[19], series.iloc[22]])
    assert cleaned.iloc[20] == pytest.approx(between)
    assert series.index[55] not in cleaned.index
    assert report["missing_hours"] == 12 and report["hours_filled"] == 2
    assert report["gaps_filled"] == 1 and report["gaps_split"] == 1
    assert report["hours_left_out"] == 10 and len(cleaned) == 90


def test_implausible_readings_are_flagged_and_filled_like_a_gap():
    series = load_series("2018-01-01", 100)
    broken = series.copy()
    broken.iloc[30] = 0.0  # a zero reading
    broken.iloc[60] = series.iloc[60] * 0.1  # far below its neighbours
    cleaned, report = clean_series(as_frame(broken), POLICY)
    assert report["implausible_readings"] == 2 and report["hours_filled"] == 2
    for i in (30, 60):
        assert cleaned.iloc[i] == pytest.approx((series.iloc[i - 1] + series.iloc[i + 1]) / 2)


def test_ingest_reads_each_region_into_one_tidy_table(tmp_path):
    write_region_csv(tmp_path, "AAA", load_series("2018-01-01", 30))
    write_region_csv(tmp_path, "BBB", load_series("2018-02-01", 20, seed=1))
    table, report = read_regions(tmp_path, ("AAA", "BBB"), POLICY)
    assert list(table.columns) == ["region", "timestamp", "load_mw"]
    assert table.groupby("region").size().to_dict() == {"AAA": 30, "BBB": 20}
    assert table.groupby("region")["timestamp"].is_monotonic_increasing.all()
    assert set(report) == {"AAA", "BBB"}


def write_text(tmp_path, text: str, name: str = "XX_hourly.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("Datetime,XX_MW\n", "no data rows"),
        (
            "Date,Load\n2018-01-01 00:00:00,1.0\n",
            "header is 'Date,Load', expected 'Datetime,XX_MW'",
        ),
        (
            "Datetime,XX_MW\n2018-01-01 00:00:00,1.0\n2018-13-01 00:00:00,2.0\n",
            "line 3: '2018-13-01 00:00:00' is not a timestamp",
        ),
        (
            "Datetime,XX_MW\n2018-01-01 00:00:00,1.0\n2018-01-01 01:00:00,n/a\n",
            "line 3: 'n/a' is not a number",
        ),
    ],
)
def test_malformed_files_are_refused_by_file_and_line(tmp_path, text, message):
    path = write_text(tmp_path, text)
    with pytest.raises(LoadForecastError, match=message) as err:
        read_region_csv(path, "XX")
    assert str(path) in str(err.value)


def test_csv_quirks_are_read(tmp_path):
    rows = raw_frame("XX", load_series("2018-01-01", 3)).to_csv(index=False, lineterminator="\r\n")
    path = tmp_path / "XX_hourly.csv"
    path.write_bytes(b"\xef\xbb\xbf" + rows.replace(",", " , ").encode() + b"\r\n\r\n")
    assert len(read_region_csv(path, "XX")) == 3


def test_missing_region_file_is_named(tmp_path):
    with pytest.raises(LoadForecastError, match=r"no ZZ_hourly\.csv"):
        read_regions(tmp_path, ("ZZ",), POLICY)


def test_fast_and_careful_readers_agree_on_a_well_formed_file(tmp_path):
    from loadforecast.data import _read_and_diagnose, _read_strict

    path = write_region_csv(tmp_path, "XX", load_series("2018-01-01", 100))
    fast, careful = _read_strict(path, "XX"), _read_and_diagnose(path, "XX")
    assert fast is not None
    pd.testing.assert_frame_equal(fast, careful, check_dtype=False)
