"""`dvc repro`, a no-op second repro and `dvc exp run`, in a copy of the repository on a small
generated dataset, with MLflow, the registry, the `loadforecast` command and the model server
checked on what they built. Each test passes alone: the fixtures build what it needs."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.linear_model import LinearRegression

from benchmarks.servers import mlflow_server
from loadforecast.forecaster import Forecaster
from loadforecast.metrics import smape
from loadforecast.tracking import pyfunc
from tests.synthetic import load_series
from tests.tiny_project import (
    REGIONS,
    REPO,
    SEEDS,
    dvc,
    make_project,
    run,
    tracking_store,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """A git+DVC copy of the project whose params point at a small generated dataset, after
    `dvc repro`, and what the repro printed."""
    repo = make_project(tmp_path_factory.mktemp("e2e"))
    return repo, dvc(repo, "repro")


@pytest.fixture(scope="module")
def repo(built) -> Path:
    return built[0]


def users_table(path: Path) -> None:
    """Two feeders of a utility in London, one long CSV in UTC with its own column names, a
    temperature forecast (a known covariate) and a comment (ignored)."""
    local = pd.date_range("2018-03-01", periods=24 * 40, freq="h", tz="Europe/London")
    frames = [
        pd.DataFrame(
            {
                "utc_time": local.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
                "area": area,
                "demand_mw": load_series("2018-03-01", len(local), seed=i).to_numpy() / 10,
                "temp_forecast_c": 10 + 5 * np.sin(np.arange(len(local)) / 40),
                "comment": "declared ignored: never read",
            }
        )
        for i, area in enumerate(("EW", "SC"))
    ]
    pd.concat(frames).sample(frac=1.0, random_state=0).to_csv(path, index=False)


OWN_DATA = [
    "-S", "data.format=table", "-S", "data.columns.series=area",
    "-S", "data.columns.timestamp=utc_time", "-S", "data.columns.load=demand_mw",
    "-S", "data.timezone=Europe/London", "-S", "data.regions=[EW]", "-S", "features.holidays=GB",
    "-S", "project.name=feeders", "-S", "seeds=[1]",
    "-S", "+data.covariates.temp_forecast_c=known", "-S", "+data.covariates.comment=ignored",
    "-S", "+features.degree_hours.temp_forecast_c=12",
]  # fmt: skip


def experiment_args(name: str, repo: Path) -> list[str]:
    """The settings of each experiment: a changed learning rate, one epoch with two training
    processes, the study preset, and a user's own long table in another time zone."""
    if name == "lr-up":
        return ["-S", "train.lr=0.01"]
    if name == "one-epoch":
        return ["-S", "train.epochs=1", "-S", "train.processes=2"]
    if name == "study":
        study = (REPO / "presets/study.txt").read_text().split()
        return [*study, "-S", "train.hidden_size=8", "-S", "train.batch_size=64", "-S", "seeds=[1]"]
    users_table(repo.parent / "mine.csv")
    backtest = [
        "-S",
        "backtest.enabled=true",
        "-S",
        "backtest.days=8",
        "-S",
        "backtest.refit_days=4",
    ]
    return [*OWN_DATA, "-S", f"data.path={repo.parent / 'mine.csv'}", *backtest]


@pytest.fixture(scope="module")
def experiment(repo) -> Callable[[str], str]:
    """Runs a named experiment (`experiment_args`) on the built project (--temp) the first time
    a test asks for it, and returns what it printed; `experiment.ran` lists those run, in order,
    so that each test pays only for the experiments it needs."""
    logs: dict[str, str] = {}

    def run_once(name: str) -> str:
        if name not in logs:
            logs[name] = dvc(repo, "exp", "run", "--temp", "-n", name, *experiment_args(name, repo))
        return logs[name]

    run_once.ran = logs
    return run_once


def shown_experiments(repo: Path) -> dict[str, dict]:
    """`dvc exp show`'s data of each experiment, by name."""
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    return {
        exp["name"]: exp["revs"][0]["data"]
        for baseline in shown
        for exp in (baseline.get("experiments") or [])
    }


def test_repro_builds_every_output(built):
    repo, log = built
    for stage in ("acquire", "ingest", "features", "window", "train@gru", "train@lstm", "evaluate"):
        assert f"Running stage '{stage}'" in log
    assert json.loads((repo / "metrics/backtest.json").read_text()) == {"enabled": False}
    for out in (
        "data/ingested.parquet",
        "data/features.parquet",
        "data/windows/series.npy",
        "data/models/gru.pt",
        "data/models/lstm.pt",
        "data/predictions.parquet",
    ):
        assert (repo / out).stat().st_size > 0, out
    assert sorted(p.name for p in (repo / "data/raw").iterdir()) == [
        f"{r}_hourly.csv" for r in REGIONS
    ]
    plots = sorted(p.name for p in (repo / "data/plots").iterdir())
    fans = [*(f"fan_{r}.png" for r in REGIONS)]  # the 10:00 quantiles of the last test days
    assert plots == sorted([*(f"{r}.png" for r in REGIONS), "dayahead.png", "nextday.png", *fans])
    assert len(list((repo / "data/plot_data").glob("*.csv"))) == len(REGIONS)
    fan = pd.read_csv(repo / f"data/fan_data/{REGIONS[0]}.csv")
    assert {"label_time", "actual", "gru_p10", "gru_p50", "gru_p90", "lstm_p90"} <= set(fan)
    assert (fan["gru_p10"] <= fan["gru_p90"]).all()
    # What the pipeline leaves for git holds figures only: loads stay in DVC's cache.
    for_git = run(repo, "git", "status", "--porcelain", "--untracked-files=all").split("\n")
    paths = {line[3:] for line in for_git if line.strip()} - {"dvc.lock"}
    assert paths and all(p.startswith("metrics/") and p.endswith(".json") for p in paths), paths

    metrics = {p.stem: json.loads(p.read_text()) for p in (repo / "metrics").glob("*.json")}
    assert set(metrics) == {
        "data_quality",
        "windows",
        "train_gru",
        "train_lstm",
        "evaluate",
        "evaluate_detail",
        "evaluate_regions",
        "dayahead",
        "backtest",
    }
    assert set(metrics["data_quality"]) == set(REGIONS)
    assert metrics["windows"]["total"]["val"] > 0
    for cell in ("gru", "lstm"):
        summary = metrics[f"train_{cell}"]
        assert sorted(summary) == [
            "best_val_loss_mean",
            "train_seconds",
            "val_smape",
            "val_smape_best_naive",  # what the network must beat (docs/your-data.md)
            "val_smape_ensemble",
            "val_smape_std",
        ]
        seeds = json.loads((repo / f"metrics/seeds/train_{cell}.json").read_text())
        assert sorted(seeds) == [f"seed{s}" for s in SEEDS]
        assert summary["best_val_loss_mean"] == pytest.approx(
            np.mean([seeds[f"seed{s}"]["best_val_loss"] for s in SEEDS])
        )
        assert summary["val_smape"] == pytest.approx(
            np.mean([seeds[f"seed{s}"]["val_smape"] for s in SEEDS])
        )
        for seed in SEEDS:
            history = json.loads((repo / f"metrics/history/{cell}/seed{seed}.json").read_text())
            assert [r["epoch"] for r in history] == [1, 2] and "val_loss" in history[-1]
    evaluation = metrics["evaluate_detail"]
    headline = metrics["evaluate"]
    assert headline["test_smape"]["gru"] == evaluation["models"]["gru"]["smape"]
    assert headline["test_smape"]["lstm_ensemble"] == evaluation["ensembles"]["lstm"]["smape"]
    assert headline["test_smape"]["linear"] == evaluation["baselines"]["linear"]["smape"]
    assert set(evaluation["baselines"]) == {
        "persistence",
        "same_hour_yesterday",
        "same_hour_last_week",
        "linear",
        "gradient_boosting",
    }
    assert set(evaluation["seeds"]) == {f"{c}_seed{s}" for c in ("gru", "lstm") for s in SEEDS}
    predictions = pd.read_parquet(repo / "data/predictions.parquet")
    for group in ("ensembles", "baselines", "seeds"):  # each recomputed from the forecasts
        for name, scores in evaluation[group].items():
            by_region = [smape(p[name], p["actual"]) for _, p in predictions.groupby("region")]
            assert scores["smape"] == pytest.approx(np.mean(by_region), rel=1e-12), name
            assert scores["smape_study_formula"] == pytest.approx(scores["smape"] / 4)
    gru_seeds = [evaluation["seeds"][f"gru_seed{s}"]["smape"] for s in SEEDS]
    assert evaluation["models"]["gru"]["smape"] == pytest.approx(np.mean(gru_seeds))
    assert evaluation["models"]["gru"]["smape_std"] == pytest.approx(np.std(gru_seeds, ddof=1))
    assert headline["test_windows"] == metrics["windows"]["total"]["test"]
    assert set(metrics["evaluate_regions"]) == set(REGIONS)
    assert len(predictions) == headline["test_windows"]
    assert predictions["gru"].to_numpy() == pytest.approx(
        predictions[[f"gru_seed{s}" for s in SEEDS]].mean(axis=1).to_numpy()
    )


def test_second_repro_runs_nothing(repo):
    log = dvc(repo, "repro")
    assert "Running stage" not in log
    assert "Data and pipelines are up to date" in log


def test_experiment_reruns_only_affected_stages(repo, experiment):
    log = experiment("lr-up")
    assert "Running stage 'train@gru'" in log and "Running stage 'evaluate'" in log
    assert "Running stage 'ingest'" not in log and "Running stage 'window'" not in log
    # The study preset changes the features and windows: they rerun.
    log = experiment("study")
    assert "Running stage 'features'" in log and "Running stage 'window'" in log
    experiments = shown_experiments(repo)
    assert {"lr-up", "study"} <= set(experiments)
    params = experiments["lr-up"]["params"]["params.yaml"]["data"]
    assert params["train"]["lr"] == 0.01
    lr_up = experiments["lr-up"]["metrics"]
    # Only the figures an experiment is judged by are DVC metrics: the table stays narrow.
    assert set(lr_up) == {
        "metrics/evaluate.json",
        "metrics/train_gru.json",
        "metrics/train_lstm.json",
        "metrics/backtest.json",  # {"enabled": false} unless switched on
    }
    assert "gru" in lr_up["metrics/evaluate.json"]["data"]["test_smape"]
    study = experiments["study"]["params"]["params.yaml"]["data"]
    assert (study["window"]["lags"], study["train"]["target"]) == ([], "level")
    study_eval = experiments["study"]["metrics"]["metrics/evaluate.json"]["data"]
    assert "same_hour_last_week" not in study_eval["test_smape"]  # beyond the study's 90 hours


def test_a_users_long_table_in_another_zone_goes_through_with_no_code_change(repo, experiment):
    log = experiment("own-data")
    for stage in ("acquire", "ingest", "features", "window", "train@gru", "evaluate"):
        assert f"Running stage '{stage}'" in log
    own = shown_experiments(repo)["own-data"]
    data = own["params"]["params.yaml"]["data"]["data"]
    assert data["timezone"] == "Europe/London"
    assert data["covariates"] == {"temp_forecast_c": "known", "comment": "ignored"}
    features = own["params"]["params.yaml"]["data"]["features"]
    assert features["degree_hours"] == {"temp_forecast_c": 12}
    figures = own["metrics"]["metrics/evaluate.json"]["data"]["test_smape"]
    assert {"gru", "lstm", "same_hour_last_week"} <= set(figures)
    assert all(np.isfinite(v) for v in figures.values())
    # its backtest, switched on: the last 8 days, refitted after 4
    backtest = own["metrics"]["metrics/backtest.json"]["data"]
    assert list(backtest["refits"]) == ["2018-04-02", "2018-04-06"]
    assert backtest["issues"]["23:00"]["period"]["gru"]["days"] == 8
    assert np.isfinite(backtest["issues"]["10:00"]["period"]["lstm"]["coverage_p10_p90"])


@pytest.fixture
def store(repo):
    """The project's MLflow store, as the process's tracking and registry store."""
    with tracking_store(f"sqlite:///{repo / 'mlflow.db'}") as client:
        yield client


def test_mlflow_holds_every_predictor_as_a_run_with_its_tags(repo, experiment, store):
    for name in ("lr-up", "one-epoch", "study"):
        experiment(name)
    client = store
    ran = [name for name in experiment.ran if name != "own-data"]  # own-data: another project
    project = client.get_experiment_by_name("pjm-load-forecasting")
    assert project.tags["mlflow.experimentKind"] == "custom_model_development"  # runs table
    runs = client.search_runs([project.experiment_id])
    stages = {r.info.run_id: r.data.tags["dvc.stage"] for r in runs}
    ingest_runs = [r for r in runs if stages[r.info.run_id] == "ingest"]
    assert len(ingest_runs) == 1  # the experiments did not rerun ingest
    assert ingest_runs[0].data.metrics["AAA.rows_raw"] == 24 * 30
    cell_runs = [r for r in runs if r.data.params.get("seeds")]
    seed_runs = [r for r in runs if "seed" in r.data.params]
    baseline_runs = [r for r in runs if r.data.params.get("kind") == "baseline"]
    # Per cell: the repro and each experiment of this project (own-data is another's); the
    # study preset trains one seed, the others two; each cell run holds its seeds' runs.
    assert len(cell_runs) == 2 * (1 + len(ran))
    assert len(seed_runs) == 2 * sum(1 if name == "study" else len(SEEDS) for name in ["", *ran])
    parents = {r.info.run_id for r in cell_runs}
    assert all(r.data.tags["mlflow.parentRunId"] in parents for r in seed_runs)
    # Every baseline, each evaluate: a run with the models' metric names, nothing copied.
    # the study's 90 hours have no same hour last week
    assert len(baseline_runs) == sum(4 if name == "study" else 5 for name in ["", *ran])
    shared = {"test_smape", "test_mae", *(f"test_smape/{r}" for r in REGIONS)}
    head = run(repo, "git", "rev-parse", "HEAD").strip()
    digest = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["window"]["outs"][0]["md5"]
    for r in cell_runs + seed_runs + baseline_runs:
        assert shared <= set(r.data.metrics), r.info.run_name
        assert not any(m.startswith("baseline_") for m in r.data.metrics)
        assert r.data.tags["mlflow.source.git.commit"] == head
        assert r.info.artifact_uri.startswith((repo / "mlartifacts").as_uri())
        (dataset,) = [i.dataset for i in r.inputs.dataset_inputs]
        assert dataset.name == "windows"
        if r.data.tags.get("dvc.exp_name") is None:  # the workspace's own repro
            assert dataset.digest == digest.removesuffix(".dir")
    for r in cell_runs + seed_runs:
        assert stages[r.info.run_id] in {"train@gru", "train@lstm"}
        assert "train_seconds" in r.data.metrics
        assert ("val_smape" in r.data.metrics) == (r.data.params["val_windows"] != "0")
        info = mlflow.models.get_model_info(f"runs:/{r.info.run_id}/model")
        assert info.signature is not None and info.flavors.keys() >= {"python_function"}
    for r in seed_runs:
        assert "loss/train" in r.data.metrics
        assert ("loss/val" in r.data.metrics) == (r.data.params["val_windows"] != "0")
        assert len(client.get_metric_history(r.info.run_id, "loss/train")) == int(
            r.data.params["train.epochs"]
        )
    for r in cell_runs:
        assert "plots" in {a.path for a in client.list_artifacts(r.info.run_id)}
    assert not (repo / "mlruns").exists()
    names = {r.data.tags.get("dvc.exp_name") for r in runs}
    assert {"lr-up", "one-epoch", "study"} <= names
    processes = {
        r.data.params["processes"]
        for r in cell_runs + seed_runs
        if r.data.tags.get("dvc.exp_name") == "one-epoch"
    }
    assert processes == {"2"}
    seeds = {(stages[r.info.run_id], r.data.params["seed"]) for r in seed_runs}
    assert seeds == {(f"train@{c}", str(s)) for c in ("gru", "lstm") for s in SEEDS}
    assert not (repo / ".dvc/tmp/exps").exists() or not any(
        (repo / ".dvc/tmp/exps").glob("*/mlflow.db")
    )


def test_each_evaluate_registers_a_challenger_per_cell(repo, experiment, store):
    experiment("study")
    ran = [name for name in experiment.ran if name != "own-data"]
    client = store
    for cell in ("gru", "lstm"):
        name = f"pjm-load-{cell}"
        versions = client.search_model_versions(f"name = '{name}'")
        assert len(versions) == 1 + len(ran)  # the repro and each experiment of this project
        challenger = client.get_model_version_by_alias(name, "challenger")
        assert int(challenger.version) == max(int(v.version) for v in versions)
        assert challenger.tags["dvc_experiment"] == ran[-1]  # the last one run
        (study,) = [v for v in versions if v.tags["dvc_experiment"] == "study"]
        run = client.get_run(study.run_id)
        assert run.data.params["model"] == cell and "seeds" in run.data.params
        assert "val_smape" not in run.data.metrics  # the study preset: no validation part
        assert float(study.tags["test_smape"]) == pytest.approx(
            run.data.metrics["test_smape"], 1e-3
        )
        first = client.get_model_version(name, "1")  # the workspace's repro
        assert first.tags["dvc_experiment"] == "workspace"
        assert float(first.tags["val_smape"]) == pytest.approx(
            client.get_run(first.run_id).data.metrics["val_smape"], 1e-3
        )
    model = mlflow.pyfunc.load_model("models:/pjm-load-gru@challenger")
    readings = pd.read_parquet(repo / "data/ingested.parquet").groupby("region").tail(300)
    forecast = model.predict(readings)
    assert list(forecast["region"]) == list(REGIONS)
    assert (
        forecast["timestamp"]
        == readings.groupby("region")["timestamp"].max().values + pd.Timedelta("1h")
    ).all()
    assert forecast["forecast_mw"].between(500, 1500).all()


BROWSERS = ("chromium", "chromium-headless-shell", "google-chrome")


def rendered_text(browser: str, url: str, expected: list[str]) -> str:
    """The text a person sees at `url` once its scripts ran (headless, a wide window so that
    the runs table's columns are drawn); retried while any of `expected` is missing."""
    for _ in range(3):
        done = subprocess.run(
            [
                *(browser, "--headless", "--no-sandbox", "--disable-gpu"),
                *("--window-size=3000,1600", "--virtual-time-budget=20000", "--dump-dom", url),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        page = re.sub(r"<(script|style)\b.*?</\1>", " ", done.stdout, flags=re.S)
        text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
        if all(piece in text for piece in expected):
            break
    return text


def test_the_mlflow_ui_shows_models_and_baselines_side_by_side(repo, store, tmp_path):
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    if browser is None:
        pytest.skip(f"no headless browser ({', '.join(BROWSERS)}): apt-get install chromium")
    experiment = store.get_experiment_by_name("pjm-load-forecasting").experiment_id
    challenger = store.get_model_version_by_alias("pjm-load-gru", "challenger")
    store_uri = f"sqlite:///{repo / 'mlflow.db'}"
    with mlflow_server(["ui", "--backend-store-uri", store_uri], tmp_path / "ui.log") as uri:
        runs_url = f"{uri}/#/experiments/{experiment}?workflowType=machine_learning"
        expected = ["Run Name", "Dataset", "Models", "baseline-gradient_boosting", "gru", "lstm"]
        table = rendered_text(browser, runs_url, expected)
        run_url = f"{uri}/#/experiments/{experiment}/runs/{challenger.run_id}"
        run_expected = ["test_smape", "Logged models", f"pjm-load-gru v{challenger.version}"]
        run_page = rendered_text(browser, run_url + "?workflowType=machine_learning", run_expected)
    for piece in expected:
        assert piece in table, (piece, table[:2000])
    digest = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["window"]["outs"][0]["md5"]
    assert f"windows ({digest.removesuffix('.dir')})" in table  # the Dataset column
    for piece in [*run_expected, "Child runs", "dvc.exp_name"]:
        assert piece in run_page, (piece, run_page[:2000])


def test_the_forecast_command_and_the_model_server_agree_with_evaluate(repo, store, tmp_path):
    """The last test hour of each region: evaluate's forecast, the command's (from the saved
    forecaster, run from another directory, and from the registry's champion, after
    `loadforecast promote`) and the served model's."""
    predictions = pd.read_parquet(repo / "data/predictions.parquet")
    last = predictions.groupby("region").tail(1).set_index("region")
    table = pd.read_parquet(repo / "data/ingested.parquet")
    files = []
    for region, row in last.iterrows():
        before = table[(table["region"] == region) & (table["timestamp"] < row["label_time"])]
        path = tmp_path / f"{region}_hourly.csv"
        before.rename(columns={"timestamp": "Datetime", "load_mw": f"{region}_MW"})[
            ["Datetime", f"{region}_MW"]
        ].sample(frac=1.0, random_state=0).to_csv(path, index=False)
        files.append(str(path))
    # The workspace's models: promote the version registered from them to champion.
    run_id = Forecaster.load(repo / "data/models/gru.pt").runs["cell"]
    (version,) = store.search_model_versions(f"name = 'pjm-load-gru' and tags.run_id = '{run_id}'")
    promoted = run(repo, "loadforecast", "promote", "pjm-load-gru", str(version.version))
    assert f"candidate: pjm-load-gru version {version.version}, val_smape " in promoted
    assert store.get_model_version_by_alias("pjm-load-gru", "champion").version == version.version
    output = tmp_path / "forecast.csv"
    commands = [
        (tmp_path, ["loadforecast", "forecast", str(repo / "data/models/gru.pt")]),  # elsewhere
        (repo, ["loadforecast", "forecast", "models:/pjm-load-gru@champion"]),
        (repo, [sys.executable, "-m", "loadforecast.cli", "forecast", "data/models/gru.pt"]),
    ]
    for cwd, command in commands:
        run(cwd, *command, *files, "--output", str(output))
        got = pd.read_csv(output, parse_dates=["timestamp"]).set_index("region")
        assert list(got["timestamp"]) == list(last["label_time"])
        assert got["forecast_mw"].to_numpy() == pytest.approx(last["gru"].to_numpy(), rel=1e-5)
    # Issued at 10:00 for the next calendar day, with the interval a market bid needs.
    morning = []
    for region in last.index:
        mine = table[table["region"] == region]
        ten = mine.loc[mine["timestamp"].dt.hour == 10, "timestamp"].iloc[-3]
        path = tmp_path / f"morning_{region}.csv"
        mine[mine["timestamp"] < ten].rename(
            columns={"timestamp": "Datetime", "load_mw": f"{region}_MW"}
        )[["Datetime", f"{region}_MW"]].to_csv(path, index=False)
        morning.append(str(path))
    run(repo, "loadforecast", "forecast", "data/models/gru.pt", *morning, "--next-day",
        "--quantiles", "0.1", "0.9", "--output", str(output))  # fmt: skip
    day = pd.read_csv(output, parse_dates=["timestamp"])
    assert list(day.columns) == [
        *("region", "timestamp", "utc_offset", "horizon", "forecast_mw", "p10", "p90"),
        *("model", "quality"),
    ]
    assert set(day["region"]) == set(last.index)
    for _, rows in day.groupby("region"):
        assert rows["horizon"].tolist() == list(range(15, 39))  # from readings up to 09:00
        assert (rows["timestamp"].dt.hour.tolist(), rows["timestamp"].dt.date.nunique()) == (
            list(range(24)),
            1,
        )
        assert (rows["p10"] <= rows["forecast_mw"]).all()
        assert (rows["forecast_mw"] <= rows["p90"]).all()
    readings = pd.concat(
        table[(table["region"] == r) & (table["timestamp"] < row["label_time"])].tail(300)
        for r, row in last.iterrows()
    )
    payload = {
        "dataframe_split": json.loads(
            readings.assign(timestamp=readings["timestamp"].astype(str)).to_json(
                orient="split", index=False
            )
        ),
        "params": {"hours": 24, "quantiles": [0.1, 0.9]},
    }
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}"}
    serve = ["models", "serve", "-m", "models:/pjm-load-gru@champion", "--env-manager", "local"]
    with mlflow_server(serve, tmp_path / "serve.log", env=env) as uri:
        request = urllib.request.Request(
            f"{uri}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = pd.DataFrame(json.loads(response.read())["predictions"])
        payload["dataframe_split"]["data"][0][0] = "ZZZ"  # a region it was not trained on
        request = urllib.request.Request(
            f"{uri}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 400
        assert "'ZZZ': the model was trained on" in json.loads(refused.value.read())["message"]
        stuck = readings.assign(timestamp=readings["timestamp"].astype(str))
        stuck.loc[stuck.groupby("region").tail(30).index, "load_mw"] = 1234.0  # stuck meters
        payload["dataframe_split"] = json.loads(stuck.to_json(orient="split", index=False))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post(uri, payload), timeout=60)
        assert refused.value.code == 400
        assert "load_mw is 1234 MW at every hour" in json.loads(refused.value.read())["message"]
        payload["params"]["fallback"] = "flat_line"
        with urllib.request.urlopen(post(uri, payload), timeout=60) as response:
            fallback = pd.DataFrame(json.loads(response.read())["predictions"])
        assert set(fallback["quality"]) == {"fallback: flat_line"}
        assert (fallback["p10"] < fallback["forecast_mw"]).all()
        assert (fallback["forecast_mw"] < fallback["p90"]).all()
        too_many = stuck.iloc[np.resize(np.arange(len(stuck)), pyfunc.MAX_ROWS + 1)]
        payload["dataframe_split"] = json.loads(too_many.to_json(orient="split", index=False))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post(uri, payload), timeout=60)
        assert refused.value.code == 400
        message = json.loads(refused.value.read())["message"]
        assert f"{pyfunc.MAX_ROWS + 1:,} rows of readings: a request carries" in message
    assert len(served) == 24 * len(last)
    assert (served["p10"] <= served["forecast_mw"]).all() and "p50" not in served
    assert (served["forecast_mw"] <= served["p90"]).all()
    first = served[served["horizon"] == 1].set_index("region")
    assert first.loc[last.index, "forecast_mw"].to_numpy() == pytest.approx(
        last["gru"].to_numpy(), rel=1e-5
    )


def post(uri: str, payload: dict) -> urllib.request.Request:
    """A JSON request to the model server's invocations."""
    return urllib.request.Request(
        f"{uri}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )


def test_the_forecast_command_refuses_bad_input_with_one_line(
    repo, store, tmp_path, monkeypatch, capsys
):
    """Each bad input of docs/your-data.md's list: one line naming it, exit 1, no output file."""
    from loadforecast.cli import main

    region = REGIONS[0]
    recent = pd.read_parquet(repo / "data/ingested.parquet").query("region == @region").tail(400)
    raw = recent.rename(columns={"timestamp": "Datetime", "load_mw": f"{region}_MW"})
    raw = raw[["Datetime", f"{region}_MW"]]

    def readings(name: str, frame: pd.DataFrame) -> str:
        frame.to_csv(tmp_path / name, index=False)
        return str(tmp_path / name)

    good = readings("good.csv", raw)
    short = readings("short.csv", raw.tail(100))
    gap = readings("gap.csv", raw.drop(raw.index[-20:-10]))  # 10 hours: more than it may fill
    other = readings("other.csv", raw.rename(columns={f"{region}_MW": "ZZZ_MW"}))
    (tmp_path / "notes.pt").write_text("not a model")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with mlflow.start_run() as run:
        mlflow.log_dict({"a": 1}, "model/notes.json")  # not a model at all
    with mlflow.start_run() as sklearn_run:  # a model, but not a load forecaster
        fitted = LinearRegression().fit(np.eye(2), [0.0, 1.0])
        mlflow.sklearn.log_model(fitted, name="model", pip_requirements=[])
    cases = {
        "too little history": (["data/models/gru.pt", short], r"hours"),
        "a gap in the last hours": (["data/models/gru.pt", gap], r"gap"),
        "an unknown region": (["data/models/gru.pt", other], r"'ZZZ'"),
        "not the raw format": (["data/models/gru.pt", str(repo / "params.yaml")], r"params.yaml"),
        "a text file as model": ([str(tmp_path / "notes.pt"), good], r"not a saved forecaster"),
        "another checkpoint": ([str(tmp_path / "other.pt"), good], r"not a saved forecaster"),
        "no checkpoint": (["data/models/cnn.pt", good], r"no such file"),
        "a run without a model": ([f"runs:/{run.info.run_id}/model", good], r"runs:/"),
        "another kind of model": (
            [f"runs:/{sklearn_run.info.run_id}/model", good],
            r"not a load forecaster",
        ),
        "hours 0": (["data/models/gru.pt", good, "--hours", "0"], r"between 1 and 38"),
        "hours beyond the horizons": (
            ["data/models/gru.pt", good, "--hours", "39"],
            r"this model forecasts between 1 and 38 hours ahead",
        ),
        "an untrained quantile": (
            ["data/models/gru.pt", good, "--quantiles", "0.05"],
            r"quantile\(s\) \[0.05\]: the model was not trained for them",
        ),
        "a level outside 0-1": (["data/models/gru.pt", good, "--quantiles", "1.5"], r"1.5"),
        "next day and hours": (
            ["data/models/gru.pt", good, "--next-day", "--hours", "3"],
            r"--next-day",
        ),
    }
    monkeypatch.chdir(repo)
    output = tmp_path / "forecast.csv"
    failures = []
    for case, (arguments, message) in cases.items():
        with pytest.raises(SystemExit) as exit_status:
            main(["forecast", *arguments, "--output", str(output)])
        error = capsys.readouterr().err.strip().splitlines()
        one_line = len(error) == 1 and error[0].startswith("error: ")
        if exit_status.value.code != 1 or output.exists() or not one_line:
            failures.append((case, exit_status.value.code, error))
        elif not re.search(message, error[0]):
            failures.append((case, message, error))
    assert failures == []


def test_promote_refuses_a_version_trained_on_other_windows(repo, experiment, store):
    """The study preset windows the data otherwise: its validation figures do not compare with
    the workspace's, so `loadforecast promote` refuses it over the workspace's champion, unless
    `--force`."""
    experiment("study")
    versions = store.search_model_versions("name = 'pjm-load-lstm'")
    by_experiment = {v.tags["dvc_experiment"]: str(v.version) for v in versions}
    run(repo, "loadforecast", "promote", "pjm-load-lstm", by_experiment["workspace"])
    refused = subprocess.run(
        ["loadforecast", "promote", "pjm-load-lstm", by_experiment["study"]],
        cwd=repo,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.strip().splitlines()[-1].endswith("promote it anyway with --force")
    champion = store.get_model_version_by_alias("pjm-load-lstm", "champion")
    assert str(champion.version) == by_experiment["workspace"]  # unchanged
    forced = run(
        repo, "loadforecast", "promote", "pjm-load-lstm", by_experiment["study"], "--force"
    )
    assert f"pjm-load-lstm@champion -> version {by_experiment['study']}" in forced
