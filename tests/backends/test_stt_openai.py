"""The OpenAI-compatible speech recognition client against a scripted in-process server.

The server is an httpx ``MockTransport`` handler that parses the multipart form with the
standard library's MIME parser (as a real server must) and answers what each test scripts: a
transcript, a refused key, a failure, a slow answer, something that is not JSON. What is tested
is the client's logic: the request it makes and what it does with each answer."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import io
import json
import wave
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest

from anima.backends.stt_openai import OpenAISTT
from anima.backends.stt_registry import create_stt
from anima.domain import inputs as di
from anima.domain.audio_session import AudioLimits
from anima.errors import BackendError
from anima.pipeline.hearing import Ears, Hearing
from anima.settings import Settings
from tests.pipeline.test_hearing import IDS, LoudnessDetectors, Recorder, _until, quiet, tone


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    delay_s: float = 0.0


def said(text: str) -> Answer:
    return Answer(200, json.dumps({"text": text}).encode())


def form_of(request: httpx.Request) -> dict[str, Any]:
    """The multipart form of a request: its fields, and the file's name, type and bytes."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert message.get_content_type() == "multipart/form-data"
    form: dict[str, Any] = {"fields": {}}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if part.get_filename() is None:
            form["fields"][name] = payload.decode()
        else:
            form[name] = payload
            form["filename"] = part.get_filename()
            form["content_type"] = part.get_content_type()
    return form


@dataclass
class Server:
    """Records each request's form; answers with the next scripted answer."""

    answers: list[Answer]
    forms: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/v1/audio/transcriptions")
        self.forms.append(
            {**form_of(request), "authorization": request.headers.get("authorization")}
        )
        answer = self.answers.pop(0)
        await asyncio.sleep(answer.delay_s)
        return httpx.Response(answer.status, content=answer.body)

    def client(self, **kw: Any) -> OpenAISTT:
        transport = httpx.MockTransport(self.handle)
        return OpenAISTT("http://stt.test/v1/", transport=transport, timeout_s=2, **kw)


def speech(seconds: float) -> bytes:
    t = np.arange(int(seconds * 16_000)) / 16_000
    return bytes((np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes())


async def test_the_utterance_goes_up_as_a_wav_file_in_a_multipart_form() -> None:
    server = Server([said(" Hello  there. ")])
    stt = server.client(api_key="sk-test", model="whisper-large-v3", language="en")
    pcm = speech(0.6)

    async def chunks() -> AsyncGenerator[bytes, None]:
        for i in range(0, len(pcm), 6400):
            yield pcm[i : i + 6400]

    hypotheses = [h async for h in stt.stream(chunks())]
    await stt.aclose()
    assert [(h.text, h.final) for h in hypotheses] == [("Hello there.", True)]
    (sent,) = server.forms
    assert sent["fields"] == {
        "model": "whisper-large-v3",
        "response_format": "json",
        "language": "en",
    }
    assert sent["authorization"] == "Bearer sk-test"
    assert (sent["filename"], sent["content_type"]) == ("speech.wav", "audio/wav")
    with wave.open(io.BytesIO(sent["file"])) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
        assert w.readframes(w.getnframes()) == pcm  # every chunk, in order, unchanged
    assert stt.last_metrics is not None
    assert stt.last_metrics.audio_seconds == pytest.approx(0.6)
    assert stt.last_metrics.final_after_s is not None


async def test_without_a_key_or_language_none_is_sent() -> None:
    server = Server([said("hi")])
    stt = server.client(language="")
    assert await stt.transcribe(speech(0.2)) == "hi"
    (sent,) = server.forms
    assert sent["authorization"] is None
    assert "language" not in sent["fields"]


async def test_no_audio_is_an_empty_transcript_without_a_request() -> None:
    server = Server([])
    stt = server.client()
    assert await stt.transcribe(b"") == ""
    assert server.forms == []


@pytest.mark.parametrize(
    ("status", "body", "match", "retryable"),
    [
        (401, b"invalid api key", r"refused the API key \(401", False),
        (403, b"forbidden", r"refused the API key \(403", False),
        (404, b"no such model", "answered 404: no such model", False),
        (429, b"slow down", "answered 429: slow down", True),
        (500, b"out of memory", "answered 500: out of memory", True),
        (200, b"<html>bad gateway", "did not answer JSON", False),
        (200, b'{"text": "cut off', "did not answer JSON", False),
        (200, b'{"error": "oops"}', "without a 'text' string", False),
        (200, b'["a", "list"]', "without a 'text' string", False),
        (200, b'{"text": 42}', "without a 'text' string", False),
    ],
)
async def test_what_the_server_got_wrong_is_a_clear_backend_error(
    status: int, body: bytes, match: str, retryable: bool
) -> None:
    stt = Server([Answer(status, body)]).client()
    with pytest.raises(BackendError, match=match) as caught:
        await stt.transcribe(speech(0.2))
    assert caught.value.retryable is retryable
    assert "stt.test" in caught.value.message  # names the server
    assert stt.last_metrics is not None
    assert stt.last_metrics.error


async def test_a_server_slower_than_the_deadline_is_a_retryable_error() -> None:
    stt = Server([Answer(200, b'{"text": "late"}', delay_s=5)]).client()
    stt.timeout_s = 0.2
    with pytest.raises(BackendError, match=r"no transcript 0\.2 s after the audio ended") as caught:
        await stt.transcribe(speech(0.2))
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("failure", "match"),
    [
        (httpx.ReadTimeout("read timed out"), "timed out"),
        (httpx.ConnectError("connection refused"), "unreachable: connection refused"),
    ],
)
async def test_transport_failures_are_retryable(failure: httpx.HTTPError, match: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    stt = OpenAISTT("http://stt.test/v1", transport=httpx.MockTransport(fail))
    with pytest.raises(BackendError, match=match) as caught:
        await stt.transcribe(speech(0.2))
    assert caught.value.retryable


def test_the_registry_builds_it_from_the_settings() -> None:
    stt = create_stt(
        Settings(
            stt_backend="openai",
            stt_openai_base_url="http://gpu.example:9000/v1",
            stt_openai_model="large-v3",
            stt_openai_api_key="sk-x",
            stt_language="de",
            stt_timeout_seconds=7,
        )
    )
    assert isinstance(stt, OpenAISTT)
    assert (stt.model, stt.language, stt.timeout_s) == ("large-v3", "de", 7)
    assert not stt.streaming
    assert "sk-x" not in str(Settings(stt_openai_api_key="sk-x").redacted())


async def test_a_failing_server_is_a_notice_and_the_open_mic_goes_on() -> None:
    server = Server([Answer(500, b"out of memory"), said("Second try.")])
    recorder = Recorder()
    ears = Ears(server.client(), LoudnessDetectors(), AudioLimits(silence_ms=300))
    hearing = Hearing(ears, recorder)
    await hearing.receive(di.AudioSessionStarted(push_to_talk=False, ids=IDS))
    pcm = tone(0.5) + quiet(0.5) + tone(0.5) + quiet(0.5)
    for i in range(0, len(pcm), 6400):
        await hearing.receive(di.AudioReceived(pcm[i : i + 6400], IDS))
    await _until(lambda: bool(recorder.turns))
    assert "answered 500: out of memory" in recorder.notices[0]
    assert [h.text for h in recorder.turns] == ["Second try."]
    await hearing.receive(di.AudioSessionEnded(IDS))
    for task in hearing.stop():
        task.cancel()
