"""Every gRPC call counted, timed and, when it goes wrong, logged: one server interceptor.

    anima_grpc_requests_total{method, code}             calls by full method path and status
    anima_grpc_request_duration_seconds{method}         how long each took (a stream: its life)

A call to a method Anima does not serve would otherwise be answered UNIMPLEMENTED by grpcio
before any of our code ran, with nothing logged: here it reaches a handler that logs the
method and the client's user agent (an older SDK, say), counts it under its own path and then
answers UNIMPLEMENTED. A stream the client cancels is logged too (``CANCELLED`` in the
metrics). The metrics go to the app's registry, exported by ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio
from prometheus_client import CollectorRegistry, Counter, Histogram

from anima.api.deps import AppState

log = logging.getLogger("anima.grpc")

_EXTRA_KEY = "grpc_metrics"
_MAX_UNKNOWN = 100


class GrpcMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "anima_grpc_requests",
            "gRPC calls by method and status code",
            ["method", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "anima_grpc_request_duration_seconds",
            "gRPC call duration (streams: from open to end)",
            ["method"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600),
        )

    @classmethod
    def of(cls, state: AppState) -> GrpcMetrics:
        """The app's instance (a registry takes each metric name once)."""
        metrics = state.extras.get(_EXTRA_KEY)
        if not isinstance(metrics, GrpcMetrics):
            metrics = state.extras[_EXTRA_KEY] = GrpcMetrics(state.registry)
        return metrics

    def record(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        self.calls.labels(method, code.name).inc()
        self.latency.labels(method).observe(seconds)


def _code(context: aio.ServicerContext, failure: BaseException | None) -> grpc.StatusCode:
    if isinstance(failure, asyncio.CancelledError) or context.cancelled():
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):  # some grpcio versions keep the number
        return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    if failure is None or isinstance(failure, aio.AbortError):
        return grpc.StatusCode.OK
    return grpc.StatusCode.UNKNOWN


def _user_agent(context: aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "user-agent" and isinstance(value, str):
            return value
    return "unknown client"


Behavior = Callable[[Any, aio.ServicerContext], Awaitable[Any]]


class Observed(aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps every handler with the metrics; answers unknown methods itself."""

    def __init__(self, metrics: GrpcMetrics) -> None:
        self.metrics = metrics
        self._unknown_seen: set[str] = set()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = details.method
        handler = await continuation(details)
        if handler is None:
            return grpc.stream_stream_rpc_method_handler(self._unimplemented(method))
        if handler.request_streaming and handler.response_streaming:
            factory, behavior = grpc.stream_stream_rpc_method_handler, handler.stream_stream
        elif not (handler.request_streaming or handler.response_streaming):
            factory, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
        else:
            return handler  # a shape this face does not serve
        return factory(
            self._observed(method, behavior),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _observed(self, method: str, behavior: Behavior) -> Behavior:
        async def call(request: Any, context: aio.ServicerContext) -> Any:
            started = time.monotonic()
            failure: BaseException | None = None
            try:
                return await behavior(request, context)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                code = _code(context, failure)
                self.metrics.record(method, code, time.monotonic() - started)
                if code is grpc.StatusCode.CANCELLED:
                    log.info("gRPC %s from %s: cancelled by the client", method, context.peer())

        return call

    def _unknown(self, method: str) -> str:
        """The label of an unknown method: its path, for the first ``_MAX_UNKNOWN`` distinct
        ones (any client can send any path; the metric must stay bounded)."""
        label = method[:200]
        if label in self._unknown_seen or len(self._unknown_seen) < _MAX_UNKNOWN:
            self._unknown_seen.add(label)
            return label
        return "other"

    def _unimplemented(self, method: str) -> Behavior:
        async def call(requests: AsyncIterator[bytes], context: aio.ServicerContext) -> None:
            log.warning(
                "gRPC call to %s, which this server does not serve (answered UNIMPLEMENTED); "
                "client %s at %s",
                method,
                _user_agent(context),
                context.peer(),
            )
            self.metrics.record(self._unknown(method), grpc.StatusCode.UNIMPLEMENTED, 0.0)
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {method} is not served by Anima; see the README for the methods served",
            )

        return call
