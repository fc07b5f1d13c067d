"""Our IW1-HMAC-SHA256 verification against the signature the real node SDK computes."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from anima.domain import tokens
from anima.domain.credentials import Scope, new_key_pair
from anima.store import Store
from tests.conformance.conftest import run_harness
from tests.domain.test_tokens import VECTORS

pytestmark = pytest.mark.slow


def _sdk(request: dict[str, object]) -> dict[str, object]:
    (out,) = run_harness("key_signature.js", json.dumps(request))
    return out


def test_sdk_signs_generate_token_with_the_method_we_verify(node_sdks: Path) -> None:
    assert _sdk({})["method"] == tokens.GENERATE_TOKEN_METHOD


def test_signatures_match_the_sdk_byte_for_byte(node_sdks: Path) -> None:
    cases = [(secret, dt, host, nonce) for secret, dt, host, nonce, _ in VECTORS]
    for _ in range(8):
        cases.append(
            (
                secrets.token_urlsafe(48),
                tokens.format_date_time(datetime.now(UTC)),
                f"host-{secrets.token_hex(3)}.example:{secrets.choice(['443', '50051', '8000'])}",
                secrets.token_hex(16)[1:12],
            )
        )
    cases.append(("sécret ü ✓", "20250101120000", "localhost:50051", "0123456789a"))  # non-ASCII
    vectors = [{"secret": s, "dateTime": d, "host": h, "nonce": n} for s, d, h, n in cases]
    signatures = _sdk({"vectors": vectors})["signatures"]
    assert signatures == [tokens.compute_signature(s, d, h, n) for s, d, h, n in cases]
    assert signatures[: len(VECTORS)] == [v[-1] for v in VECTORS]


def test_a_header_the_sdk_sends_verifies(node_sdks: Path) -> None:
    header = _sdk({"header": {"host": "localhost:50051", "key": "key-1", "secret": "s3cret"}})[
        "header"
    ]
    assert isinstance(header, str)
    parsed = tokens.parse_key_signature(header)
    assert parsed is not None, header
    assert parsed.api_key == "key-1"
    assert len(parsed.nonce) == 11
    tokens.check_freshness(parsed, datetime.now(UTC), timedelta(minutes=5))
    assert tokens.signature_matches(parsed, "s3cret", ["localhost:50051"])
    assert not tokens.signature_matches(parsed, "s3cret", ["localhost:50052"])


async def test_the_token_endpoint_accepts_the_sdks_signature(
    node_sdks: Path, app: FastAPI, client: httpx.AsyncClient
) -> None:
    store: Store = app.state.anima.store
    await store.keys.ensure_workspace("test-ws")
    pair = new_key_pair()
    await store.keys.add("test-ws", Scope.RUNTIME, pair)
    # The node SDK signs for its configured engine host; localhost:<grpc port> is always accepted.
    header = _sdk({"header": {"host": "localhost:50051", "key": pair.key, "secret": pair.secret}})[
        "header"
    ]
    body = {"key": pair.key, "resources": ["workspaces/test-ws"]}
    r = await client.post(
        "/auth/v1/tokens/token:generate", json=body, headers={"authorization": str(header)}
    )
    assert r.status_code == 200, r.text
    assert r.json()["sessionId"].startswith("test-ws:")
    replay = await client.post(
        "/auth/v1/tokens/token:generate", json=body, headers={"authorization": str(header)}
    )
    assert replay.status_code == 401
