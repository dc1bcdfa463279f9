"""`dvc repro`, a no-op second repro and `dvc exp run`, in a copy of the repository on a small
generated dataset, with MLflow checked at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.synthetic import load_series, write_region_csv

REPO = Path(__file__).resolve().parents[1]
REGIONS = ("AAA", "BBB", "CCC")
TINY = {
    "window": {"lookback": 24, "test_fraction": 0.1, "val_fraction": 0.1},
    "train": {
        "hidden_size": 8,
        "num_layers": 2,
        "dropout": 0.2,
        "lr": 0.003,
        "batch_size": 64,
        "epochs": 2,
        "max_windows_per_epoch": 0,
        "device": "cpu",
    },
    "evaluate": {"batch_size": 256, "plot_hours": 48},
}
pytestmark = pytest.mark.e2e


def run(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # stages' `python`
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def dvc(cwd: Path, *args: str) -> str:
    return run(cwd, sys.executable, "-m", "dvc", *args)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git+DVC copy of the project whose params point at a small generated dataset."""
    root = tmp_path_factory.mktemp("e2e")
    source = root / "downloads"
    for i, region in enumerate(REGIONS):
        write_region_csv(source, region, load_series("2018-01-01", 24 * 30 + 7 * i, seed=i), seed=i)
    project = root / "project"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (REPO / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, project / name)
    (project / "dvc.lock").unlink(missing_ok=True)  # the real data's results, not these
    shutil.rmtree(project / "metrics", ignore_errors=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] |= {"source_dir": str(source), "regions": list(REGIONS)}
    params |= TINY
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    run(project, "git", "init", "-q")
    run(project, "git", "add", "-A")
    run(project, *git, "commit", "-q", "-m", "tiny project")
    return project


def test_repro_builds_every_output(repo):
    log = dvc(repo, "repro")
    for stage in ("acquire", "ingest", "features", "window", "train@gru", "train@lstm", "evaluate"):
        assert f"Running stage '{stage}'" in log
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
    assert sorted(p.name for p in (repo / "data/plots").iterdir()) == [f"{r}.png" for r in REGIONS]
    assert len(list((repo / "metrics/plots").glob("*.csv"))) == len(REGIONS)

    metrics = {p.stem: json.loads(p.read_text()) for p in (repo / "metrics").glob("*.json")}
    assert set(metrics) == {
        "data_quality",
        "windows",
        "train_gru",
        "train_lstm",
        "history_gru",
        "history_lstm",
        "evaluate",
        "evaluate_regions",
    }
    assert set(metrics["data_quality"]) == set(REGIONS)
    assert metrics["windows"]["total"]["val"] > 0
    assert [r["epoch"] for r in metrics["history_gru"]] == [1, 2]
    assert "val_loss" in metrics["history_lstm"][-1]
    evaluation = metrics["evaluate"]
    for predictor in ("gru", "lstm", "persistence", "same_hour_yesterday"):
        assert 0 < evaluation[predictor]["smape"] < 200
        assert evaluation[predictor]["smape_study_formula"] == pytest.approx(
            evaluation[predictor]["smape"] / 4
        )
    assert evaluation["test_windows"] == metrics["windows"]["total"]["test"]
    assert set(metrics["evaluate_regions"]) == set(REGIONS)


def test_second_repro_runs_nothing(repo):
    log = dvc(repo, "repro")
    assert "Running stage" not in log
    assert "Data and pipelines are up to date" in log


def test_experiment_reruns_only_affected_stages(repo):
    log = dvc(repo, "exp", "run", "-n", "lr-up", "-S", "train.lr=0.01")
    assert "Running stage 'train@gru'" in log and "Running stage 'evaluate'" in log
    assert "Running stage 'ingest'" not in log and "Running stage 'window'" not in log
    dvc(repo, "exp", "run", "--temp", "-n", "one-epoch", "-S", "train.epochs=1")
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    experiments = {
        exp["name"]: exp["revs"][0]["data"]
        for baseline in shown
        for exp in (baseline.get("experiments") or [])
    }
    assert {"lr-up", "one-epoch"} <= set(experiments)
    params = experiments["lr-up"]["params"]["params.yaml"]["data"]
    assert params["train"]["lr"] == 0.01
    assert "gru" in experiments["one-epoch"]["metrics"]["metrics/evaluate.json"]["data"]


def test_mlflow_holds_every_training_run_with_its_tags(repo):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pjm-load-forecasting")
    runs = client.search_runs([experiment.experiment_id])
    ingest_runs = [r for r in runs if r.data.tags["dvc.stage"] == "ingest"]
    assert len(ingest_runs) == 1  # the experiments did not rerun ingest
    assert ingest_runs[0].data.metrics["AAA.rows_raw"] == 24 * 30
    runs = [r for r in runs if r not in ingest_runs]
    assert len(runs) == 6  # gru and lstm for the repro, the workspace exp and the --temp exp
    head = run(repo, "git", "rev-parse", "HEAD").strip()
    for r in runs:
        assert r.data.tags["dvc.stage"] in {"train@gru", "train@lstm"}
        assert r.data.tags["mlflow.source.git.commit"] == head
        assert "test_smape" in r.data.metrics and "train_loss" in r.data.metrics
        assert len(client.get_metric_history(r.info.run_id, "train_loss")) == int(
            r.data.params["train.epochs"]
        )
        assert r.info.artifact_uri.startswith((repo / "mlartifacts").as_uri())
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"model", "plots"} <= artifacts
    assert not (repo / "mlruns").exists()
    names = {r.data.tags.get("dvc.exp_name") for r in runs}
    assert {"lr-up", "one-epoch"} <= names
    assert not (repo / ".dvc/tmp/exps").exists() or not any(
        (repo / ".dvc/tmp/exps").glob("*/mlflow.db")
    )
