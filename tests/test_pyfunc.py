"""The logged MLflow Model: loaded by URI in a process that cannot import this repository, it
forecasts what the forecaster forecasts, and bad readings get the forecaster's message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from loadforecast.errors import LoadForecastError
from loadforecast.readings import recent_readings
from loadforecast.tracking import pyfunc, registry
from loadforecast.tracking.registry import register_challenger
from tests.synthetic import readings
from tests.tiny_project import tracking_store

# Loads a model with this repository hidden: no editable install, not the working directory.
LOAD_ELSEWHERE = """
import sys
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path = [p for p in sys.path if p not in ("", {repo!r})]
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
pd.read_parquet(sys.argv[2]).pipe(model.predict).to_parquet(sys.argv[3])
import importlib.util
assert "stages" not in sys.modules and importlib.util.find_spec("stages") is None
print(sys.modules["loadforecast"].__file__)
"""


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, untrained_gru):
    root = tmp_path_factory.mktemp("pyfunc")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    windows, _, forecasts = untrained_gru
    mlflow.set_tracking_uri(uri)
    try:
        artifacts = (root / "artifacts").as_uri()
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("test", artifacts))
        with mlflow.start_run() as run:
            example = recent_readings(windows, forecasts.recipe.spec.reach)
            info = pyfunc.log_model(forecasts, example)
    finally:
        mlflow.set_tracking_uri(None)
    return root, uri, run.info.run_id, info, forecasts


def test_a_model_loaded_by_run_uri_without_the_repository_forecasts_the_same(logged):
    root, uri, run_id, _, forecasts = logged
    recent = readings().groupby("region").tail(400)
    recent.to_parquet(root / "readings.parquet")
    repo = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [
            *(sys.executable, "-c", LOAD_ELSEWHERE.format(repo=repo), f"runs:/{run_id}/model"),
            *(str(root / "readings.parquet"), str(root / "forecast.parquet")),
        ],
        cwd=root,
        env={"MLFLOW_TRACKING_URI": uri, "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # the library bundled with the model, and nothing of the pipeline
    assert Path(done.stdout.strip()).parts[-3:] == ("code", "loadforecast", "__init__.py")
    got = pd.read_parquet(root / "forecast.parquet")
    pd.testing.assert_frame_equal(got, forecasts.forecast(recent), check_dtype=False)


def test_the_model_has_a_signature_and_an_input_example(logged):
    info = logged[3]
    inputs = [c["name"] for c in info.signature.inputs.to_dict()]
    assert inputs == ["region", "timestamp", "load_mw"]
    outputs = [c["name"] for c in info.signature.outputs.to_dict()]
    assert outputs == [
        *("region", "timestamp", "utc_offset", "horizon", "forecast_mw"),
        *("p10", "p50", "p90", "model", "quality"),
    ]
    assert info.saved_input_example_info is not None


@pytest.fixture
def store(logged):
    """The test store as this process's tracking and registry store; a client of it."""
    with tracking_store(logged[1]) as client:
        yield client


def test_bad_readings_through_the_model_get_the_forecasters_message(logged, store):
    model = mlflow.pyfunc.load_model(f"runs:/{logged[2]}/model")
    recent = readings().groupby("region").tail(400)
    with pytest.raises(MlflowException, match=r"'ZZZ': the model was trained on"):
        model.predict(recent.assign(region="ZZZ"))
    with pytest.raises(MlflowException, match=r"missing inputs.*load_mw"):
        model.predict(recent.drop(columns="load_mw"))
    with pytest.raises(MlflowException, match=r"does not exist|not found|RESOURCE_DOES_NOT"):
        mlflow.pyfunc.load_model("runs:/0123456789abcdef/model")


def test_a_request_of_too_many_readings_is_refused_before_any_forecast(logged, store):
    model = mlflow.pyfunc.load_model(f"runs:/{logged[2]}/model")
    recent = readings().groupby("region").tail(400)
    copies = -(-(pyfunc.MAX_ROWS + 1) // len(recent))
    many = pd.concat([recent] * copies, ignore_index=True)
    with pytest.raises(MlflowException, match=f"{len(many):,} rows of readings: a request"):
        model.predict(many)
    assert len(model.predict(recent)) == recent["region"].nunique()


def test_a_run_without_a_model_is_not_registered(store):
    with mlflow.start_run() as bare:
        mlflow.log_metric("test_smape", 1.0)
    message = rf"registering load-gru from run {bare.info.run_id}"
    with pytest.raises(LoadForecastError, match=message):
        register_challenger("gru", bare.info.run_id)
    assert store.search_model_versions("name = 'load-gru'") == []


def test_registering_points_challenger_at_the_new_version(logged, store):
    run_id, forecasts = logged[2], logged[4]
    first, second = (register_challenger("lstm", run_id) for _ in range(2))
    challenger = store.get_model_version_by_alias("load-lstm", "challenger")
    assert challenger.version == second.version == first.version + 1
    assert second.tags["run_id"] == run_id
    model = mlflow.pyfunc.load_model("models:/load-lstm@challenger")
    recent = readings().groupby("region").tail(400)
    expected = forecasts.forecast(recent)
    pd.testing.assert_frame_equal(model.predict(recent), expected, check_dtype=False)


def test_promote_refuses_a_worse_candidate_and_records_the_comparison(logged, store):
    """Versions of one run's model (the same windows, so the same validation origins) that
    differ in their validation sMAPE only."""
    run_id, name = logged[2], "load-promote"
    store.create_registered_model(name)
    good, worse, better = (
        store.create_model_version(
            name, f"runs:/{run_id}/model", run_id=run_id, tags={"val_smape": figure}
        )
        for figure in ("0.7000", "0.7500", "0.6900")
    )
    registry.promote(name, good.version)
    refused = (
        rf"{name} version {worse.version} has val_smape 0.7500, worse than the champion's "
        rf"\(version {good.version}\) 0.7000 on the same validation origins; promote it anyway"
    )
    with pytest.raises(LoadForecastError, match=refused):
        registry.promote(name, worse.version)
    assert store.get_model_version_by_alias(name, "champion").version == good.version
    lines = registry.promote(name, better.version)
    assert lines[-1] == f"{name}@champion -> version {better.version}"
    tags = store.get_model_version(name, better.version).tags
    assert tags["promoted_over"] == f"version {good.version}"
    assert tags["promotion"] == (
        f"val_smape 0.6900 against 0.7000 of version {good.version} on the same validation origins"
    )
    registry.promote(name, worse.version, force=True)
    assert store.get_model_version_by_alias(name, "champion").version == worse.version
    forced = store.get_model_version(name, worse.version).tags["promotion"]
    assert forced.startswith("forced: val_smape 0.7500 against 0.6900")
