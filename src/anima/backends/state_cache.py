"""Saved model states of the embedded model, so a prompt's known beginning is not read again.

A ``SavedState`` is llama.cpp's context state (its KV cache) after evaluating ``tokens``. A
prompt that starts with those tokens restores it and evaluates only the rest. Two kinds:

- persona states: the tokens of a character version's stable beginning (the chat template's
  opening and who the character is). Computed when the version is deployed, kept in memory
  and written to ``directory``, so they survive restarts and every worker of the host shares
  them. The file name is the digest of the model and the tokens: a new version has other
  tokens, so it never reads an old version's state.
- session states: the whole context after a generation (persona, history, the reply), kept
  in memory only, so a player who walks from one character to another and back finds the
  conversation where it was.

Memory is an LRU under ``budget_bytes``; the directory is pruned (oldest first) under
``disk_budget_bytes``. A file that is truncated, altered or written for another model is
ignored, deleted and rebuilt: never loaded. Everything here runs on the model's worker thread;
counters are read by the metrics collector from other threads (ints, no lock needed).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger("anima.llm.cache")

MAGIC = b"ANIMAKV1"
_HEADER = struct.Struct("<8s32s32sQ")  # magic, model digest, payload sha256, token count

Tokens = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class SavedState:
    tokens: Tokens  # the tokens whose evaluation the state holds
    data: bytes  # llama.cpp's state bytes
    persona: bool = False  # a version's persona prefix (also on disk)

    @property
    def size(self) -> int:
        return len(self.data) + self.tokens.nbytes


@dataclass(slots=True)
class CacheStats:
    """Counters since start (hits by where the state came from) and current sizes."""

    hits: dict[str, int] = field(default_factory=lambda: {"context": 0, "memory": 0, "disk": 0})
    misses: int = 0
    evictions: int = 0
    disk_evictions: int = 0
    corrupt_files: int = 0
    memory_bytes: int = 0
    memory_entries: int = 0
    disk_bytes: int = 0
    disk_entries: int = 0


def as_tokens(tokens: Sequence[int] | Tokens) -> Tokens:
    return np.asarray(tokens, dtype=np.int32)


def common_prefix(a: Tokens, b: Tokens) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


class StateCache:
    def __init__(
        self,
        model_id: str,
        *,
        budget_bytes: int,
        directory: Path | None = None,
        disk_budget_bytes: int = 0,
    ) -> None:
        self.model_id = model_id
        self._model = hashlib.sha256(model_id.encode()).digest()
        self.budget = budget_bytes
        self.directory = directory
        self.disk_budget = disk_budget_bytes
        self._entries: OrderedDict[bytes, SavedState] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("saved model states stay in memory: cannot use %s (%s)", directory, exc)
                self.directory = None
            else:
                self._count_disk()

    def key(self, tokens: Tokens) -> bytes:
        return hashlib.sha256(self._model + tokens.tobytes()).digest()

    # -- memory ---------------------------------------------------------------

    def best(self, tokens: Tokens) -> tuple[SavedState | None, int]:
        """The kept state sharing the longest beginning with ``tokens``, and that length."""
        best: SavedState | None = None
        best_key = b""
        best_len = 0
        with self._lock:
            for key, state in self._entries.items():
                n = common_prefix(state.tokens, tokens)
                if n > best_len:
                    best, best_len, best_key = state, n, key
            if best is not None:
                self._entries.move_to_end(best_key)
        return best, best_len

    def get(self, tokens: Tokens) -> SavedState | None:
        """The state of exactly ``tokens``: from memory, else from disk (then kept)."""
        key = self.key(tokens)
        with self._lock:
            state = self._entries.get(key)
            if state is not None:
                self._entries.move_to_end(key)
                return state
        state = self._read(key, tokens)
        if state is not None:
            self._keep(key, state)
        return state

    def put(self, state: SavedState) -> None:
        """Keep ``state`` in memory; a persona state is also written to disk. A session state
        replaces the kept session states it extends (they are its beginnings)."""
        key = self.key(state.tokens)
        if state.persona:
            self._write(key, state)
        self._keep(key, state)

    def _keep(self, key: bytes, state: SavedState) -> None:
        if state.size > self.budget:
            return
        with self._lock:
            if not state.persona:
                for old_key, old in list(self._entries.items()):
                    n = len(old.tokens)
                    extended = (
                        n <= len(state.tokens) and common_prefix(old.tokens, state.tokens) == n
                    )
                    if extended and not old.persona:
                        self._drop(old_key)
            if key in self._entries:
                self._drop(key)
            self._entries[key] = state
            self.stats.memory_bytes += state.size
            while self.stats.memory_bytes > self.budget and len(self._entries) > 1:
                self._drop(next(iter(self._entries)))
                self.stats.evictions += 1
            self.stats.memory_entries = len(self._entries)

    def _drop(self, key: bytes) -> None:
        old = self._entries.pop(key)
        self.stats.memory_bytes -= old.size
        self.stats.memory_entries = len(self._entries)

    def clear_memory(self) -> None:
        with self._lock:
            self._entries.clear()
            self.stats.memory_bytes = self.stats.memory_entries = 0

    # -- disk -----------------------------------------------------------------

    def path(self, key: bytes) -> Path | None:
        return None if self.directory is None else self.directory / f"{key.hex()}.kv"

    def _read(self, key: bytes, tokens: Tokens) -> SavedState | None:
        path = self.path(key)
        if path is None:
            return None
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the saved model state %s: %s", path, exc)
            return None
        problem = self._check(raw, tokens)
        if problem is not None:
            log.warning("ignoring the saved model state %s (%s); it is rebuilt", path, problem)
            self.stats.corrupt_files += 1
            self._unlink(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        body = memoryview(raw)[_HEADER.size :]
        return SavedState(tokens, bytes(body[tokens.nbytes :]), persona=True)

    def _check(self, raw: bytes, tokens: Tokens) -> str | None:
        if len(raw) < _HEADER.size:
            return "truncated"
        magic, model, digest, count = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            return "not a saved state"
        if model != self._model:
            return "written for another model"
        body = memoryview(raw)[_HEADER.size :]
        if hashlib.sha256(body).digest() != digest:
            return "checksum mismatch"
        if count != len(tokens) or bytes(body[: tokens.nbytes]) != tokens.tobytes():
            return "for other tokens"
        return None

    def _write(self, key: bytes, state: SavedState) -> None:
        path = self.path(key)
        if path is None:
            return
        body = state.tokens.tobytes() + state.data
        header = _HEADER.pack(MAGIC, self._model, hashlib.sha256(body).digest(), len(state.tokens))
        assert self.directory is not None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(body)
            os.replace(tmp, path)  # readers see the old file or the whole new one
        except OSError as exc:
            log.warning("cannot write the saved model state %s: %s", path, exc)
            return
        self._prune()

    def _unlink(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        self._count_disk()

    def _files(self) -> list[tuple[float, int, Path]]:
        assert self.directory is not None
        out = []
        for path in self.directory.glob("*.kv"):
            with contextlib.suppress(OSError):
                st = path.stat()
                out.append((st.st_mtime, st.st_size, path))
        return sorted(out)

    def _count_disk(self) -> None:
        files = self._files()
        self.stats.disk_entries = len(files)
        self.stats.disk_bytes = sum(size for _, size, _ in files)

    def _prune(self) -> None:
        files = self._files()
        total = sum(size for _, size, _ in files)
        for _, size, path in files[:-1]:  # the newest file always stays
            if total <= self.disk_budget:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                self.stats.disk_evictions += 1
        self._count_disk()
