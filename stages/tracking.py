"""MLflow tracking for the stages: one store per user repository, tagged with git and DVC context.

The store defaults to a SQLite file at the root of the user's repository (MLFLOW_TRACKING_URI
overrides it for a team server). Stages of `dvc exp run --temp` and of the experiment queue run in a
temporary copy of the repository, so the store is resolved against the user's repository, not the
copy. MLflow's first-time database creation races when two queued experiments start together, so
it runs under a file lock.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves the machine

import mlflow
import yaml
from mlflow import MlflowClient

from stages.files import user_repo_root

DEFAULT_EXPERIMENT = "pjm-load-forecasting"
STORE_FILE = "mlflow.db"
ARTIFACT_DIR = "mlartifacts"
LOCK_FILE = ".mlflow.lock"
# Opens the experiment on its runs table, not on MLflow 3's GenAI traces view.
EXPERIMENT_KIND, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"


def own_store_uri(repo_root: Path) -> str:
    return f"sqlite:///{repo_root / STORE_FILE}"


def tracking_uri(repo_root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or own_store_uri(repo_root)


def git_commit(cwd: Path) -> str | None:
    """The commit the run's code comes from (the baseline commit inside a DVC experiment)."""
    if rev := os.environ.get("DVC_EXP_BASELINE_REV"):
        return rev
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def run_tags(cwd: Path) -> dict[str, str]:
    """Tags that tie a run to its code and its DVC experiment and stage."""
    tags = {
        "mlflow.source.git.commit": git_commit(cwd),
        "dvc.exp_name": os.environ.get("DVC_EXP_NAME"),
        "dvc.stage": os.environ.get("DVC_STAGE"),
    }
    return {key: value for key, value in tags.items() if value}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def experiment_id(repo_root: Path) -> str:
    """Point MLflow at the store and return the experiment's id, creating both on first use."""
    uri = tracking_uri(repo_root)
    mlflow.set_tracking_uri(uri)  # note: this also exports MLFLOW_TRACKING_URI
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", DEFAULT_EXPERIMENT)
    with _locked(repo_root / LOCK_FILE):
        client = MlflowClient()
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.tags.get(EXPERIMENT_KIND) != MODEL_DEVELOPMENT:
                client.set_experiment_tag(
                    experiment.experiment_id, EXPERIMENT_KIND, MODEL_DEVELOPMENT
                )
            return experiment.experiment_id
        # The repository's own store keeps artifacts beside it; a team server keeps its own.
        own_store = uri == own_store_uri(repo_root)
        artifacts = (repo_root / ARTIFACT_DIR).as_uri() if own_store else None
        return client.create_experiment(
            name, artifact_location=artifacts, tags={EXPERIMENT_KIND: MODEL_DEVELOPMENT}
        )


def start_run(
    run_name: str, resume_run_id: str | None = None, nested: bool = False
) -> mlflow.ActiveRun:
    """Start a run in the user's repository store (inside the active run with `nested`), or
    resume `resume_run_id` if the store has it."""
    cwd = Path.cwd()
    exp_id = experiment_id(user_repo_root(cwd))
    if resume_run_id and run_exists(resume_run_id):
        return mlflow.start_run(run_id=resume_run_id)
    return mlflow.start_run(
        experiment_id=exp_id, run_name=run_name, tags=run_tags(cwd), nested=nested
    )


def dvc_hash(path: Path, lock_file: Path = Path("dvc.lock")) -> str | None:
    """DVC's hash of a stage output, as the lock file records it (None when it is not there)."""
    if not lock_file.exists():
        return None
    stages = (yaml.safe_load(lock_file.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if Path(out["path"]) == path:
                return out.get("md5", "").removesuffix(".dir") or None
    return None


def log_dataset(path: Path) -> None:
    """Show the artefacts the active run read in the runs table's Dataset column, with DVC's
    hash of them as the digest: runs with the same digest read the same bytes."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():  # a relative path could also be a source of other kinds
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(path.as_posix())
    dataset = MetaDataset(source, name=path.name, digest=dvc_hash(path))
    mlflow.log_input(dataset, context="training")


def run_exists(run_id: str) -> bool:
    try:
        MlflowClient().get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return False
    return True
