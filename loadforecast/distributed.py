"""Data-parallel training with PyTorch's own launcher (torchrun) and DistributedDataParallel.

`train.processes: N` relaunches the train stage under `torchrun --standalone` with N processes on
this machine, so the stage's command in dvc.yaml stays the same for any N. A stage started by
torchrun directly (several machines: docs/team.md) is used as launched. Processes
talk over NCCL on GPUs (one GPU each) and gloo on CPUs; rank 0 alone writes outputs and logs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from loadforecast.errors import LoadForecastError
from loadforecast.model import select_device


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    size: int = 1

    @property
    def leader(self) -> bool:
        return self.rank == 0


ALONE = Group()


def launched() -> bool:
    """Whether torchrun started this process."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def relaunch(processes: int, module: str, args: list[str]) -> int:
    """Run `python -m module args` under torchrun with `processes` processes on this machine;
    return its exit status. Each process gets an equal share of the CPU cores for its threads,
    unless OMP_NUM_THREADS says otherwise."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={processes}", "-m", module, *args]
    return subprocess.run(command, env=env, check=False).returncode


def check_devices(device: torch.device, processes: int) -> None:
    """On GPUs, one process per GPU of this machine."""
    if device.type != "cuda" or processes == 1:
        return
    if device.index is not None:
        raise LoadForecastError(
            f"device '{device}' names one GPU, but {processes} processes are asked for: "
            "name no GPU (auto or cuda): process k trains on GPU k"
        )
    if processes > torch.cuda.device_count():
        raise LoadForecastError(
            f"{processes} processes, but this machine has {torch.cuda.device_count()} GPUs: "
            "use at most one process per GPU"
        )


def join(device_name: str) -> tuple[Group, torch.device]:
    """Join the process group when launched by torchrun, and pick this process's device: on
    GPUs, local rank k trains on GPU k."""
    device = select_device(device_name)
    if not launched():
        return ALONE, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    # The others wait for the leader's validation and MLflow uploads between seeds.
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=timedelta(hours=1))
    return Group(dist.get_rank(), dist.get_world_size()), device


def leaders(value: float, group: Group) -> float:
    """Rank 0's `value` in every process (itself when alone)."""
    if group.size == 1:
        return value
    shared = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        shared = shared.cuda()
    dist.broadcast(shared, src=0)
    return shared.item()


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def every_core(group: Group, device: torch.device) -> Iterator[None]:
    """On the CPU, let the leader's threads use every core while the other processes wait for
    it (to score the validation windows between seeds)."""
    threads = torch.get_num_threads()
    if group.size > 1 and device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or threads)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
