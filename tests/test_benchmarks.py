"""The training benchmark: its command runs end to end on a small generated dataset, so that
whoever has a GPU can run it as documented, and its arithmetic holds on made-up timings."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks.training import command_line, epoch_timing, spread
from tests import REPO
from tests.synthetic import load_series, write_region_csv


def two_regions(tmp_path, days: int):
    """A directory of two generated regions' raw files, AAA and BBB, of `days` days."""
    data = tmp_path / "raw"
    for i, region in enumerate(("AAA", "BBB")):
        write_region_csv(data, region, load_series("2018-01-01", 24 * days, seed=i), seed=i)
    return data


@pytest.mark.slow  # a benchmark command end to end, in a process of its own
def test_training_benchmark_reports_both_loops_and_the_spread_over_seeds(benchmark, tmp_path):
    data = two_regions(tmp_path, days=50)
    output = tmp_path / "result.json"
    done = benchmark(
        *("--data-dir", str(data), "--regions", "AAA", "BBB", "--cells", "gru"),
        *("--precisions", "fp32", "--seeds", "1", "2", "--epochs", "1", "--output", str(output)),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text())

    # The same windows on both sides: a clean series, the study's split.
    assert report["train_windows"] == {"study": 1998, "ours": 1998}
    assert report["test_windows"] == {"study": 222, "ours": 222}
    study, ours = report["results"]["study_gru"], report["results"]["ours_gru_fp32"]
    assert [run["seed"] for run in ours] == [1, 2]
    for run in [study, *ours]:
        assert not run["projected"]  # full epochs: one batch for the study, two for ours
        assert run["all_epochs_seconds"] == pytest.approx(sum(run["measured_epoch_seconds"]))
        assert math.isfinite(run["final_train_loss"])
    assert study["windows_per_second"] == pytest.approx(
        1024 / study["measured_epoch_seconds"][0], rel=0.02
    )
    assert all(run["recurrent_dtype"] == "float32" for run in ours)
    summary = report["summary"]["gru"]
    seeds_smape = [run["test_smape"] for run in ours]
    assert summary["test_smape_fp32"]["mean"] == pytest.approx(sum(seeds_smape) / 2)
    assert summary["test_smape_fp32"]["std"] == pytest.approx(
        abs(seeds_smape[0] - seeds_smape[1]) / math.sqrt(2)
    )
    assert summary["test_smape_fp32"]["std"] > 0  # two seeds, two different models
    assert summary["test_smape_study"] == study["test_smape"]
    assert report["batch_making"]["study_ms"] > 0 and report["batch_making"]["ours_ms"] > 0
    assert str(tmp_path) not in report["command"] and "--data-dir <path>" in report["command"]
    assert report["device"] == "cpu" and report["torch"] == __import__("torch").__version__


def test_training_benchmark_names_a_missing_region_file(benchmark, tmp_path):
    done = benchmark("--data-dir", str(tmp_path), "--regions", "AAA")
    assert done.returncode == 1
    assert f"{tmp_path}: no AAA_hourly.csv" in done.stderr


@pytest.mark.slow  # a benchmark command end to end, in a process of its own
def test_default_training_benchmark_trains_seed_by_seed_and_averages_them(benchmark, tmp_path):
    data = two_regions(tmp_path, days=60)
    output = tmp_path / "result.json"
    done = benchmark(
        *("--data-dir", str(data), "--regions", "AAA", "BBB", "--seeds", "1", "2"),
        *("--epochs", "1", "--min-steps", "0", "--output", str(output)),
        module="benchmarks.default_training",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text())

    runs = report["runs"]
    assert [(r["cell"], r["seed"]) for r in runs] == [
        ("gru", 1),
        ("lstm", 1),
        ("gru", 2),
        ("lstm", 2),
    ]
    assert all(r["epochs"] == 1 and r["train_seconds"] > 0 for r in runs)
    assert not report["full_default"]  # two made-up regions: nothing to set beside the lock's
    assert all(r["committed_cpu_run"] is None for r in runs)
    for cell in ("gru", "lstm"):
        seeds_smape = [r["val_smape"] for r in runs if r["cell"] == cell]
        averaged = report["seeds_averaged"][cell]["val_smape"]
        assert seeds_smape[0] != seeds_smape[1] and 0 < averaged < 100


def test_a_sampled_epoch_is_projected_from_the_last_warm_epoch():
    timing = epoch_timing([3.0, 2.0], windows_run=1000, windows_per_epoch=10_000)
    assert timing["windows_per_second"] == 500
    assert timing["epoch_seconds"] == 20
    assert timing["all_epochs_seconds"] == 40 and timing["projected"]


def test_full_epochs_are_summed_as_measured():
    timing = epoch_timing([3.0, 2.0], windows_run=10_000, windows_per_epoch=10_000)
    assert timing["all_epochs_seconds"] == 5 and not timing["projected"]


def test_one_seed_has_no_spread():
    assert spread([2.0]) == {"mean": 2.0, "std": 0.0}
    assert spread([1.0, 3.0]) == {"mean": 2.0, "std": pytest.approx(math.sqrt(2))}


def test_recorded_command_leaves_out_absolute_paths(monkeypatch):
    argv = ["x", "--data-dir=/data/pjm", "--output", "/results/r.json", "--regions", "AEP"]
    monkeypatch.setattr(sys, "argv", argv)
    assert command_line() == (
        "python -m benchmarks.training --data-dir=<path> --output <path> --regions AEP"
    )


@pytest.mark.slow  # a benchmark command end to end, in a process of its own
def test_time_to_accuracy_benchmark_runs_both_objectives_on_the_same_windows(benchmark, tmp_path):
    data = two_regions(tmp_path, days=60)
    output = tmp_path / "result.json"
    done = benchmark(
        *("--data-dir", str(data), "--regions", "AAA", "BBB", "--cells", "lstm"),
        *("--epochs", "1", "--study-steps", "1", "--val-every", "4", "--output", str(output)),
        module="benchmarks.time_to_accuracy",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text())
    lstm = report["results"]["lstm"]
    assert lstm["study"]["train_labels"] == 1024  # one step of 1,024 windows
    assert lstm["ours"][0]["epochs"] == 1 and lstm["ours"][0]["train_labels"] > 0
    # A whole epoch of every hour learns more than one step of 1,024 windows, and the sample's
    # sMAPE, on the same validation windows, tells them apart.
    assert lstm["ours"][0]["val_smape_sample"] < lstm["study"]["val_smape_sample"]
    assert lstm["epoch_speedup"] > 0 and "<path>" in report["command"]


@pytest.mark.slow  # a benchmark command end to end, in a process of its own
def test_many_series_benchmark_times_each_data_stage(tmp_path):
    import subprocess

    output = tmp_path / "many.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.many_series", "--series", "1", "3", "--hours", "400",
         "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = json.loads(output.read_text())["runs"]
    assert [(r["series"], r["rows"]) for r in runs] == [(1, 400), (3, 1200)]
    for run in runs:
        assert set(run["stages"]) == {"ingest", "features", "window"}
        for figures in run["stages"].values():
            assert figures["seconds"] > 0 and figures["peak_mib"] > 0


def test_single_series_changes_the_recipe_as_dvc_exp_run_does():
    from benchmarks.single_series import with_changes
    from loadforecast.errors import LoadForecastError
    from loadforecast.settings import load_params

    params = load_params(REPO / "params.yaml")
    changed = with_changes(params, ["train.hidden_size=64", "window.lags=[24]"])
    assert (changed.train.hidden_size, changed.window.lags) == (64, [24])
    assert changed.train.lr == params.train.lr and params.train.hidden_size != 64
    with pytest.raises(LoadForecastError, match=r"expected section\.key=value"):
        with_changes(params, ["seeds=[1]"])
    with pytest.raises(ValueError, match="hidden_size"):  # validated as params.yaml is
        with_changes(params, ["train.hidden_size=-1"])


def test_single_series_reuses_a_half_pretrained_for_the_same_regions_and_hour(
    tmp_path, monkeypatch
):
    from benchmarks import single_series
    from loadforecast.settings import load_params

    def read(region, params):
        raise LookupError(f"would train on {region}")

    monkeypatch.setattr(single_series, "pjm_table", read)
    params = load_params(REPO / "params.yaml")
    targets = {
        "NI": pd.DataFrame({"timestamp": pd.date_range("2010-01-01 01:00", periods=3, freq="h")})
    }
    half = tmp_path / "half0"
    half.mkdir()
    record = {"regions": list(single_series.HALVES[0]), "before": "2010-01-01 01:00:00"}
    (half / "pretrained.json").write_text(json.dumps(record))
    made = single_series.pretrain_halves(targets, params, 42, torch.device("cpu"), tmp_path)
    assert made == {"half0": record | {"reused": str(half / "pretrained.json")}}
    (half / "pretrained.json").write_text(json.dumps(record | {"before": "2009-01-01 01:00:00"}))
    with pytest.raises(LookupError, match="would train on AEP"):
        single_series.pretrain_halves(targets, params, 42, torch.device("cpu"), tmp_path)


def test_single_series_table_chooses_each_horizons_cell_on_validation_not_test(tmp_path, capsys):
    from benchmarks.single_series import chosen_cells, print_table

    def scores(gru, lstm, linear=5.0, boosting=4.0):
        return {"gru_ensemble": gru, "lstm_ensemble": lstm, "linear": linear,
                "gradient_boosting": boosting}  # fmt: skip

    run = {
        "validation_smape": {"gru": {"val_smape": 0.9}, "lstm": {"val_smape": 0.8}},
        "validation_day_ahead": {"dayahead_smape": scores(3.0, 3.5), "nextday_smape": scores(6, 5)},
        "test_smape": scores(0.7, 0.9, linear=0.8),  # the GRU better on test, the LSTM chosen
        "dayahead_smape": scores(4.5, 3.0),
        "nextday_smape": scores(3.9, 4.1),
    }
    chosen = chosen_cells(run)
    assert [(c["cell"], c["smape"], c["baseline"]) for c in chosen.values()] == [
        ("lstm", 0.9, "linear"),
        ("gru", 4.5, "gradient_boosting"),
        ("lstm", 4.1, "gradient_boosting"),
    ]

    # the table counts each horizon's wins and sums up each cell's coverage over the regions
    other = run | {
        "dayahead_smape": scores(3.5, 3.0),  # the chosen GRU ahead of gradient boosting's 4.0
        "coverage_p10_p90": {"gru_ensemble": 70.0, "lstm_ensemble": 90.0},
    }
    run["coverage_p10_p90"] = {"gru_ensemble": 80.0, "lstm_ensemble": 85.0}
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"pjm": {"A": run, "B": other}}))
    print_table([results])
    *_, wins, coverage = capsys.readouterr().out.splitlines()
    assert wins.endswith("{'one hour': 0, '23:00': 1, '10:00': 0}")
    assert coverage.endswith("gru 75.0% (70.0-80.0); lstm 87.5% (85.0-90.0)")


def test_a_users_generated_table_is_read_back_in_its_own_zone(tmp_path):
    from benchmarks.small_data import feeder, users_table
    from loadforecast.config import ColumnsParams, ReadingsParams
    from loadforecast.data import read_regions
    from tests.synthetic import POLICY

    table = users_table(weeks=13, series=["EW"], zone="Europe/London")
    assert table["utc_time"].str.endswith("Z").all()
    table.to_csv(tmp_path / "mine.csv", index=False)
    columns = ColumnsParams(series="area", timestamp="utc_time", load="demand_mw")
    readings = ReadingsParams(
        format="table", columns=columns, timezone="Europe/London", frequency="auto", covariates={}
    )
    got, report = read_regions(tmp_path / "mine.csv", [], POLICY, readings)
    local = feeder(13 * 168, seed=0).set_index("timestamp")["load_mw"]
    local.index = local.index.astype("datetime64[ns]")
    back = got.set_index("timestamp")["load_mw"]
    assert len(back) == len(local)  # the skipped spring hour is filled, as the policy says
    filled = back.index == pd.Timestamp("2023-03-26 01:00")
    assert report["EW"]["hours_filled"] == 1 and filled.sum() == 1
    pd.testing.assert_series_equal(back[~filled], local[~filled], check_names=False)


def test_coverage_blocks_pool_every_forecast_of_each_run_of_calendar_days():
    from benchmarks.coverage_blocks import block_coverages

    days = np.repeat(np.arange("2026-01-01", "2026-01-06", dtype="datetime64[D]"), 2)
    covered = np.array([1.0, 0.5, 1.0, 0.5, 0.0, 0.0, 1.0, 0.5, 1.0, 0.5])
    blocks = block_coverages(days, covered, block_days=2)
    np.testing.assert_allclose(blocks, [75.0, 37.5, 37.5, 75.0])
    # a day without forecasts leaves each block to the days that have them
    kept = days != np.datetime64("2026-01-03")
    np.testing.assert_allclose(block_coverages(days[kept], covered[kept], 5), [75.0])
    assert block_coverages(days, covered, 6).size == 0  # shorter than one block


@pytest.mark.slow  # a benchmark command end to end, in a process of its own
@pytest.mark.parametrize(
    ("days", "status", "message"),
    [(36, 1, "no full run's outputs"), (0, 2, "--days 0: expected 1 or more")],
)
def test_coverage_blocks_without_a_run_says_so_and_writes_nothing(tmp_path, days, status, message):
    import subprocess

    output = tmp_path / "blocks.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.coverage_blocks", "--days", str(days),
         "--root", str(tmp_path), "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == status
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not output.exists()
