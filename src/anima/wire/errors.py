"""The Google-API error body every REST failure carries."""

from __future__ import annotations

from typing import Any

from anima.errors import AnimaError


def error_body(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "status": status, "message": message, "details": details or []}}


def error_from_exception(exc: AnimaError) -> dict[str, Any]:
    details = list(exc.details)
    if exc.field is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": exc.field, "description": exc.message}],
            }
        )
    if exc.retryable:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"})
    return error_body(exc.http_status, exc.status, exc.message, details)
