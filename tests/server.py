"""A real ``anima serve`` in a subprocess, on free ports, for end-to-end and conformance tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def anima(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``anima`` CLI in a subprocess on the store in ``data_dir``."""
    env = {**os.environ, "ANIMA_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "anima.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    http_port: int
    grpc_port: int
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    log_path: Path

    def anima(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run an ``anima`` CLI command against this server's store."""
        return subprocess.run(
            [sys.executable, "-m", "anima.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def create_key(self, workspace: str, scope: str = "all") -> dict[str, str]:
        done = self.anima("keys", "create", "--workspace", workspace, "--scope", scope, "--json")
        assert done.returncode == 0, done.stderr
        info: dict[str, str] = json.loads(done.stdout)
        return info

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def run_server(
    data_dir: Path, *, extra_env: Mapping[str, str] | None = None, timeout: float = 180
) -> Iterator[Server]:
    """Start ``anima serve``; wait for /readyz; stop it (SIGTERM, then SIGKILL) afterwards."""
    http_port, grpc_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANIMA_") or k.startswith("ANIMA_TEST_")
    }
    env.update(
        {
            "ANIMA_DATA_DIR": str(data_dir),
            "ANIMA_PORT": str(http_port),
            "ANIMA_GRPC_PORT": str(grpc_port),
            "ANIMA_LOG_FORMAT": "text",
            **(extra_env or {}),
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "anima.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(
        f"http://127.0.0.1:{http_port}", http_port, grpc_port, data_dir, env, proc, log_path
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"anima serve exited {proc.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"anima serve not ready in {timeout}s:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
