"""MLflow's own servers (`mlflow server`, `mlflow ui`, `mlflow models serve`) on 127.0.0.1, for
the benchmarks that time them and the tests that call them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mlflow_server(
    arguments: list[str], log_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`mlflow <arguments>` (`server ...` or `ui ...`) on 127.0.0.1 and a free port: its URI once
    it answers, and the whole process group stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", *arguments, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"} | (env or {})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # its uvicorn
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        uri = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{uri}/health", timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"mlflow did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(1)
            yield uri
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
