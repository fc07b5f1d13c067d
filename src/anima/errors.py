"""The one error tree of Anima.

Every failure the engine knows about is an ``AnimaError``. Each class carries the
Google API status it maps to on the wire (REST body, gRPC status, streaming error
packet); the faces translate it once, in one handler. Anything that is not an
``AnimaError`` is a bug and is answered as a logged ``500 INTERNAL``.

    AnimaError
    ├── InvalidArgument        400 INVALID_ARGUMENT
    ├── Unauthenticated        401 UNAUTHENTICATED
    ├── PermissionDenied       403 PERMISSION_DENIED
    ├── NotFound               404 NOT_FOUND
    ├── AlreadyExists          409 ALREADY_EXISTS
    ├── Aborted                409 ABORTED
    ├── FailedPrecondition     412 FAILED_PRECONDITION
    ├── PayloadTooLarge        413 RESOURCE_EXHAUSTED
    ├── ResourceExhausted      429 RESOURCE_EXHAUSTED
    ├── Internal               500 INTERNAL
    ├── Unavailable            503 UNAVAILABLE       (retryable)
    │   └── BackendError       503 UNAVAILABLE       (a model, TTS or STT backend failed)
    └── DeadlineExceeded       504 DEADLINE_EXCEEDED (retryable)
"""

from __future__ import annotations

from typing import Any, ClassVar


class AnimaError(Exception):
    """Base of every error Anima raises on purpose."""

    http_status: ClassVar[int] = 500
    status: ClassVar[str] = "INTERNAL"
    grpc_code: ClassVar[int] = 13
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = self.default_retryable if retryable is None else retryable
        self.field = field
        self.details = list(details or [])

    def __str__(self) -> str:
        return self.message


class InvalidArgument(AnimaError):
    http_status = 400
    status = "INVALID_ARGUMENT"
    grpc_code = 3


class Unauthenticated(AnimaError):
    http_status = 401
    status = "UNAUTHENTICATED"
    grpc_code = 16


class PermissionDenied(AnimaError):
    http_status = 403
    status = "PERMISSION_DENIED"
    grpc_code = 7


class NotFound(AnimaError):
    http_status = 404
    status = "NOT_FOUND"
    grpc_code = 5


class AlreadyExists(AnimaError):
    http_status = 409
    status = "ALREADY_EXISTS"
    grpc_code = 6


class Aborted(AnimaError):
    http_status = 409
    status = "ABORTED"
    grpc_code = 10
    default_retryable = True


class FailedPrecondition(AnimaError):
    http_status = 412
    status = "FAILED_PRECONDITION"
    grpc_code = 9


class PayloadTooLarge(AnimaError):
    http_status = 413
    status = "RESOURCE_EXHAUSTED"
    grpc_code = 8


class ResourceExhausted(AnimaError):
    http_status = 429
    status = "RESOURCE_EXHAUSTED"
    grpc_code = 8
    default_retryable = True


class Internal(AnimaError):
    http_status = 500
    status = "INTERNAL"
    grpc_code = 13


class Unavailable(AnimaError):
    http_status = 503
    status = "UNAVAILABLE"
    grpc_code = 14
    default_retryable = True


class BackendError(Unavailable):
    """A backend (LLM, embeddings, TTS, STT) failed. ``retryable`` says if trying again may help."""


class DeadlineExceeded(AnimaError):
    http_status = 504
    status = "DEADLINE_EXCEEDED"
    grpc_code = 4
    default_retryable = True
