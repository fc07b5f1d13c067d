"""Studio API shapes that are not a resource itself: Operations and list pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anima.domain.operation import Operation

DEPLOY_METADATA_TYPE = "type.googleapis.com/anima.studio.v1.DeployMetadata"


def timestamp(epoch: float) -> str:
    """RFC 3339 in UTC with a ``Z``, as proto3 JSON writes a Timestamp."""
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def operation_json(op: Operation) -> dict[str, Any]:
    """A google.longrunning.Operation: ``done`` with a ``response`` or an ``error``."""
    body: dict[str, Any] = {
        "name": op.name,
        "metadata": {
            "@type": DEPLOY_METADATA_TYPE,
            "resource": op.resource,
            "version": op.version,
            "state": op.state.name,
            "createTime": timestamp(op.created_at),
            "updateTime": timestamp(op.updated_at),
        },
        "done": op.done,
    }
    if op.error is not None:
        body["error"] = {
            "code": op.error.code,
            "message": op.error.message,
            "details": op.error.details,
        }
    elif op.response is not None:
        body["response"] = op.response
    return body
