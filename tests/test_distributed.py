"""`train.processes`: the train stage relaunched under the real torchrun, two gloo processes on the
CPU, trains the same model as one process does with the same global batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.processes import train_stage
from loadforecast.files import read_json
from loadforecast.forecaster import Forecaster
from loadforecast.windows import build_windows, save_windows
from tests.synthetic import regions_frame, window_params
from tests.tiny_project import TINY

pytestmark = pytest.mark.slow

SEEDS = [3, 4]


def write_windows(directory: Path) -> None:
    """Two small regions' windows, as the window stage writes them."""
    frame = regions_frame(("AAA", "BBB"), 24 * 25, stagger=5)
    windows, _ = build_windows(frame, window_params(24, 0.1, 0.2, (24,), True, 24))
    directory.mkdir()
    save_windows(windows, directory)


def train(workdir: Path, processes: int, batch_size: int) -> None:
    """Run the train stage in `workdir` as dvc.yaml runs it."""
    overrides = TINY["train"] | {"processes": processes, "batch_size": batch_size}
    train_stage(workdir, workdir.parent / "windows", "gru", SEEDS, overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, int], Path]:
    """The stage run with 1 and 2 processes, by batches of 7 chunks (uneven shares) and of 1
    (the second process has nothing to score: it must neither stall nor add its empty share's
    NaN to the step)."""
    root = tmp_path_factory.mktemp("distributed")
    write_windows(root / "windows")
    workdirs = {}
    for batch_size in (7, 1):
        for processes in (1, 2):
            workdirs[processes, batch_size] = root / f"processes{processes}-batch{batch_size}"
            workdirs[processes, batch_size].mkdir()
            train(workdirs[processes, batch_size], processes, batch_size)
    return workdirs


@pytest.mark.parametrize("batch_size", [7, 1])
def test_two_processes_follow_the_single_process_loss_curve(
    runs: dict[tuple[int, int], Path], batch_size: int
) -> None:
    alone, shared = runs[1, batch_size], runs[2, batch_size]
    for seed in SEEDS:
        one_history = read_json(alone / "history" / f"seed{seed}.json")
        two_history = read_json(shared / "history" / f"seed{seed}.json")
        assert len(one_history) == len(two_history) == TINY["train"]["epochs"]
        for one, two in zip(one_history, two_history, strict=True):
            assert one["train_labels"] == two["train_labels"]
            for key in ("train_loss", "val_loss", "lr"):
                assert two[key] == pytest.approx(one[key], rel=1e-4), (seed, one, two)
    models = [Forecaster.load(d / "gru.pt").states for d in (alone, shared)]
    for one, two in zip(*models, strict=True):
        for name, weights in one.items():
            torch.testing.assert_close(two[name], weights, rtol=1e-4, atol=1e-5)


def test_only_the_leader_logs_and_writes(runs: dict[tuple[int, int], Path]) -> None:
    from mlflow import MlflowClient

    workdir = runs[2, 7]
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    logged = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "params.model = 'gru'"
    )
    seeds = [r.data.params["seed"] for r in logged if "seed" in r.data.params]
    assert sorted(seeds) == [str(s) for s in SEEDS]
    assert len(logged) == len(SEEDS) + 1  # and the cell's run, their averaged forecast
    assert {r.data.params["processes"] for r in logged} == {"2"}
    summaries = read_json(workdir / "seeds.json")
    assert {s["processes"] for s in summaries.values()} == {2}
    assert sorted(p.name for p in (workdir / "history").iterdir()) == [
        f"seed{s}.json" for s in SEEDS
    ]


def test_the_benchmark_times_both(
    runs: dict[tuple[int, int], Path], tmp_path: Path, benchmark
) -> None:
    windows = runs[1, 7].parent / "windows"
    output = tmp_path / "processes.json"
    done = benchmark(
        *("--windows", str(windows), "--cells", "gru", "--epochs", "1", "--output", str(output)),
        *("--set", *(f"{k}={v}" for k, v in TINY["train"].items() if k != "epochs")),
        module="benchmarks.processes",
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())["results"]
    assert set(results) == {"gru_processes1", "gru_processes2"}
    for result in results.values():
        assert len(result["epoch_seconds"]) == 1 and result["epoch_seconds"][0] > 0
        assert result["wall_seconds"] > result["epoch_seconds"][0]
    losses = [r["train_loss"] for r in results.values()]
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
