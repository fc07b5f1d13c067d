"""ASGI middleware: request ids, one log line and metrics per request, body limits, and the
last line of defence that turns an unexpected exception into a logged 500 INTERNAL."""

from __future__ import annotations

import json
import logging
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anima.errors import PayloadTooLarge
from anima.wire.errors import error_body, error_from_exception

log = logging.getLogger("anima.access")
errlog = logging.getLogger("anima.api")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "anima_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "anima_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


async def _send_json(send: Send, status: int, body: dict[str, object], request_id: str) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Outermost middleware for HTTP requests."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope["request_id"] = request_id
        status = 500
        started = False
        too_large = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if too_large:
                # The app turned the aborted body read into a response of its own: answer 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    exc = _too_large(self.max_body_bytes)
                    status = exc.http_status
                    await _send_json(send, status, error_from_exception(exc), request_id)
                return
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _too_large(self.max_body_bytes)
            return message

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                exc = _too_large(self.max_body_bytes)
                status = exc.http_status
                await _send_json(send, status, error_from_exception(exc), request_id)
                return
            await self.app(scope, receive_wrapper, send_wrapper)
        except PayloadTooLarge as exc:
            if not started:
                status = exc.http_status
                await _send_json(send, status, error_from_exception(exc), request_id)
        except Exception:
            errlog.exception("unhandled error", extra={"request_id": request_id})
            if not started:
                status = 500
                await _send_json(
                    send,
                    500,
                    error_body(500, "INTERNAL", f"internal error; request id {request_id}"),
                    request_id,
                )
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route_path, str(status)).inc()
            self.metrics.latency.labels(method, route_path).observe(elapsed)
            log.info(
                "%s %s %d %.1fms",
                method,
                scope.get("path", ""),
                status,
                elapsed * 1000,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": scope.get("path", ""),
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 2),
                },
            )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body is larger than {limit} bytes; send less or raise ANIMA_MAX_BODY_BYTES"
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 128 and all(c.isalnum() or c in "-_." for c in text):
                return text
    return None
