"""Maps every failure to the error body of rest-api.md#errors, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from anima.errors import AnimaError
from anima.wire.errors import error_body, error_from_exception

log = logging.getLogger("anima.api")

_HTTP_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


def json_error(
    code: int, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    status = _HTTP_STATUS_NAMES.get(code, "UNKNOWN")
    return JSONResponse(error_body(code, status, message, details), status_code=code)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def describe_validation_errors(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    violations = []
    for err in errors:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            where = ctx.get("error", "")
            return f"malformed JSON body: {where}".rstrip(": "), []
        field = _field_path(tuple(err.get("loc", ())))
        violations.append({"field": field, "description": err.get("msg", "invalid value")})
    message = (
        "; ".join(f"{v['field']}: {v['description']}" for v in violations) or "invalid request"
    )
    details = [
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
    ]
    return message, details


def install(app: FastAPI) -> None:
    @app.exception_handler(AnimaError)
    async def _anima(request: Request, exc: AnimaError) -> JSONResponse:
        if exc.http_status >= 500:
            log.warning(
                "request failed: %s", exc, extra={"request_id": request.scope.get("request_id")}
            )
        return JSONResponse(error_from_exception(exc), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = describe_validation_errors(list(exc.errors()))
        return json_error(400, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        response = json_error(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this request's path (each route has one method, so
    the router's own 405 would name only the first route's)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed
