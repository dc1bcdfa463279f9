"""The data contract beyond PJM's files: long tables in CSV and Parquet, time zones, readings
more often than hourly, and every bad input refused with one line that names where."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loadforecast.config import ColumnsParams, ConfigError, ReadingsParams, validated
from loadforecast.data import read_regions
from loadforecast.errors import LoadForecastError
from tests.synthetic import POLICY, load_series, write_region_csv

COLUMNS = ColumnsParams(series="area", timestamp="utc_time", load="demand_mw")


def readings(
    zone: str = "America/New_York", frequency: str = "auto", covariates: dict | None = None
) -> ReadingsParams:
    return ReadingsParams(
        format="table",
        columns=COLUMNS,
        timezone=zone,
        frequency=frequency,
        covariates=covariates or {},
    )


def long_table(series: dict[str, pd.Series]) -> pd.DataFrame:
    """Series as one long table in the user's column names, rows shuffled."""
    frame = pd.concat(
        pd.DataFrame({"area": name, "utc_time": s.index, "demand_mw": s.to_numpy()})
        for name, s in series.items()
    )
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


SERIES = {
    "AAA": load_series("2018-03-01", 24 * 40),  # across the spring daylight-saving change
    "BBB": load_series("2018-10-20", 24 * 30, seed=1),  # across the autumn one
}


def pjm_table(tmp_path: Path) -> pd.DataFrame:
    for name, series in SERIES.items():
        write_region_csv(tmp_path / "pjm", name, series)
    return read_regions(tmp_path / "pjm", list(SERIES), POLICY)[0]


def test_a_long_csv_and_a_partitioned_parquet_dataset_give_the_pjm_files_table(tmp_path):
    expected = pjm_table(tmp_path)
    table = long_table(SERIES)
    table["utc_time"] = table["utc_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    table["note"] = "a column declared ignored, never read"
    table.to_csv(tmp_path / "long.csv", index=False)
    dataset = tmp_path / "dataset"
    for name, rows in long_table(SERIES).groupby("area"):
        (dataset / f"area={name}").mkdir(parents=True)
        rows.drop(columns="area").to_parquet(dataset / f"area={name}" / "part-0.parquet")
    for path in (tmp_path / "long.csv", dataset, tmp_path / "dataset" / "*" / "*.parquet"):
        ignored = {"note": "ignored"} if path.name == "long.csv" else {}
        got, _ = read_regions(path, list(SERIES), POLICY, readings(covariates=ignored))
        got = got.sort_values(["region", "timestamp"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles"])
def test_utc_stamps_and_local_stamps_of_the_same_readings_give_the_same_table(tmp_path, zone):
    local = pd.date_range("2018-03-01", periods=24 * 300, freq="h", tz=zone)  # both changes
    loads = load_series("2018-03-01", len(local)).to_numpy()
    utc = pd.DataFrame(
        {"area": "X", "utc_time": local.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
         "demand_mw": loads}
    )  # fmt: skip
    wall = pd.DataFrame(
        {"area": "X", "utc_time": local.tz_localize(None).strftime("%Y-%m-%d %H:%M:%S"),
         "demand_mw": loads}
    )  # fmt: skip
    offsets = utc.assign(utc_time=local.strftime("%Y-%m-%dT%H:%M:%S%z"))
    tables = []
    for i, frame in enumerate((utc, wall, offsets)):
        frame.to_csv(tmp_path / f"{i}.csv", index=False)
        tables.append(read_regions(tmp_path / f"{i}.csv", [], POLICY, readings(zone)))
    for table, report in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0][0])
        assert report == tables[0][1]
    table, report = tables[0]
    # a regular local day: the repeated autumn hour merged, the skipped spring hour filled
    assert report["X"]["duplicate_timestamps_merged"] == 1 and report["X"]["hours_filled"] == 1
    assert (table["timestamp"].diff().dropna() == pd.Timedelta(hours=1)).all()
    first = local[0].tz_localize(None)
    assert table["timestamp"].iloc[0] == first and table["load_mw"].iloc[0] == loads[0]


def quarter_hours(days: int = 10) -> pd.Series:
    index = pd.date_range("2018-01-01", periods=days * 96, freq="15min")
    rng = np.random.default_rng(0)
    return pd.Series(1000 + 50 * np.sin(np.arange(len(index)) / 20) + rng.normal(0, 5, len(index)),
                     index=index)  # fmt: skip


def test_quarter_hour_readings_become_hourly_means_and_partial_hours_follow_the_rule(tmp_path):
    series = quarter_hours()
    hours = series.groupby(series.index.floor("h")).mean()
    dropped = series.drop(
        [
            pd.Timestamp("2018-01-03 05:15"),  # 3 of 4 left: kept, the mean of the three
            pd.Timestamp("2018-01-04 07:00"),  # 2 of 4 left: kept (half)
            pd.Timestamp("2018-01-04 07:30"),
            *pd.date_range("2018-01-05 09:00", periods=3, freq="15min"),  # 1 of 4: a gap
        ]
    )
    long_table({"Q": dropped}).to_parquet(tmp_path / "q.parquet")
    for frequency in ("auto", "15min"):
        table, report = read_regions(
            tmp_path / "q.parquet", [], POLICY, readings(frequency=frequency)
        )
        got = table.set_index("timestamp")["load_mw"]
        assert len(got) == 240 and report["Q"]["rows_raw"] == 960 - 6
        assert report["Q"]["reading_minutes"] == 15
        assert report["Q"]["partial_hours_kept"] == 2
        assert report["Q"]["partial_hours_left_out"] == 1
        assert report["Q"]["missing_hours"] == 1 and report["Q"]["hours_filled"] == 1
        three = dropped[pd.Timestamp("2018-01-03 05:00") : pd.Timestamp("2018-01-03 05:45")]
        assert got[pd.Timestamp("2018-01-03 05:00")] == pytest.approx(three.mean())
        untouched = got.index != pd.Timestamp("2018-01-05 09:00")
        touched = got.index.isin(pd.to_datetime(["2018-01-03 05:00", "2018-01-04 07:00"]))
        np.testing.assert_allclose(got[untouched & ~touched], hours[untouched & ~touched])


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "t.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def table_of(stamps, loads=None) -> pd.DataFrame:
    loads = np.full(len(stamps), 1000.0) if loads is None else loads
    return pd.DataFrame({"area": "X", "utc_time": stamps, "demand_mw": loads})


HOURS = pd.date_range("2018-01-01", periods=48, freq="h").strftime("%Y-%m-%d %H:%M:%S").tolist()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            table_of(HOURS).rename(columns={"demand_mw": "load"}),
            r"t\.csv: no column 'demand_mw' \(data\.columns\.load\); its columns are "
            r"\['area', 'utc_time', 'load'\]",
        ),
        (
            table_of([*HOURS[:5], "2018-01-01T05:00:00+01:00", *HOURS[6:]]),
            r"t\.csv, line 2: '2018-01-01 00:00:00'\) with times that carry a UTC offset "
            r"\(.*t\.csv, line 7",
        ),
        (table_of([*HOURS[:3], "yesterday", *HOURS[4:]]), r"t\.csv, line 5: timestamp 'yesterday'"),
        (table_of(HOURS, [1000.0] * 9 + ["12O5"] + [1000.0] * 38), r"t\.csv, line 11: demand_mw"),
        (
            table_of([*HOURS[:10], "2018-01-01 10:07:00", *HOURS[11:]]),
            r"series X: irregular timestamps: 2018-01-01 10:07:00 is off the 60-minute grid",
        ),
        (
            table_of(pd.date_range("2018-01-01", periods=48, freq="7min")),
            r"mostly 7 minutes apart",
        ),
        (
            table_of(
                [
                    *pd.date_range("2018-01-01", periods=200, freq="15min"),
                    *pd.date_range("2018-01-03 08:00", periods=48, freq="h"),
                ]
            ),
            r"mixed spacing: readings are 15 minutes apart, but 60 minutes apart from "
            r"2018-01-03 ",
        ),
    ],
)
def test_bad_tables_are_refused_by_file_column_and_line(tmp_path, frame, message):
    with pytest.raises(LoadForecastError, match=message):
        read_regions(write(tmp_path, frame), [], POLICY, readings())


def test_a_series_not_in_the_table_and_an_empty_path_are_named(tmp_path):
    path = write(tmp_path, table_of(HOURS))
    with pytest.raises(LoadForecastError, match=r"no series EW in column 'area'.*1 series"):
        read_regions(path, ["EW"], POLICY, readings())
    with pytest.raises(LoadForecastError, match=r"no CSV or Parquet file there"):
        read_regions(tmp_path / "nothing*.csv", [], POLICY, readings())


def test_an_unknown_time_zone_is_refused_by_name():
    raw = readings().model_dump() | {"timezone": "Europe/Londn"}
    with pytest.raises(ConfigError, match=r"data\.timezone = 'Europe/Londn': not a time zone"):
        validated(ReadingsParams, raw, "params.yaml", "data.")


def test_dates_without_a_time_are_local_midnights_not_offsets():
    from loadforecast.hourly import to_local_time

    got = to_local_time(pd.Series(["2018-01-01", "2018-01-01 01:00"]), "America/New_York")
    assert list(got) == [pd.Timestamp("2018-01-01 00:00"), pd.Timestamp("2018-01-01 01:00")]


def test_a_path_through_a_parent_or_hidden_folder_is_found(tmp_path):
    (tmp_path / ".cache" / "in").mkdir(parents=True)
    write(tmp_path / ".cache" / "in", table_of(HOURS))
    (tmp_path / ".cache" / "in" / ".old").mkdir()
    write(tmp_path / ".cache" / "in" / ".old", table_of(HOURS[:5]))  # hidden below: not read
    above = tmp_path / ".cache" / "in" / ".." / "in"
    for path in (above, above / "*.csv"):
        table, _ = read_regions(path, [], POLICY, readings())
        assert len(table) == 48


def test_blank_lines_keep_the_line_numbers_and_null_timestamps_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    text = table_of(HOURS[:4]).to_csv(index=False).splitlines()
    text.insert(2, "")
    text[4] = text[4].replace("1000.0", "n/a")  # line 5 of the file
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(LoadForecastError, match=r"t\.csv, line 5: demand_mw = 'n/a'"):
        read_regions(path, [], POLICY, readings())
    frame = table_of(pd.to_datetime(HOURS))
    frame.loc[3, "utc_time"] = pd.NaT
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(LoadForecastError, match=r"t\.parquet, row 3: no timestamp"):
        read_regions(tmp_path / "t.parquet", [], POLICY, readings())


def test_a_partition_name_is_decoded(tmp_path):
    (tmp_path / "area=Feeder%20A").mkdir()
    table_of(HOURS).drop(columns="area").to_parquet(tmp_path / "area=Feeder%20A" / "p.parquet")
    table, _ = read_regions(tmp_path, [], POLICY, readings())
    assert set(table["region"]) == {"Feeder A"}
