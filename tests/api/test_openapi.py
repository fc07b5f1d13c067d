"""The served /openapi.json describes what the server answers: schemathesis reads it unpatched,
generates requests for every operation (valid and invalid ones), and checks each answer
against it: no 5xx, only documented status codes, bodies and content types as documented."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from anima.app import create_app
from anima.domain.credentials import Scope, new_key_pair
from anima.settings import Settings
from anima.store import Store

EXAMPLES = 15  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _document(tmp_path: Path) -> dict[str, Any]:
    app = create_app(Settings(data_dir=tmp_path, llm_backend="scripted", embed_backend="hashing"))
    return app.openapi()


def test_every_path_parameter_is_declared_and_422_is_never_documented(tmp_path: Path) -> None:
    document = _document(tmp_path)
    for path, operations in document["paths"].items():
        names = set(re.findall(r"\{(\w+)", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert {"200", "400", "404", "default"} <= set(responses), (method, path)
            schema = responses["200"]["content"]["application/json"]["schema"]
            assert "$ref" in schema, (method, path)


def test_the_document_loads_in_schemathesis_unpatched(tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_dict(_document(tmp_path))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 36


def _prepare(settings_: Settings) -> str:
    """A key for workspace ws1, made before the app starts; the Basic header value."""

    async def make() -> str:
        async with Store.opened(settings_) as store:
            await store.keys.ensure_workspace("ws1")
            pair = new_key_pair()
            await store.keys.add("ws1", Scope.ALL, pair)
            return f"Basic {pair.basic}"

    return asyncio.run(make())


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_violation(tmp_path: Path) -> None:
    app_settings = Settings(data_dir=tmp_path, llm_backend="scripted", embed_backend="hashing")
    auth = {"Authorization": _prepare(app_settings)}
    app = create_app(app_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    pick = random.Random(13)
    stats: Counter[str] = Counter()
    failures: list[str] = []

    with schemathesis.python.asgi.get_client(app) as client:
        tony = client.post(
            "/studio/v1/workspaces/ws1/characters",
            json={"defaultCharacterDescription": {"givenName": "Tony"}},
            headers=auth,
        )
        assert tony.status_code == 200, tony.text
        client.post("/studio/v1/workspaces/ws1/characters/tony:deploy", headers=auth)
        known = {"ws": "ws1", "c": "tony", "character": "tony"}

        def exercise(case: Any) -> None:
            for name, value in known.items():  # mostly a real resource, sometimes a random one
                if name in (case.path_parameters or {}) and pick.random() < 0.8:
                    case.path_parameters[name] = value
            response = case.call(session=client, headers=auth)
            stats["requests"] += 1
            stats["5xx"] += response.status_code >= 500
            stats[f"status {response.status_code}"] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=auth)
            except Exception as exc:  # schemathesis raises its failures as one group
                stats["violations"] += 1
                failures.append(f"{case.method} {case.path} -> {response.status_code}: {exc}")

        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(given(case=operation.as_strategy(generation_mode=mode))(exercise))
                try:
                    run()
                except Unsatisfiable:  # nothing of this operation can be made invalid
                    assert mode is GenerationMode.NEGATIVE
    schemathesis.python.asgi.shutdown_lifespans()
    print(sorted(stats.items()))
    print(
        f"schemathesis: {stats['requests']} requests, {stats['5xx']} answered 5xx, "
        f"{stats['violations']} schema violations"
    )
    assert failures == [], "\n".join(failures[:20])
    assert stats["requests"] >= 500


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    r = await client.put("/studio/v1/workspaces/ws1/characters/tony")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, PATCH, DELETE"
    assert r.json()["error"]["code"] == 405
    r = await client.put("/studio/v1/workspaces/ws1/scenes")
    assert r.headers["allow"] == "GET, POST"
