"""Messy-but-valid raw files are cleaned; invalid ones are refused with one actionable line,
a non-zero exit and no traceback, and earlier outputs survive."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from loadforecast.data import read_region_csv
from loadforecast.errors import LoadForecastError
from stages.acquire import acquire
from tests import REPO
from tests.synthetic import load_series, pjm_data, raw_frame, write_region_csv


def csv_text(region: str = "XX", hours: int = 5) -> str:
    return raw_frame(region, load_series("2018-01-01", hours)).to_csv(index=False)


def test_gzip_files_are_read(tmp_path):
    path = tmp_path / "XX_hourly.csv.gz"
    path.write_bytes(gzip.compress(csv_text().encode()))
    assert len(read_region_csv(path, "XX")) == 5


def test_truncated_gzip_is_refused(tmp_path):
    path = tmp_path / "XX_hourly.csv.gz"
    path.write_bytes(gzip.compress(csv_text(hours=2000).encode())[:500])
    with pytest.raises(LoadForecastError, match="unreadable gzip"):
        read_region_csv(path, "XX")


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "XX_hourly.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(LoadForecastError, match="not UTF-8 text"):
        read_region_csv(path, "XX")


def test_row_with_extra_fields_names_its_line(tmp_path):
    path = tmp_path / "XX_hourly.csv"
    path.write_text("Datetime,XX_MW\n2018-01-01 00:00:00,1.0\n2018-01-01 01:00:00,2.0,9\n")
    with pytest.raises(LoadForecastError, match="line 3"):
        read_region_csv(path, "XX")


def test_directory_without_region_files_gives_both_ways_to_get_the_data(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    params = pjm_data(source_dir=None, kaggle_dataset="owner/none", regions=["AEP"])
    with pytest.raises(LoadForecastError, match=r"data\.source_dir") as err:
        acquire(params, tmp_path / "raw", tmp_path)
    assert "kagglehub" in str(err.value) and "AEP_hourly.csv" in str(err.value)


def test_regions_naming_an_absent_file_are_named(tmp_path):
    write_region_csv(tmp_path / "src", "AAA", load_series("2018-01-01", 10))
    params = pjm_data(source_dir="src", kaggle_dataset="x/y", regions=["AAA", "ZZZ"])
    with pytest.raises(LoadForecastError, match="ZZZ"):
        acquire(params, tmp_path / "raw", tmp_path)
    assert not (tmp_path / "raw" / "ZZZ_hourly.csv").exists()


def run_ingest(project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PIPELINE_VERBOSE", None)
    command = [sys.executable, "-m", "stages.ingest", "raw", "out.parquet", "quality.json"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)


@pytest.fixture
def project(tmp_path) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["regions"] = ["AAA"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_region_csv(tmp_path / "raw", "AAA", load_series("2018-01-01", 48))
    return tmp_path


def test_a_hand_edited_bad_value_stops_ingest_cleanly_and_keeps_earlier_outputs(project):
    assert run_ingest(project).returncode == 0
    before = {name: (project / name).read_bytes() for name in ("out.parquet", "quality.json")}

    path = project / "raw" / "AAA_hourly.csv"
    lines = path.read_text().splitlines()
    lines[7] = lines[7].split(",")[0] + ",12O45.0"  # a letter O typed for a zero
    path.write_text("\n".join(lines) + "\n")
    done = run_ingest(project)

    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "error: raw/AAA_hourly.csv, line 8: '12O45.0' is not a number of megawatts"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert {name: (project / name).read_bytes() for name in before} == before
    assert not list(project.glob(".*.tmp-*"))  # no half-written output left behind


def test_valid_messy_file_with_every_quirk_cleans(project):
    series = load_series("2017-11-04", 72)
    frame = raw_frame("AAA", series)
    autumn = frame[frame["Datetime"] == "2017-11-05 01:00:00"].assign(AAA_MW=1234.5)
    messy = pd.concat([frame.iloc[36:], frame.iloc[:36], autumn, frame.iloc[:3]])  # blocks
    messy = messy.drop(index=[10, 50])  # two missing hours
    text = messy.to_csv(index=False, lineterminator="\r\n").replace(",", " ,")
    raw = project / "raw"
    shutil.rmtree(raw)
    raw.mkdir()
    (raw / "AAA_hourly.csv.gz").write_bytes(
        gzip.compress(b"\xef\xbb\xbf" + text.encode() + b"\r\n\r\n")
    )
    done = run_ingest(project)
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(project / "out.parquet")
    assert len(table) == 72 and table["timestamp"].is_monotonic_increasing
    quality = yaml.safe_load((project / "quality.json").read_text())["AAA"]
    assert quality["exact_duplicate_rows"] == 3
    assert quality["duplicate_timestamps_merged"] == 1
    assert quality["hours_filled"] == 2


def test_a_table_with_an_undeclared_column_stops_ingest_cleanly_and_keeps_its_outputs(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] |= {"format": "table", "path": "readings.csv", "regions": []}
    params["data"]["covariates"] = {"temp_c": "observed"}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    series = load_series("2018-01-01", 48)
    table = pd.DataFrame(
        {"series": "AAA", "timestamp": series.index, "load_mw": series, "temp_c": 5.0}
    )
    shutil.rmtree(project / "raw")
    (project / "raw" / "table").mkdir(parents=True)  # where acquire copies data.path
    table.to_csv(project / "raw" / "table" / "readings.csv", index=False)
    assert run_ingest(project).returncode == 0
    assert list(pd.read_parquet(project / "out.parquet").columns) == [
        "region", "timestamp", "load_mw", "temp_c"
    ]  # fmt: skip
    before = {name: (project / name).read_bytes() for name in ("out.parquet", "quality.json")}

    table.assign(wind=1.0).to_csv(project / "raw" / "table" / "readings.csv", index=False)
    done = run_ingest(project)

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: raw/table/readings.csv: column(s) ['wind'] are not declared: name each in "
        "data.covariates as known (known in advance for the hours ahead), observed (known up "
        "to the latest reading) or ignored"
    )
    assert {name: (project / name).read_bytes() for name in before} == before
    assert not list(project.glob(".*.tmp-*"))
