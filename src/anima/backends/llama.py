"""The embedded language model: llama-cpp-python running a GGUF file in this process.

One ``LlamaLLM`` (one model, one llama context) serves every session of the process:

- Access is serialised: generations run one at a time on a single worker thread (FIFO), so
  concurrent turns never share the llama context, and the event loop never blocks on it.
- Stopping: closing the stream sets a flag that llama's stopping criteria read after every
  token, so generation ends within one token; a request still queued is skipped.
- Prefix reuse: llama keeps the tokens it evaluated last and re-evaluates only from the first
  token that differs. The prompt puts the persona first and the per-turn note last, so turn
  N of a session reuses the persona and the history evaluated at turn N-1. ``Usage`` reports
  how many prompt tokens were reused.
- Exact reuse: llama.cpp computes a position read alone (one token, as when generating)
  slightly differently from the same position read in a batch of two or more, and at
  temperature 0 that can change a word. So a reply must not depend on what the context held
  before it: prompt tokens are always read in batches of at least two, and after a reply its
  tokens are read again as one batch (or dropped from the context when another generation is
  waiting), so every position the context keeps is exactly what a cold read gives.
- Saved states (state_cache.py): llama keeps one context, so a player who switches to another
  character would make it read that character's persona again. With a ``StateCache``, the
  state after a character version's persona is computed at deploy (``prepare``), kept in
  memory and on disk, and restored when a prompt starts with it; the state after each
  generation is kept in memory too, so a session that comes back finds its conversation
  evaluated. A state is only restored for the exact tokens it was saved for.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import logging
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from anima.backends import models
from anima.backends.llm import LLMBase, PromptFormat, Sampling, Usage
from anima.backends.render import chat_messages, transcript
from anima.backends.state_cache import SavedState, StateCache, Tokens, as_tokens, common_prefix
from anima.domain.prompt import Message, Prompt
from anima.errors import AnimaError, BackendError, FailedPrecondition, InvalidArgument
from anima.settings import Settings

log = logging.getLogger("anima.llm.llama")

_END = object()
MIN_PERSONA_TOKENS = 64  # a shorter persona costs less to read than to look up and restore


class LlamaLLM(LLMBase):
    name = "embedded"

    def __init__(
        self,
        model_path: Path,
        *,
        prompt_format: PromptFormat | None = None,
        context_tokens: int = 4096,
        threads: int | None = None,
        sampling: Sampling | None = None,
        seed: int | None = None,
        timeout_s: float = 60.0,
        state_cache: StateCache | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, retries=0)
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                n_threads=threads,
                seed=seed if seed is not None else llama_cpp.LLAMA_DEFAULT_SEED,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(
                f"llama.cpp could not load {model_path}: {exc}", retryable=False
            ) from exc
        self.model_path = model_path
        self.sampling = sampling or Sampling()
        self.seed = seed
        self._formatter = self._chat_formatter()
        if prompt_format is None:
            prompt_format = "chat" if self._formatter is not None else "completion"
        if prompt_format == "chat" and self._formatter is None:
            raise InvalidArgument(
                f"{model_path.name} has no chat template: set ANIMA_LLM_PROMPT_FORMAT=completion",
                field="llm_prompt_format",
            )
        self.prompt_format = prompt_format
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anima-llama")
        self.generated_tokens = 0  # since start, for observing that cancellation stops work
        self._waiting = 0  # generations submitted to the worker and not started yet
        self._waiting_lock = threading.Lock()
        self.state_cache = state_cache

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaLLM:
        path, hint = models.resolve(
            settings.llm_model,
            settings.llm_model_path,
            settings.llm_model_sha256,
            settings.data_dir,
        )
        if settings.llm_model_path is not None and not settings.llm_model_sha256:
            log.warning(
                "ANIMA_LLM_MODEL_SHA256 is not set: %s is loaded unchecked (its sha256 is %s)",
                path,
                models.sha256_of(path),
            )
        bundled = (
            models.BUNDLED.get(settings.llm_model) if settings.llm_model_path is None else None
        )
        sampling = (bundled.sampling if bundled is not None else Sampling()).with_overrides(
            temperature=settings.llm_temperature,
            top_p=settings.llm_top_p,
            min_p=settings.llm_min_p,
            repeat_penalty=settings.llm_repeat_penalty,
        )
        fmt: PromptFormat | None
        if settings.llm_prompt_format != "auto":
            fmt = settings.llm_prompt_format
        else:
            fmt = "chat" if hint == "chat" else "completion" if hint == "completion" else None
        cache = None
        if settings.llm_state_cache_bytes > 0:
            cache = StateCache(
                model_identity(path, settings.llm_context_tokens),
                budget_bytes=settings.llm_state_cache_bytes,
                directory=settings.data_dir / "model-states",
                disk_budget_bytes=settings.llm_state_cache_disk_bytes,
            )
        return cls(
            path,
            prompt_format=fmt,
            context_tokens=settings.llm_context_tokens,
            threads=settings.llm_threads,
            sampling=sampling,
            seed=settings.llm_seed,
            timeout_s=settings.llm_timeout_seconds,
            state_cache=cache,
        )

    @property
    def temperature(self) -> float:
        return self.sampling.temperature

    def _chat_formatter(self) -> Jinja2ChatFormatter | None:
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        model = self._llama._model

        def text(token: int) -> str:
            return str(model.token_get_text(token)) if token != -1 else ""

        return Jinja2ChatFormatter(
            template=template,
            eos_token=text(self._llama.token_eos()),
            bos_token=text(self._llama.token_bos()),
        )

    # -- rendering (called on the worker thread) --------------------------------

    def _render(self, prompt: Prompt) -> tuple[str, bool]:
        """The prompt's text and whether a BOS token goes before it."""
        if self.prompt_format == "chat":
            assert self._formatter is not None
            result = self._formatter(messages=chat_messages(prompt))  # type: ignore[arg-type]
            return result.prompt, not result.added_special
        return transcript(prompt), True

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def tokens(self, prompt: Prompt) -> list[int]:
        """The prompt's tokens, exactly as they are evaluated."""
        return self._tokenize(*self._render(prompt))

    def persona_tokens(self, prompt: Prompt, tokens: Tokens) -> Tokens | None:
        """The beginning of ``tokens`` that only the character version decides (the template's
        opening and ``Prompt.character_part``), or None when it is too short to be worth it."""
        part = prompt.character_part
        if not part:
            return None
        text, add_bos = self._render(prompt)
        at = text.find(part)
        if at < 0:
            return None
        own = as_tokens(self._tokenize(text[: at + len(part)], add_bos))
        n = common_prefix(own, tokens)  # the last token may join what follows
        return tokens[:n] if n >= MIN_PERSONA_TOKENS else None

    @property
    def eos_text(self) -> str:
        """The chat template's end-of-turn text, also a stop sequence."""
        return self._formatter.eos_token if self._formatter is not None else ""

    # -- generation ---------------------------------------------------------------

    async def _stream(self, prompt: Prompt) -> AsyncGenerator[str | Usage, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        with self._waiting_lock:
            self._waiting += 1
        future = loop.run_in_executor(self._executor, self._generate, prompt, emit, stop)
        future.add_done_callback(_log_crash)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str | Usage)
                yield item
        finally:
            stop.set()  # the worker stops after its current token

    def _generate(
        self, prompt: Prompt, emit: Callable[[object], None], stop: threading.Event
    ) -> None:
        with self._waiting_lock:
            self._waiting -= 1
        prompt_tokens = 0
        try:
            if stop.is_set():
                return  # cancelled while waiting for the model
            tokens = self.tokens(prompt)
            budget = self._llama.n_ctx() - len(tokens)
            if budget < 8:
                # What the client wrote (the character, the player) is too long for this
                # deployment's context: not a failure of the model, and not worth a retry.
                raise FailedPrecondition(
                    f"the prompt has {len(tokens)} tokens and does not fit the model's context "
                    f"of {self._llama.n_ctx()}: shorten the character's texts or raise "
                    "ANIMA_LLM_CONTEXT_TOKENS"
                )
            wanted = as_tokens(tokens)
            if self.state_cache is not None:
                self._restore(prompt, wanted)
            cached = self._read_prompt(wanted)
            prompt_tokens = len(tokens)
            emit(Usage(len(tokens), cached, 0))  # known now, even if the reply is cut short
            stops = [*prompt.stop, self.eos_text] if self.eos_text else list(prompt.stop)
            produced = 0

            def should_stop(_ids: Any, _logits: Any) -> bool:
                return stop.is_set()

            kwargs: dict[str, Any] = {}
            if self.seed is not None:
                kwargs["seed"] = self.seed + prompt.attempt  # a repair draws other tokens
            chunks = self._llama.create_completion(
                tokens,
                max_tokens=min(prompt.max_tokens, budget),
                temperature=self.sampling.temperature,
                top_p=self.sampling.top_p,
                min_p=self.sampling.min_p,
                repeat_penalty=self.sampling.repeat_penalty,
                stop=stops,
                stream=True,
                stopping_criteria=llama_cpp.StoppingCriteriaList([should_stop]),
                **kwargs,
            )
            for chunk in chunks:
                produced += 1
                self.generated_tokens += 1
                text = chunk["choices"][0]["text"]  # type: ignore[index]
                if text:
                    emit(text)
                if stop.is_set():
                    break
            emit(Usage(len(tokens), cached, produced))
        except AnimaError as exc:
            emit(exc)
            return
        except (ValueError, RuntimeError) as exc:
            err = BackendError(f"llama.cpp failed: {exc}", retryable=False)
            err.__cause__ = exc
            emit(err)
            return
        finally:
            emit(_END)
        # After the reply went out: nobody waits for this.
        self._settle(prompt_tokens, reread=not stop.is_set())
        if self.state_cache is not None:
            self._keep_session()

    # -- exact reuse (called on the worker thread) ---------------------------------

    def _feed(self, tokens: Tokens, start: int, end: int) -> None:
        """Read ``tokens[start:end]`` (never a single token: the caller keeps ``end - start``
        at 0 or at least 2) in batches of at least two."""
        size = self._llama.n_batch
        at = start
        while at < end:
            n = min(size, end - at)
            if end - at - n == 1:
                n -= 1  # the last batch gets two tokens, not one
            self._llama.eval(tokens[at : at + n].tolist())
            at += n

    def _read_prompt(self, tokens: Tokens, *, leave: int = 2) -> int:
        """Read all of ``tokens`` but the last ``leave``, reusing what the context holds (for
        a generation, llama reads the last two as one batch). Returns how many were reused."""
        end = max(len(tokens) - leave, 0)
        held = as_tokens(self._llama.input_ids[: self._llama.n_tokens])
        reused = min(common_prefix(held, tokens), end)
        if end - reused == 1:
            reused -= 1
        self._llama.n_tokens = reused
        self._feed(tokens, reused, end)
        return reused

    def _settle(self, prompt_tokens: int, *, reread: bool) -> None:
        """Make every position the context holds a batched read: the reply's tokens, read
        one by one while generating, are read again as one batch, or dropped when the reply
        was cancelled or another generation waits (it would wait for this)."""
        n = self._llama.n_tokens
        if n <= prompt_tokens or prompt_tokens == 0:
            return
        self._llama.n_tokens = prompt_tokens
        if not reread or n - prompt_tokens < 2 or self._waiting > 0:
            return
        try:
            self._feed(as_tokens(self._llama.input_ids[:n]), prompt_tokens, n)
        except (ValueError, RuntimeError) as exc:
            log.warning("could not re-read a reply: %s", exc)
            self._llama.n_tokens = prompt_tokens

    # -- saved states (called on the worker thread) --------------------------------

    def _restore(self, prompt: Prompt, tokens: Tokens) -> None:
        """Make the context hold the longest known beginning of ``tokens``: what it holds
        already, a kept state, or the persona's state (from disk, or evaluated and kept)."""
        cache = self.state_cache
        assert cache is not None
        live = common_prefix(as_tokens(self._llama.input_ids[: self._llama.n_tokens]), tokens)
        kept, kept_n = cache.best(tokens)
        persona = self.persona_tokens(prompt, tokens)
        need = len(persona) if persona is not None else 0
        if live >= max(need, kept_n):
            if persona is not None:
                cache.stats.hits["context"] += 1
            return
        if kept is not None and kept_n >= need and self._load(kept):
            cache.stats.hits["memory"] += 1
            return
        if persona is None:
            return
        found = cache.get(persona)
        if found is not None and self._load(found):
            cache.stats.hits["disk"] += 1
            return
        cache.stats.misses += 1
        self._evaluate_persona(persona)

    def _evaluate_persona(self, persona: Tokens) -> None:
        assert self.state_cache is not None
        self._llama.n_tokens = 0  # evaluated from the first token: the context is cleared
        self._feed(persona, 0, len(persona))
        self.state_cache.put(self._save(persona, persona=True))

    def _save(self, tokens: Tokens, *, persona: bool = False) -> SavedState:
        ctx = self._llama._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(ctx, buffer, size)
        return SavedState(tokens.copy(), ctypes.string_at(buffer, written), persona=persona)

    def _load(self, state: SavedState) -> bool:
        ctx = self._llama._ctx.ctx
        buffer = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
        if llama_cpp.llama_state_set_data(ctx, buffer, len(state.data)) != len(state.data):
            log.warning("llama.cpp refused a saved state; the prompt is evaluated instead")
            self._llama.n_tokens = 0  # the next evaluation clears the context from token 0
            return False
        n = len(state.tokens)
        self._llama.input_ids[:n] = state.tokens
        self._llama.n_tokens = n
        return True

    def _keep_session(self) -> None:
        assert self.state_cache is not None
        n = self._llama.n_tokens
        if n < MIN_PERSONA_TOKENS:
            return
        try:
            tokens = as_tokens(self._llama.input_ids[:n])
            self.state_cache.put(self._save(tokens))
        except (ValueError, RuntimeError, MemoryError) as exc:
            log.warning("could not keep the model state of a conversation: %s", exc)

    async def prepare(self, prompt: Prompt) -> bool:
        """Compute and keep the persona state of ``prompt``'s character (at deploy time, so
        the first player does not wait for it). False when there is nothing to keep."""
        if self.state_cache is None:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._prepare, prompt)

    def _prepare(self, prompt: Prompt) -> bool:
        assert self.state_cache is not None
        tokens = as_tokens(self.tokens(prompt))
        persona = self.persona_tokens(prompt, tokens)
        if persona is None:
            return False
        if self.state_cache.get(persona) is None:
            self._evaluate_persona(persona)
        return True

    async def warm(self, prompt: Prompt) -> bool:
        """Evaluate and keep (in memory) the state of ``prompt``'s opening: the persona with
        the player named, the introduction and the author's example dialog. Runs only when no
        generation waits, so it uses idle time and never delays a turn by more than itself."""
        if self.state_cache is None or self._waiting > 0:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._warm, prompt)

    def _warm(self, prompt: Prompt) -> bool:
        assert self.state_cache is not None
        if self._waiting > 0:
            return False  # a turn came in meanwhile: it goes first
        # The opening is what the prompt rendered with no conversation shares with it
        # rendered with one line: up to where the first line of the conversation starts.
        opening = dataclasses.replace(prompt, messages=(), note="")
        talking = dataclasses.replace(opening, messages=(Message("user", prompt.player_name, "."),))
        bare = as_tokens(self.tokens(opening))
        tokens = bare[: common_prefix(bare, as_tokens(self.tokens(talking)))]
        if len(tokens) < MIN_PERSONA_TOKENS:
            return False
        kept, n = self.state_cache.best(tokens)
        if kept is not None and n >= len(tokens):
            return True  # warm already
        self._restore(opening, tokens)
        self._read_prompt(tokens, leave=0)
        self._keep_session()
        return True

    async def idle(self) -> None:
        """Wait until every generation started so far has ended."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Wait for the running generation (if any) to stop, then free the model."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        close = getattr(self._llama, "close", None)
        if close is not None:
            close()


def model_identity(path: Path, context_tokens: int) -> str:
    """What a saved state depends on besides its tokens: the model file, the runtime and the
    context size. Another model or version of llama.cpp never reads a state it did not write."""
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}:{llama_cpp.__version__}:{context_tokens}"


def _log_crash(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("llama worker crashed", exc_info=future.exception())
