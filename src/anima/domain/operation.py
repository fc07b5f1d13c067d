"""Long-running operations (deploys): an explicit state machine that refuses illegal moves.

    PENDING ──claim──> RUNNING ──succeed──> SUCCEEDED
       ^                  │  └───fail────> FAILED
       └──lease expired───┘

An operation carries the snapshot it was asked to act on, so what it produces never depends
on edits made after the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from anima.domain.resource import ResourceKind, operation_name, resource_name
from anima.errors import AnimaError, FailedPrecondition

MAX_ATTEMPTS = 3


class OperationState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED)


_MOVES = {
    OperationState.PENDING: {OperationState.RUNNING, OperationState.FAILED},
    OperationState.RUNNING: {
        OperationState.PENDING,
        OperationState.RUNNING,
        OperationState.SUCCEEDED,
        OperationState.FAILED,
    },
    OperationState.SUCCEEDED: set(),
    OperationState.FAILED: set(),
}


def check_move(current: OperationState, target: OperationState) -> None:
    if target not in _MOVES[current]:
        raise FailedPrecondition(f"operation cannot move from {current} to {target}")


@dataclass(frozen=True, slots=True)
class OperationError:
    """A google.rpc.Status: gRPC code, message, details."""

    code: int
    status: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_exception(cls, exc: AnimaError) -> OperationError:
        details = list(exc.details)
        if exc.field:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": exc.field, "description": exc.message}],
                }
            )
        return cls(exc.grpc_code, exc.status, exc.message, details)


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    workspace: str
    kind: ResourceKind
    resource_id: str
    resource_uid: str  # which incarnation of the resource (a deleted one may come back)
    version: int
    state: OperationState
    snapshot: dict[str, Any]
    created_at: float
    updated_at: float
    attempts: int = 0
    error: OperationError | None = None
    response: dict[str, Any] | None = None

    @property
    def resource(self) -> str:
        return resource_name(self.workspace, self.kind, self.resource_id)

    @property
    def name(self) -> str:
        return operation_name(self.resource, self.id)

    @property
    def done(self) -> bool:
        return self.state.done
