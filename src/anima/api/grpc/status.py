"""Errors on the gRPC face: one mapping from the ``AnimaError`` tree to a gRPC status.

Every call ends in error the same way: the status code the error class carries
(``AnimaError.grpc_code``), its message as the details, and ``grpc-status-details-bin`` in the
trailers, a serialised ``google.rpc.Status`` whose details are the ``InworldStatus`` of the
error (spec streaming-protocol.md §4.4; the node SDK reads it in ``onError``). Anything that
is not an ``AnimaError`` is a bug: it is logged with its stack and answered ``INTERNAL``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import Message
from grpc import aio

from anima.errors import AnimaError, Internal
from anima.wire.packets import status_proto
from anima.wire.text import check_message

log = logging.getLogger("anima.grpc")

STATUS_DETAILS_KEY = "grpc-status-details-bin"
_CODES: Mapping[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}

Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Any, Request, aio.ServicerContext], Awaitable[Response]]


def status_code(exc: AnimaError) -> grpc.StatusCode:
    return _CODES.get(exc.grpc_code, grpc.StatusCode.INTERNAL)


def trailers(exc: AnimaError) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata carrying ``exc`` as a ``google.rpc.Status``."""
    return ((STATUS_DETAILS_KEY, status_proto(exc).SerializeToString()),)


async def abort(context: aio.ServicerContext, exc: AnimaError) -> NoReturn:
    """End the call with ``exc``'s status (raises, as ``context.abort`` does)."""
    await context.abort(status_code(exc), exc.message, trailing_metadata=trailers(exc))
    raise AssertionError("context.abort returned")  # pragma: no cover


def as_anima_error(exc: BaseException, method: str) -> AnimaError:
    """``exc`` itself when it is ours, else a logged INTERNAL."""
    if isinstance(exc, AnimaError):
        return exc
    log.error("unexpected error in %s", method, exc_info=exc)
    return Internal("internal error; the server logged the details")


def unary(method: str) -> Callable[[Handler[Request, Response]], Handler[Request, Response]]:
    """Decorate a unary method: its request's text is checked (``wire.text``), and errors
    leave through ``abort`` with their status and trailer."""

    def decorate(handler: Handler[Request, Response]) -> Handler[Request, Response]:
        @wraps(handler)
        async def call(self: Any, request: Request, context: aio.ServicerContext) -> Response:
            try:
                if isinstance(request, Message):
                    check_message(request)
                return await handler(self, request, context)
            except aio.AbortError:
                raise
            except Exception as exc:
                await abort(context, as_anima_error(exc, method))

        return call

    return decorate
