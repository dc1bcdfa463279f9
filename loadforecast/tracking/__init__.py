"""Everything MLflow, here and nowhere else: the store and its runs (this module), the model
flavour every consumer loads (`pyfunc`) and the registry (`registry`).

The store defaults to a SQLite file at the root of the project (MLFLOW_TRACKING_URI overrides it
for a team server), with artifacts beside it. MLflow's first-time database creation races when
two processes start together, so it runs under a file lock.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves the machine

import mlflow
from mlflow import MlflowClient

STORE_FILE = "mlflow.db"
ARTIFACT_DIR = "mlartifacts"
LOCK_FILE = ".mlflow.lock"
# Opens the experiment on its runs table, not on MLflow 3's GenAI traces view.
EXPERIMENT_KIND, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"


@dataclass
class Project:
    """Where the runs of this process go and what they carry: the project's root (its store
    lives there unless MLFLOW_TRACKING_URI names another), the tags of every run, how to digest
    a dataset the runs read, and the project's name (`project.name`), which names its experiment
    (`<name>-forecasting`) and registered models (`<name>-<cell>`). The pipeline sets it once
    per stage (`use_project`)."""

    root: Path = field(default_factory=Path.cwd)
    tags: dict[str, str] = field(default_factory=dict)
    digest: Callable[[Path], str | None] = lambda path: None
    name: str = "load"

    @property
    def experiment(self) -> str:
        return os.environ.get("MLFLOW_EXPERIMENT_NAME", f"{self.name}-forecasting")


_project = Project()


def use_project(project: Project) -> None:
    global _project
    _project = project


def project_name() -> str:
    return _project.name


def own_store_uri(root: Path) -> str:
    return f"sqlite:///{root / STORE_FILE}"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or own_store_uri(root)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def experiment_id(root: Path) -> str:
    """Point MLflow at the store of the project at `root` and return the experiment's id,
    creating both on first use."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)  # note: this also exports MLFLOW_TRACKING_URI
    name = _project.experiment
    with _locked(root / LOCK_FILE):
        client = MlflowClient()
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.tags.get(EXPERIMENT_KIND) != MODEL_DEVELOPMENT:
                client.set_experiment_tag(
                    experiment.experiment_id, EXPERIMENT_KIND, MODEL_DEVELOPMENT
                )
            return experiment.experiment_id
        # The project's own store keeps artifacts beside it; a team server keeps its own.
        own_store = uri == own_store_uri(root)
        artifacts = (root / ARTIFACT_DIR).as_uri() if own_store else None
        return client.create_experiment(
            name, artifact_location=artifacts, tags={EXPERIMENT_KIND: MODEL_DEVELOPMENT}
        )


def start_run(
    run_name: str, resume_run_id: str | None = None, nested: bool = False
) -> mlflow.ActiveRun:
    """Start a run in the project's store (inside the active run with `nested`), or resume
    `resume_run_id` if the store has it."""
    exp_id = experiment_id(_project.root)
    if resume_run_id and run_exists(resume_run_id):
        return mlflow.start_run(run_id=resume_run_id)
    return mlflow.start_run(
        experiment_id=exp_id, run_name=run_name, tags=_project.tags, nested=nested
    )


def log_dataset(path: Path) -> None:
    """Show the artefacts the active run read in the runs table's Dataset column, with the
    project's digest of them: runs with the same digest read the same bytes."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():  # a relative path could also be a source of other kinds
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(path.as_posix())
    dataset = MetaDataset(source, name=path.name, digest=_project.digest(path))
    mlflow.log_input(dataset, context="training")


def run_exists(run_id: str) -> bool:
    try:
        MlflowClient().get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return False
    return True
