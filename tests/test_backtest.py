"""`loadforecast.backtest` on a generated series of two months: the refits fall where the plan
says, and no model or forecast reads an hour after its refit or origin (loads doctored from
the second refit on change no figure of the month before it)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import yaml

from loadforecast import backtest as backtests
from loadforecast import cli
from loadforecast.backtest import Plan, backtest, month_table, refit_days
from loadforecast.calendar import add_time_features
from loadforecast.data import read_regions
from loadforecast.forecaster import Recipe
from loadforecast.settings import load_params
from tests import REPO
from tests.synthetic import (
    POLICY,
    SMALL_TRAINING,
    calendar,
    load_series,
    window_params,
    write_region_csv,
)
from tests.test_covariates import readings_params, weather_driven

COVARIATES = {"temperature": "known"}
TRAIN = SMALL_TRAINING.changed(
    objective="multi_horizon",
    chunk_hours=96,
    burn_in_hours=24,
    hidden_size=8,
    horizon_hours=38,
    context_size=4,
    decoder_size=8,
    loss="l1",
    epochs=2,
)
# 2021-01-01 to 2021-03-02 23:00: the period is February and 1-2 March, refitted on 1 February
# and on 1 March.
PLAN = Plan(days=30, refit_days=28)


def replay(features: pd.DataFrame, tmp_path, plan: Plan = PLAN) -> dict:
    readings = readings_params(COVARIATES)

    def recipe_of(cell, config, windows):
        return Recipe.for_windows(cell, config, windows, POLICY, calendar(holidays=None), readings)

    return backtest(
        features,
        window_params(48, 0.1, 0.15, (24, 168), True, 168),
        COVARIATES,
        TRAIN,
        [3],
        ("persistence", "linear"),
        plan,
        recipe_of,
        torch.device("cpu"),
        256,
        tmp_path,
    )


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return add_time_features(weather_driven(days=61), calendar(holidays=None))


def test_the_refits_fall_every_refit_days_from_the_first_day(features) -> None:
    refits, end = refit_days(features["timestamp"].max(), PLAN)
    assert refits == [pd.Timestamp("2021-02-01"), pd.Timestamp("2021-03-01")]
    assert end == pd.Timestamp("2021-03-03")
    with pytest.raises(ValueError, match="refit_days"):
        Plan(days=29, refit_days=0)


def test_no_model_or_forecast_reads_an_hour_after_its_refit_or_origin(features, tmp_path):
    result = replay(features, tmp_path / "a")
    assert list(result["refits"]) == ["2021-02-01", "2021-03-01"]
    first, second = result["refits"].values()
    assert (first["forecast_until"], second["forecast_until"]) == ("2021-03-01", "2021-03-03")
    assert set(first["val_smape"]) == {"gru", "lstm"} and 0 < first["val_smape"]["gru"] < 100
    assert second["train_windows"] + second["val_windows"] == (
        first["train_windows"] + first["val_windows"] + 28 * 24  # February's hours
    )
    table = month_table(result)
    assert set(table["month"]) == {"2021-02", "2021-03"}
    assert set(table["predictor"]) == {"gru", "lstm", "persistence", "linear"}
    february = table[table["month"] == "2021-02"].set_index(["issue", "predictor"])
    assert (february.loc[("23:00", "gru"), "days"], february.loc[("10:00", "gru"), "days"]) == (
        28,
        27,  # the next day from 10:00 on 1 February is 2 February
    )
    cells = february.loc[(slice(None), ["gru", "lstm"]), "coverage_p10_p90"]
    assert cells.between(0, 100).all()

    doctored = features.copy()
    later = doctored["timestamp"] >= pd.Timestamp("2021-03-01")
    doctored.loc[later, "load_mw"] *= 3
    again = month_table(replay(doctored, tmp_path / "b")).set_index(["issue", "month", "predictor"])
    before = table.set_index(["issue", "month", "predictor"])
    pd.testing.assert_frame_equal(
        again.loc[(slice(None), "2021-02"), :], before.loc[(slice(None), "2021-02"), :]
    )
    march = (slice(None), "2021-03", "gru")
    assert (again.loc[march, "smape"] != before.loc[march, "smape"]).all()


def test_a_refit_with_no_day_of_an_issue_leaves_that_issue_to_the_others(features, tmp_path):
    # The last refit forecasts 2 March alone: from 23:00 on 1 March, but from 10:00 only the
    # day after, 3 March, which has no readings.
    result = replay(features, tmp_path, Plan(days=2, refit_days=1))
    assert list(result["refits"]) == ["2021-03-01", "2021-03-02"]
    assert result["issues"]["23:00"]["period"]["gru"]["days"] == 2
    assert result["issues"]["10:00"]["period"]["gru"]["days"] == 1


def test_the_command_replays_a_settings_files_recipe_as_the_library_does(tmp_path, capsys):
    data = tmp_path / "raw"
    write_region_csv(data, "AAA", load_series("2018-03-01", 24 * 40), seed=0)
    settings = yaml.safe_load((REPO / "params.yaml").read_text())
    settings["seeds"] = [1]
    settings["data"]["regions"] = ["AAA"]
    settings["train"].update(
        epochs=1, min_steps=10, hidden_size=8, chunk_hours=96, burn_in_hours=24,
        context_size=4, decoder_size=8, batch_size=16, device="cpu",
    )  # fmt: skip
    settings["evaluate"]["baselines"] = ["persistence", "linear"]
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    out = tmp_path / "out"

    # backtest.days and refit_days of params.yaml (90, 30) overridden: the last 8 days, by 4
    command = ["backtest", str(data), "--settings", str(path), "--output", str(out)]
    cli.main([*command, "--days", "8", "--refit-days", "4"])

    result = json.loads((out / "backtest.json").read_text())
    assert list(result["refits"]) == ["2018-04-02", "2018-04-06"]
    assert result["period"] == {"first_day": "2018-04-02", "end": "2018-04-10"}
    assert sorted(p.name for p in (out / "months").iterdir()) == [
        "smape_1000.csv",
        "smape_2300.csv",
        "smape_by_month.png",
    ]
    assert sorted(p.name for p in (out / "refits" / "2018-04-06").iterdir()) == [
        "gru.pt",
        "lstm.pt",
    ]
    assert "2018-04-02 to 2018-04-10 (exclusive), sMAPE % per month" in capsys.readouterr().out
    assert not list(tmp_path.glob(".out.tmp-*"))

    params = load_params(path)
    table, _ = read_regions(data, ["AAA"], params.ingest, params.data.readings)
    features = add_time_features(table, params.features)
    direct = backtests.replay(features, params, Plan(8, 4), tmp_path / "direct")
    assert json.loads(json.dumps(direct["issues"])) == result["issues"]


@pytest.mark.parametrize("days", ["0", "-3", "2.5"])
def test_the_command_refuses_days_that_are_not_whole_and_positive(days, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["backtest", str(tmp_path), "--days", days])
    assert stopped.value.code == 2
    assert f"argument --days: {days}" in capsys.readouterr().err.replace("'", "")
