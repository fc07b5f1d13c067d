"""The gRPC server's lifecycle: built, bound and started in the app's lifespan, on its loop.

``serving(state)`` runs the face beside the HTTP server in the same process and event loop,
over the same ``AppState`` (engine, store, token service), so a session opened on one face is
continued on the other. It binds ``settings.host:settings.grpc_port`` (plaintext h2c, or TLS
when ``tls_cert_file``/``tls_key_file`` are set) and yields the bound port (useful with port 0
in tests). With several workers each binds the same port with SO_REUSEPORT; with one, a port
already in use is an error at start-up.

The method table is written out here rather than taken from the generated ``*_grpc`` modules:
the full method paths are the wire contract (spec streaming-protocol.md §1.2; the older
protocol's LoadScene, Session and GenerateSessionToken in legacy.py). Every call passes
through ``Observed`` (observed.py): metrics per method, and unknown methods (LogError...)
logged and counted before they are answered UNIMPLEMENTED.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError
from grpc import aio

from anima.api.deps import AppState
from anima.api.grpc.calls import Calls
from anima.api.grpc.legacy import LegacyCalls, legacy_handlers
from anima.api.grpc.observed import GrpcMetrics, Observed
from anima.api.grpc.status import abort
from anima.api.grpc.stream import OpenSession
from anima.errors import FailedPrecondition, InvalidArgument
from anima.pipeline.stream import Malformed
from anima.settings import Settings
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.engine.v1 import feedback_pb2 as fb
from anima.wire.pb.ai.inworld.engine.v1 import state_serialization_pb2 as ss
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb

log = logging.getLogger("anima.grpc")

STOP_GRACE_SECONDS = 5.0


def _decoder(message: Any) -> Callable[[bytes], Any]:
    """``message.FromString`` that never raises: what protobuf cannot decode (corrupt bytes,
    or messages nested deeper than its limit of 100) becomes ``Malformed``, answered by the
    call (INVALID_ARGUMENT, or a WARNING on the session stream) instead of grpc's UNKNOWN."""

    def decode(data: bytes) -> Any:
        try:
            return message.FromString(data)
        except DecodeError as exc:
            if "MaxDepth" in str(exc):
                return Malformed("the message nests too deeply")
            return Malformed(f"the message could not be decoded: {exc}")

    return decode


def _unary(handler: Callable[..., Any], request: Any, response: Any) -> Any:
    async def decoded(message: Any, context: aio.ServicerContext) -> Any:
        if isinstance(message, Malformed):
            await abort(context, InvalidArgument(message.reason))
        return await handler(message, context)

    return grpc.unary_unary_rpc_method_handler(
        decoded,
        request_deserializer=_decoder(request),
        response_serializer=response.SerializeToString,
    )


def _packets(handler: Callable[..., Any]) -> Any:
    return grpc.stream_stream_rpc_method_handler(
        handler,
        request_deserializer=_decoder(pb.InworldPacket),
        response_serializer=pb.InworldPacket.SerializeToString,
    )


def _handlers(state: AppState, port: int, open_session: OpenSession) -> dict[str, dict[str, Any]]:
    """Service name -> method name -> handler: everything the face answers."""
    calls = Calls(state, port)
    handlers = {
        "ai.inworld.engine.WorldEngine": {
            "OpenSession": _packets(open_session.handle),
            "GenerateToken": _unary(calls.generate_token, we.GenerateTokenRequest, we.AccessToken),
        },
        "ai.inworld.engine.v1.StateSerialization": {
            "GetSessionState": _unary(
                calls.get_session_state, ss.GetSessionStateRequest, ss.SessionState
            ),
        },
        "ai.inworld.engine.v1.Feedback": {
            "CreateInteractionFeedback": _unary(
                calls.create_feedback, fb.CreateInteractionFeedbackRequest, fb.InteractionFeedback
            ),
            "DeleteInteractionFeedback": _unary(
                calls.delete_feedback, fb.DeleteInteractionFeedbackRequest, empty_pb2.Empty
            ),
        },
    }
    older = legacy_handlers(LegacyCalls(state, calls, open_session), _unary, _packets)
    for service, methods in older.items():
        handlers.setdefault(service, {}).update(methods)
    return handlers


def _credentials(settings: Settings) -> Any | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    try:
        key = settings.tls_key_file.read_bytes()
        cert = settings.tls_cert_file.read_bytes()
    except OSError as exc:
        raise FailedPrecondition(f"cannot read the TLS certificate or key: {exc}") from exc
    return grpc.ssl_server_credentials([(key, cert)])


def build_server(state: AppState, port: int) -> tuple[aio.Server, int, OpenSession]:
    """A server with every handler added, bound to ``port`` (0: any free one), not started;
    its port and its OpenSession handler."""
    settings = state.settings
    server = aio.server(
        interceptors=[Observed(GrpcMetrics.of(state))],
        options=[
            ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
            ("grpc.max_receive_message_length", max(settings.max_body_bytes, 4 << 20)),
        ],
    )
    address = f"{_bind_host(settings.host)}:{port}"
    credentials = _credentials(settings)
    try:
        if credentials is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        bound, reason = 0, str(exc)
    else:
        reason = "bind failed"
    if not bound:
        raise FailedPrecondition(
            f"cannot serve gRPC on {address} ({reason}); is the port in use? "
            "Choose another with --grpc-port / ANIMA_GRPC_PORT, or 0 to turn the gRPC face off"
        )
    open_session = OpenSession(state)
    for service, methods in _handlers(state, bound, open_session).items():
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, methods),))
        server.add_registered_method_handlers(service, methods)
    return server, int(bound), open_session


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@asynccontextmanager
async def serving(state: AppState, *, port: int | None = None) -> AsyncIterator[int | None]:
    """Serve gRPC while the block runs; yields the bound port (None when turned off).

    ``port`` overrides ``settings.grpc_port``; there 0 means any free port, while a
    ``grpc_port`` of 0 in the settings turns the face off.
    """
    if port is None:
        port = state.settings.grpc_port
        if not port:
            yield None
            return
    server, port, open_session = build_server(state, port)
    await server.start()
    scheme = "TLS" if state.settings.tls_cert_file else "plaintext"
    log.info("gRPC face listening on %s:%d (%s)", state.settings.host, port, scheme)
    try:
        yield port
    finally:
        await open_session.shutdown()
        await server.stop(STOP_GRACE_SECONDS)
