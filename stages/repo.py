"""What the pipeline knows of its DVC repository: the user's checkout (also from inside an
experiment's temporary copy), DVC's hash of an output, and the tags that tie an MLflow run to
its commit, experiment and stage."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import yaml

from loadforecast.settings import Params, load_params

# `dvc exp run --temp` and `dvc queue` run stages in <repo>/.dvc/tmp/exps/<tmpdir>/.
_EXPERIMENT_COPY = (".dvc", "tmp", "exps")
LOCK_FILE = Path("dvc.lock")


def user_repo_root(cwd: Path | None = None) -> Path:
    """The repository the user works in, also when DVC runs the stage in an experiment's copy.

    Experiments run with `--temp` or from the queue execute in a temporary copy under
    `.dvc/tmp/exps/`, which DVC deletes afterwards; anything meant to outlive the run (the MLflow
    store, relative data paths) must be resolved against the user's repository instead.
    """
    path = (cwd or Path.cwd()).resolve()
    parts = path.parts
    for i in range(len(parts) - len(_EXPERIMENT_COPY)):
        if parts[i : i + len(_EXPERIMENT_COPY)] == _EXPERIMENT_COPY:
            return Path(*parts[:i])
    return path


def stage_params() -> Params:
    """params.yaml, a relative `train.init_from` taken from the user's repository root, as a
    relative data path is."""
    return load_params().starting_in(user_repo_root())


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


@functools.cache
def _locked_outputs(lock_file: Path) -> dict[str, str]:
    if not lock_file.exists():
        return {}
    stages = (yaml.safe_load(lock_file.read_text()) or {}).get("stages", {})
    return {
        out["path"]: out.get("md5", "").removesuffix(".dir")
        for stage in stages.values()
        for out in stage.get("outs", [])
    }


def dvc_hash(path: Path, lock_file: Path = LOCK_FILE) -> str | None:
    """DVC's hash of a stage output, as the lock file records it (None when it is not there)."""
    for out, digest in _locked_outputs(lock_file).items():
        if Path(out) == path:
            return digest or None
    return None


def track(name: str) -> None:
    """Send this stage's MLflow runs to the user's repository store, tagged with the commit, the
    DVC experiment and the stage, with DVC's hashes as dataset digests, under the project's
    `name` (`project.name`)."""
    from loadforecast import tracking

    cwd = Path.cwd()
    project = tracking.Project(user_repo_root(cwd), run_tags(cwd), dvc_hash, name)
    tracking.use_project(project)
