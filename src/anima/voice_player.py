"""Playing speech through the system's audio player, for ``anima chat --voice``.

The player is the first of ``PLAYERS`` found on PATH (or the command given with
``--voice-player``); it gets a WAV file. Without one, ``find_player`` raises an error that
says what to install.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from anima.errors import FailedPrecondition

PLAYERS = ("paplay", "aplay -q", "afplay", "pw-play", "ffplay -nodisp -autoexit -loglevel quiet")


def find_player(command: str | None = None) -> list[str]:
    """The player's argv (without the file)."""
    for candidate in [command] if command else PLAYERS:
        argv = shlex.split(candidate)
        if argv and shutil.which(argv[0]):
            return argv
    wanted = f"'{command}'" if command else "paplay, aplay, afplay, pw-play or ffplay"
    raise FailedPrecondition(
        f"--voice needs an audio player: {wanted} was not found on PATH (Debian: apt-get install "
        "alsa-utils, or pulseaudio-utils); or give one with --voice-player"
    )


def play(wav: bytes, player: list[str]) -> None:
    """Play one WAV file; returns when it has been played (blocking)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "line.wav"
        path.write_bytes(wav)
        subprocess.run([*player, str(path)], check=False, capture_output=True, timeout=300)
