"""The route class of every REST router: a request's text is checked before the route runs.

``CheckedRoute`` hands its endpoint a ``CheckedRequest``, whose JSON body is decoded by
``wire.text.loads`` (the decoding step the WebSocket face uses too), so a lone surrogate or a
NUL anywhere in the body, the path or the query string is a 400 naming the field before any
route code, and so before the store, sees it. FastAPI reads the body from the same request
object: it is decoded once. A new router (a REST proxy too) gets the same check by passing
``route_class=CheckedRoute``; ``tests/api/test_unstorable_text.py`` checks that every route
of the app has it.

Routes that answer errors in another shape (the web SDK's bare ``google.rpc.Status``) use a
subclass that overrides ``error_response``.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from anima.errors import AnimaError
from anima.wire import text

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class CheckedRequest(Request):
    """A request whose ``json()`` is decoded and checked by ``wire.text.loads``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = text.loads(await self.body())
        return self._json


def is_json(request: Request) -> bool:
    """Would FastAPI decode this request's body as JSON? (No content type counts as JSON.)"""
    content_type = request.headers.get("content-type")
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def check_request(request: CheckedRequest, *, has_body: bool) -> None:
    """Raise ``InvalidArgument`` for unstorable text in the path, the query or the body."""
    for name, value in request.path_params.items():
        if isinstance(value, str):
            text.check_text(value, name)
    for name, value in request.query_params.multi_items():
        text.check_text(name, f"{name} (a query parameter name)")
        text.check_text(value, name)
    if has_body and is_json(request) and await request.body():
        await request.json()


class CheckedRoute(APIRoute):
    """An ``APIRoute`` whose endpoint only ever sees checked text."""

    def error_response(self, exc: AnimaError) -> Response | None:
        """The answer to a refused request; ``None`` leaves it to the app's error handlers."""
        return None

    def get_route_handler(self) -> Endpoint:
        endpoint = super().get_route_handler()
        has_body = self.body_field is not None

        async def checked(request: Request) -> Response:
            checked_request = CheckedRequest(request.scope, request.receive)
            try:
                await check_request(checked_request, has_body=has_body)
            except AnimaError as exc:
                answer = self.error_response(exc)
                if answer is None:
                    raise
                return answer
            return await endpoint(checked_request)

        return checked
