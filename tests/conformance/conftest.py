"""Drive the unmodified official client SDKs (npm packages pinned in package.json) against Anima.

``node_sdks`` installs them once per test session with ``npm ci`` into ``node_modules/``
(gitignored; skipped when package-lock.json has not changed since). Without node/npm, or when
the npm registry cannot be reached, the tests are skipped with the reason, except under CI
(env ``CI`` set), where that is a failure. ``run_harness`` runs one of the scripts in
``harness/`` and returns the JSON objects it printed, one per line.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from anima.domain.session import Interaction
from tests.conformance.anima_server import AnimaServer
from tests.speech_audio import silence, speak, word_errors

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness"
_STAMP = HERE / "node_modules" / ".anima-lock-sha256"


def require(reason: str) -> None:
    """Skip with ``reason`` locally; fail under CI, where every conformance test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"conformance tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_sdks() -> Path:
    """The conformance directory with its node_modules installed from package-lock.json."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        require(
            "node and npm are needed to run the official SDKs (e.g. apt-get install nodejs npm)"
        )
    assert npm is not None
    lock = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    if not _STAMP.is_file() or _STAMP.read_text().strip() != lock:
        try:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.CalledProcessError as exc:
            require(f"npm ci failed (registry unreachable?): {exc.stderr.strip()[-500:]}")
        except subprocess.TimeoutExpired:
            require("npm ci took longer than 10 minutes")
        _STAMP.write_text(lock + "\n")
    return HERE


def run_harness(
    script: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> list[dict[str, Any]]:
    """Run ``harness/<script>`` with node; the JSON lines it printed (stderr shown on failure)."""
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(HARNESS / script), *args],
        cwd=HERE,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return [json.loads(line) for line in lines]


def run_harness_across(
    script: str, scenario: str, env: Mapping[str, str], between: Callable[[], None]
) -> list[dict[str, Any]]:
    """Run a harness scenario that prints ``{"event": "waiting"}`` and waits for a line on
    stdin; call ``between()`` there (restart the server), then let it finish. Returns every
    JSON line; asserts the scenario ended with ``{"event": "done"}``."""
    node = shutil.which("node")
    assert node is not None
    harness = subprocess.Popen(
        [node, str(HARNESS / script), scenario],
        cwd=HERE,
        env={**os.environ, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert harness.stdin is not None
    assert harness.stdout is not None
    out: list[dict[str, Any]] = []
    try:
        for line in harness.stdout:
            if line.startswith("{"):
                out.append(json.loads(line))
                if out[-1]["event"] in ("waiting", "fatal"):
                    break
        assert out[-1]["event"] == "waiting", out
        between()
        harness.stdin.write("go\n")
        harness.stdin.flush()
        rest, errors = harness.communicate(timeout=240)
    finally:
        if harness.poll() is None:
            harness.kill()
    out += [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    assert out[-1] == {"event": "done"}, (out[-3:], errors)
    return out


# -- what every SDK conformance module shares ---------------------------------------------

TIMEOUT_MS = "180000"  # a guard against hangs, not a speed assert: the model shares 2 cores


@pytest.fixture(scope="module")
def server(node_sdks: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnimaServer]:
    """A real ``anima serve`` (embedded model) for one test module."""
    anima = AnimaServer.create(tmp_path_factory.mktemp("anima"))
    anima.start()
    try:
        yield anima
    finally:
        anima.stop()


def events(out: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The harness lines of one kind (``{"event": name, ...}``)."""
    return [o for o in out if o["event"] == name]


def packets(out: list[dict[str, Any]], interaction_id: str) -> list[dict[str, Any]]:
    """The packets the SDK handed the app for one interaction, in order."""
    return [
        o["packet"]
        for o in events(out, "packet")
        if o["packet"]["packetId"].get("interactionId") == interaction_id
    ]


def history(server: AnimaServer, session_id: str) -> list[Interaction]:
    """What the server stored for a session."""

    async def read() -> list[Interaction]:
        async with server.store() as store:
            return await store.sessions.history(session_id)

    return asyncio.run(read())


# -- the player speaking through an SDK's own audio calls (harness scenario ``listen``) ------


def speech_file(directory: Path, sentence: str, *, then_silent_s: float = 0.4) -> Path:
    """``sentence`` said by the offline test voice, as the raw PCM a microphone client sends
    (16 kHz mono 16-bit little-endian), with silence around it; for ANIMA_AUDIO_FILE."""
    path = directory / "speech.pcm"
    path.write_bytes(silence(0.3) + speak(sentence) + silence(then_silent_s))
    return path


def heard(out: list[dict[str, Any]], sentence: str) -> dict[str, Any]:
    """The one final transcript the SDK handed the app: a PLAYER text packet with source type
    SPEECH_TO_TEXT whose words are ``sentence``'s (at most one word in ten wrong)."""
    player = [
        o["packet"]
        for o in events(out, "packet")
        if o["packet"]["type"] == "TEXT" and o["packet"]["routing"]["source"]["isPlayer"]
    ]
    assert player, "no transcript came back"
    assert all(p["text"]["type"] == "SPEECH_TO_TEXT" for p in player)
    (final,) = [p for p in player if p["text"]["final"]]
    assert final is player[-1]
    errors, count = word_errors(sentence, final["text"]["text"])
    assert errors / count <= 0.1, final["text"]["text"]
    return final
