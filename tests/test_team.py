"""Team scale with the real components: the tiny project tracked on a real `mlflow server` with a
throwaway PostgreSQL cluster behind it (queued experiments included), and a colleague who gets the
data and models through a DVC remote instead of retraining."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.servers import free_port, mlflow_server
from tests.tiny_project import SEEDS, commit, dvc, make_project, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CELLS = ("gru", "lstm")
QUEUED = {"lr-low": "0.002", "lr-high": "0.01"}
TASK = re.compile(r"^[0-9a-f]{7}\s+(\S+)\s.*\s(\w+)\s*$", re.MULTILINE)  # `dvc queue status` rows


def postgres_program(name: str) -> str | None:
    """A PostgreSQL server program on PATH, or in Debian's versioned directory (newest first)."""
    if found := shutil.which(name):
        return found
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / name).is_file():
            return str(directory / name)
    return None


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with an empty `mlflow` database; its URI."""
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    psycopg = pytest.importorskip("psycopg", reason="the driver: pip install -e '.[server]'")
    as_owner: list[str] = []  # PostgreSQL refuses to run as root: run it as `postgres` then
    root = Path(tempfile.mkdtemp(prefix="pjm-postgres-"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        shutil.chown(root, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    server = f"-h 127.0.0.1 -p {port} -k {root}"
    quiet = {"capture_output": True, "text": True, "check": True}
    subprocess.run([*as_owner, initdb, "-D", str(data), "-U", "mlflow", "-A", "trust"], **quiet)
    subprocess.run([*as_owner, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    server, "start"], **quiet)  # fmt: skip
    try:
        with psycopg.connect(  # CREATE DATABASE refuses to run inside a transaction
            host="127.0.0.1", port=port, user="mlflow", dbname="postgres", autocommit=True
        ) as db:
            db.execute("CREATE DATABASE mlflow")
        yield f"postgresql://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run([*as_owner, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], **quiet)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(postgres, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`mlflow server` on 127.0.0.1 with the PostgreSQL store and a served artifact store, as the
    README's team recipe starts it; its URI and its artifact directory."""
    artifacts = tmp_path_factory.mktemp("served-artifacts")
    log = tmp_path_factory.mktemp("server") / "mlflow-server.log"
    arguments = [
        "server",
        "--backend-store-uri",
        postgres,
        "--artifacts-destination",
        str(artifacts),
    ]
    with mlflow_server(arguments, log) as uri:
        yield uri, artifacts


def wait_for_queue(project: Path, env: dict[str, str], names: set[str]) -> None:
    """Wait until every queued experiment in `names` succeeded and the workers are gone."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = dvc(project, "queue", "status", env=env)
        tasks = dict(TASK.findall(status))
        failed = [name for name in names if tasks.get(name) == "Failed"]
        if failed:
            logs = "\n".join(dvc(project, "queue", "logs", name, env=env) for name in failed)
            pytest.fail(f"queued experiments failed: {failed}\n{logs[-5000:]}")
        done = all(tasks.get(name) == "Success" for name in names)
        if done and "Worker status: 0 active, 0 idle" in status:
            return
        time.sleep(5)
    pytest.fail(f"queued experiments did not finish in 15 minutes:\n{status}")


def test_a_team_server_holds_every_run_and_nothing_stays_local(tracking_server, tmp_path_factory):
    from mlflow import MlflowClient

    uri, served = tracking_server
    project = make_project(tmp_path_factory.mktemp("team"))
    env = {"MLFLOW_TRACKING_URI": uri}  # the only change a team member makes
    commits = {"workspace": run(project, "git", "rev-parse", "HEAD").strip()}
    dvc(project, "repro", env=env)
    commit(project, "the tiny run")
    commits |= dict.fromkeys(QUEUED, run(project, "git", "rev-parse", "HEAD").strip())
    for name, lr in QUEUED.items():
        dvc(project, "exp", "run", "--queue", "-n", name, "-S", f"train.lr={lr}", env=env)
    try:
        dvc(project, "queue", "start", "-j", "2", env=env)
        wait_for_queue(project, env, set(QUEUED))
    finally:
        dvc(project, "queue", "stop", env=env)

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("pjm-load-forecasting")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert [r.data.tags["dvc.stage"] for r in runs].count("ingest") == 1  # not rerun by the exps
    training = [r for r in runs if r.data.tags["dvc.stage"].startswith("train@")]
    # Every cell run and its seeds' runs, for the repro and for each of the two queued experiments.
    assert len(training) == len(CELLS) * (len(SEEDS) + 1) * (1 + len(QUEUED))
    by_experiment = {}
    for r in training:
        name = r.data.tags.get("dvc.exp_name", "workspace")
        assert r.data.tags["mlflow.source.git.commit"] == commits[name]
        assert "test_smape" in r.data.metrics and "val_smape" in r.data.metrics
        if "seed" in r.data.params:
            epochs = client.get_metric_history(r.info.run_id, "loss/train")
            assert len(epochs) == int(r.data.params["train.epochs"])
        assert r.info.artifact_uri.startswith("mlflow-artifacts:")  # served by the server
        by_experiment.setdefault(name, set()).add(r.data.params["train.lr"])
    assert set(by_experiment) == {"workspace", *QUEUED}
    assert by_experiment == {"workspace": {"0.003"}} | {n: {lr} for n, lr in QUEUED.items()}
    # Each training run's model, stored by the server in its artifact directory.
    models = list(served.rglob("models/m-*/artifacts/MLmodel"))
    assert len(models) == len(training)
    baselines = [r for r in runs if r.data.params.get("kind") == "baseline"]
    assert len(baselines) == 5 * (1 + len(QUEUED))
    # Each evaluate registered its cells' models on the server: loadable by alias from there.
    for cell in CELLS:
        versions = client.search_model_versions(f"name = 'pjm-load-{cell}'")
        assert sorted(v.tags["dvc_experiment"] for v in versions) == sorted(["workspace", *QUEUED])
    loaded = run(
        project,
        *(
            sys.executable,
            "-c",
            "import mlflow; mlflow.pyfunc.load_model('models:/pjm-load-gru@challenger')",
        ),
        env=env,
    )
    assert "Traceback" not in loaded
    # Nothing went to a store of the project's own, nor of the queue's temporary copies.
    local = [*project.glob("mlflow.db"), *project.glob("mlartifacts"), *project.glob("mlruns")]
    local += list((project / ".dvc/tmp").rglob("mlflow.db"))
    assert not local, local


def test_a_colleague_gets_data_and_models_from_a_dvc_remote_without_retraining(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote")
    project = make_project(root)
    dvc(project, "repro")
    dvc(project, "remote", "add", "-d", "team", str(root / "dvc-remote"))  # a shared directory
    commit(project, "results, and the team's remote")
    dvc(project, "push")

    colleague = root / "colleague"
    run(root, "git", "clone", "-q", str(project), str(colleague))
    dvc(colleague, "pull")
    for out in (
        "data/raw/AAA_hourly.csv",
        "data/ingested.parquet",
        "data/windows/series.npy",
        "data/models/gru.pt",
        "data/models/lstm.pt",
        "data/predictions.parquet",
    ):
        assert (colleague / out).read_bytes() == (project / out).read_bytes(), out
    assert "Data and pipelines are up to date" in dvc(colleague, "status")
    log = dvc(colleague, "repro")
    assert "Running stage" not in log and "Data and pipelines are up to date" in log
