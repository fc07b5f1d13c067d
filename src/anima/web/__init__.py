"""The web Studio: one page, served by ``anima serve`` at ``/studio``, to author, deploy, play
and inspect characters in the browser.

The page is static files (``static/``): it asks for an API key, keeps it in the tab's
``sessionStorage`` and calls the same public APIs as any client (Studio, engine REST, the
token service and the session WebSocket). The server gives it no other powers: nothing here
reads the store.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from anima.api.checked import CheckedRoute
from anima.errors import NotFound

router = APIRouter(include_in_schema=False, route_class=CheckedRoute)

_FILES = {
    "index.html": "text/html; charset=utf-8",
    "studio.js": "text/javascript; charset=utf-8",
    "play.js": "text/javascript; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
}
# The page loads nothing from elsewhere; it talks to this server only (the socket included).
_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
)


def _static(name: str) -> Response:
    media_type = _FILES.get(name)
    if media_type is None:
        raise NotFound(f"no such file of the web Studio: {name}")
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"},
    )


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/studio/")


@router.get("/studio")
async def studio_bare() -> RedirectResponse:
    return RedirectResponse("/studio/")


@router.get("/studio/")
async def studio_page() -> Response:
    return _static("index.html")


@router.get("/studio/{name}")
async def studio_file(name: str) -> Response:
    return _static(name)
