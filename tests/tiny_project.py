"""A git + DVC copy of this repository whose params point at a small generated dataset, and the
commands the end-to-end tests run in it, with the environment a user's shell would give them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests import REPO
from tests.synthetic import load_series, write_region_csv

REGIONS = ("AAA", "BBB", "CCC")
SEEDS = [1, 2]
TINY = {
    "seeds": SEEDS,
    "window": {"lookback": 24},
    "train": {
        "chunk_hours": 48,
        "burn_in_hours": 12,
        "horizon_hours": 38,  # the next calendar day from 10:00, within the short test part
        "hidden_size": 8,
        "lr": 0.003,
        "batch_size": 8,
        "epochs": 2,
        "min_steps": 20,  # a few passes per epoch over these small series
        "device": "cpu",
    },
    "evaluate": {"batch_size": 256, "plot_hours": 48},
}
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command as a user would, without this process's MLflow and DVC settings (plus
    `env`); fail with its output if it fails."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    clean["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{clean['PATH']}"  # stages' python
    done = subprocess.run(
        args, cwd=cwd, env=clean | (env or {}), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def dvc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return run(cwd, sys.executable, "-m", "dvc", *args, env=env)


def make_project(root: Path) -> Path:
    """Copy the repository's tracked and new files into `root/project`, without the real data's
    lock file and metrics, with params for three small generated regions; commit it."""
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
    for section, values in TINY.items():
        params[section] = values if section == "seeds" else params[section] | values
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(project, "git", "init", "-q")
    commit(project, "tiny project")
    return project


def commit(project: Path, message: str) -> None:
    run(project, "git", "add", "-A")
    run(project, *GIT, "commit", "-q", "-m", message)


@contextmanager
def tracking_store(uri: str):
    """`uri` as this process's tracking and registry store while in use; a client of it."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(None)
