"""`dvc repro`, a no-op second repro and `dvc exp run`, in a copy of the repository on a small
generated dataset, with MLflow checked at the end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.tiny_project import REGIONS, REPO, SEEDS, dvc, make_project, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git+DVC copy of the project whose params point at a small generated dataset."""
    return make_project(tmp_path_factory.mktemp("e2e"))


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
    assert len(list((repo / "data/plot_data").glob("*.csv"))) == len(REGIONS)
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
    }
    assert set(metrics["data_quality"]) == set(REGIONS)
    assert metrics["windows"]["total"]["val"] > 0
    for cell in ("gru", "lstm"):
        summary = metrics[f"train_{cell}"]
        assert sorted(summary) == [
            "best_val_loss_mean",
            "train_seconds",
            "val_smape",
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
        assert 0 < summary["val_smape"] < 200
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
    for group in ("models", "ensembles", "baselines"):
        for scores in evaluation[group].values():
            assert 0 < scores["smape"] < 200
            assert scores["smape_study_formula"] == pytest.approx(scores["smape"] / 4)
    gru_seeds = [evaluation["seeds"][f"gru_seed{s}"]["smape"] for s in SEEDS]
    assert evaluation["models"]["gru"]["smape"] == pytest.approx(np.mean(gru_seeds))
    assert evaluation["models"]["gru"]["smape_std"] == pytest.approx(np.std(gru_seeds, ddof=1))
    assert headline["test_windows"] == metrics["windows"]["total"]["test"]
    assert set(metrics["evaluate_regions"]) == set(REGIONS)
    predictions = pd.read_parquet(repo / "data/predictions.parquet")
    assert len(predictions) == headline["test_windows"]
    assert predictions["gru"].to_numpy() == pytest.approx(
        predictions[[f"gru_seed{s}" for s in SEEDS]].mean(axis=1).to_numpy()
    )


def test_second_repro_runs_nothing(repo):
    log = dvc(repo, "repro")
    assert "Running stage" not in log
    assert "Data and pipelines are up to date" in log


def test_experiment_reruns_only_affected_stages(repo):
    log = dvc(repo, "exp", "run", "-n", "lr-up", "-S", "train.lr=0.01")
    assert "Running stage 'train@gru'" in log and "Running stage 'evaluate'" in log
    assert "Running stage 'ingest'" not in log and "Running stage 'window'" not in log
    # Two training processes: the same stage command, relaunched under torchrun.
    one_epoch = ["-S", "train.epochs=1", "-S", "train.processes=2"]
    dvc(repo, "exp", "run", "--temp", "-n", "one-epoch", *one_epoch)
    study = (REPO / "presets/study.txt").read_text().split()
    study += ["-S", "train.hidden_size=8", "-S", "train.batch_size=64", "-S", "seeds=[1]"]
    log = dvc(repo, "exp", "run", "--temp", "-n", "study", *study)
    assert "Running stage 'features'" in log and "Running stage 'window'" in log
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    experiments = {
        exp["name"]: exp["revs"][0]["data"]
        for baseline in shown
        for exp in (baseline.get("experiments") or [])
    }
    assert {"lr-up", "one-epoch", "study"} <= set(experiments)
    params = experiments["lr-up"]["params"]["params.yaml"]["data"]
    assert params["train"]["lr"] == 0.01
    one_epoch = experiments["one-epoch"]["metrics"]
    # Only the figures an experiment is judged by are DVC metrics: the table stays narrow.
    assert set(one_epoch) == {
        "metrics/evaluate.json",
        "metrics/train_gru.json",
        "metrics/train_lstm.json",
    }
    assert "gru" in one_epoch["metrics/evaluate.json"]["data"]["test_smape"]
    study = experiments["study"]["params"]["params.yaml"]["data"]
    assert (study["window"]["lags"], study["train"]["target"]) == ([], "level")
    study_eval = experiments["study"]["metrics"]["metrics/evaluate.json"]["data"]
    assert "same_hour_last_week" not in study_eval["test_smape"]  # beyond the study's 90 hours


def test_mlflow_holds_every_training_run_with_its_tags(repo):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pjm-load-forecasting")
    runs = client.search_runs([experiment.experiment_id])
    ingest_runs = [r for r in runs if r.data.tags["dvc.stage"] == "ingest"]
    assert len(ingest_runs) == 1  # the experiments did not rerun ingest
    assert ingest_runs[0].data.metrics["AAA.rows_raw"] == 24 * 30
    runs = [r for r in runs if r not in ingest_runs]
    # Per seed, gru and lstm for the repro, the workspace exp and the first --temp exp; one seed
    # each for the study preset.
    assert len(runs) == 2 * len(SEEDS) * 3 + 2
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
    assert {"lr-up", "one-epoch", "study"} <= names
    processes = {
        r.data.params["processes"] for r in runs if r.data.tags.get("dvc.exp_name") == "one-epoch"
    }
    assert processes == {"2"}
    seeds = {(r.data.tags["dvc.stage"], r.data.params["seed"]) for r in runs}
    assert seeds == {(f"train@{c}", str(s)) for c in ("gru", "lstm") for s in SEEDS}
    assert not (repo / ".dvc/tmp/exps").exists() or not any(
        (repo / ".dvc/tmp/exps").glob("*/mlflow.db")
    )
