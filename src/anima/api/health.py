"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from anima.api.checked import CheckedRoute
from anima.api.deps import StateDep
from anima.wire.errors import error_body
from anima.wire.schemas import UNAUTHENTICATED_ERRORS, Health, ok

router = APIRouter(tags=["health"], route_class=CheckedRoute, responses=UNAUTHENTICATED_ERRORS)


@router.get("/healthz", summary="The process is up", **ok(Health))
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The store is reachable and fully migrated", **ok(Health))
async def readyz(state: StateDep) -> JSONResponse:
    ok, reason = await state.store.ready()
    if ok:
        return JSONResponse({"status": "ready"})
    return JSONResponse(error_body(503, "UNAVAILABLE", reason), status_code=503)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
