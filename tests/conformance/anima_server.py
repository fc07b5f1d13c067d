"""A real ``anima serve`` in a subprocess, for driving it with the official SDKs.

``AnimaServer.create(directory)`` prepares a data directory through the same store and CLI a
user would (workspace ``test-ws``, an API key pair, the character ``alice`` imported and
deployed with ``anima characters import --deploy``), then ``start()`` runs ``anima serve`` on
free HTTP and gRPC ports with the default (real, embedded) language model and waits until
``/readyz`` answers. With ``tls`` (certificate and key files) both faces serve TLS and the node
SDK trusts the certificate (grpc-js reads ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``). ``restart()``
stops it (SIGTERM: open streams end with UNAVAILABLE) and starts it again on the same ports and
data. ``store()`` opens the same database from the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from anima.store import Store

WORKSPACE = "test-ws"
SCENE = f"workspaces/{WORKSPACE}/characters/alice"
START_SECONDS = 300.0  # loading the embedded model on a busy machine

ALICE: dict[str, Any] = {
    "name": SCENE,
    "defaultCharacterDescription": {
        "givenName": "Alice",
        "description": "Alice keeps the lighthouse on the northern cape. She is cheerful and "
        "loves to talk about ships, storms and the sea birds she feeds every morning.",
        "motivation": "Keep the light burning and make every visitor feel welcome.",
        "exampleDialog": "{player}: Hello!\n{character}: Hello there! Welcome to my lighthouse.",
        "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_SHORT",
        "narrativeActionsEnabled": True,
    },
    "yamlConfig": "goals:\n"
    "  - name: greet\n"
    "    repeatable: true\n"
    "    activation: {trigger: greet}\n"
    "    actions:\n"
    '      - say_verbatim: "Welcome to the lighthouse, {player}!"\n'
    "        send_trigger: greeted\n",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _anima() -> str:
    return str(Path(sys.executable).parent / "anima")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMA_")}
    env["ANIMA_DATA_DIR"] = str(data_dir)
    return env


@dataclass
class AnimaServer:
    directory: Path
    key: str
    secret: str
    tls: tuple[Path, Path] | None = None
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @classmethod
    def create(cls, directory: Path, *, tls: tuple[Path, Path] | None = None) -> AnimaServer:
        data = directory / "data"
        settings = Settings(data_dir=data)

        async def keys() -> tuple[str, str]:
            store = await Store.open(settings)
            try:
                await store.keys.ensure_workspace(WORKSPACE)
                pair = new_key_pair()
                await store.keys.add(WORKSPACE, Scope.ALL, pair)
                return pair.key, pair.secret
            finally:
                await store.close()

        key, secret = asyncio.run(keys())
        alice = directory / "alice.json"
        alice.write_text(json.dumps(ALICE), encoding="utf-8")
        subprocess.run(
            [_anima(), "characters", "import", str(alice), "--workspace", WORKSPACE, "--deploy"],
            env=_env(data),
            check=True,
            capture_output=True,
            timeout=START_SECONDS,
        )
        return cls(directory, key, secret, tls)

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    def node_env(self, **extra: str) -> dict[str, str]:
        """Environment for harness/node_client.js against this server."""
        env = {
            "ANIMA_GRPC_HOST": f"localhost:{self.grpc_port}",
            "ANIMA_KEY": self.key,
            "ANIMA_SECRET": self.secret,
            "ANIMA_SCENE": SCENE,
        }
        if self.tls is not None:
            env["ANIMA_GRPC_SSL"] = "true"
            env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = str(self.tls[0])  # read by grpc-js
        return {**env, **extra}

    def start(self) -> None:
        command = [
            _anima(),
            "serve",
            "--port",
            str(self.http_port),
            "--grpc-port",
            str(self.grpc_port),
            "--log-format",
            "text",
        ]
        env = _env(self.data_dir)
        scheme, verify = "http", ssl.create_default_context()
        if self.tls is not None:
            env["ANIMA_TLS_CERT_FILE"], env["ANIMA_TLS_KEY_FILE"] = map(str, self.tls)
            scheme, verify = "https", ssl.create_default_context(cafile=str(self.tls[0]))
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready(f"{scheme}://localhost:{self.http_port}/readyz", verify)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, url: str, verify: ssl.SSLContext) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anima serve exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"anima serve not ready after {START_SECONDS} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-6000:]

    @asynccontextmanager
    async def store(self) -> AsyncIterator[Store]:
        """The server's database, opened from the test (SQLite allows both)."""
        store = await Store.open(self.settings())
        try:
            yield store
        finally:
            await store.close()
