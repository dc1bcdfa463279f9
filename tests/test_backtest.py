"""`loadforecast.backtest` on a generated series of two months: the refits fall where the plan
says, and no model or forecast reads an hour after its refit or origin (loads doctored from
the second refit on change no figure of the month before it)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from loadforecast.backtest import Plan, backtest, month_table, refit_days
from loadforecast.calendar import add_time_features
from loadforecast.forecaster import Recipe
from tests.synthetic import POLICY, SMALL_TRAINING, calendar, window_params
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


def replay(features: pd.DataFrame, tmp_path) -> dict:
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
        PLAN,
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
