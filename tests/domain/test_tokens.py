"""IW1-HMAC-SHA256 key signatures and session tokens (anima.domain.tokens)."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest

from anima.domain import tokens
from anima.errors import Unauthenticated

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
METHOD = "ai.inworld.engine.WorldEngine/GenerateToken"
# Computed once with the algorithm of spec §2.1 (and checked against the node SDK's own
# KeySignature.getSignatureKey by tests/conformance/test_key_signature.py).
VECTORS = [
    (
        "test-secret",
        "20250101120000",
        "localhost:50051",
        "0123456789a",
        "93e088eabb7ad3a4bf021f026d1cc04432e3d6f94549990da8bb1400a77eb968",
    ),
    (
        "test-secret",
        "20250101120000",
        "api-engine.inworld.ai:443",  # ":443" is dropped before signing
        "0123456789a",
        "9a022ab9f43888ae698c5e6e126333c529f353b466faba0fa740eef8a4977fcf",
    ),
]


def spec_reference(secret: str, dt: str, host: str, nonce: str) -> str:
    """The spec's snippet, verbatim."""
    k = ("IW1" + secret).encode()
    for part in (dt, host.replace(":443", ""), METHOD, nonce):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"iw1_request", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("secret", "dt", "host", "nonce", "expected"), VECTORS)
def test_signature_test_vectors(secret: str, dt: str, host: str, nonce: str, expected: str) -> None:
    assert tokens.compute_signature(secret, dt, host, nonce) == expected
    assert spec_reference(secret, dt, host, nonce) == expected


def test_signature_depends_on_every_part() -> None:
    base = tokens.compute_signature("s", "20250101120000", "h:1", "abcdefabcde")
    assert tokens.compute_signature("t", "20250101120000", "h:1", "abcdefabcde") != base
    assert tokens.compute_signature("s", "20250101120001", "h:1", "abcdefabcde") != base
    assert tokens.compute_signature("s", "20250101120000", "h:2", "abcdefabcde") != base
    assert tokens.compute_signature("s", "20250101120000", "h:1", "abcdefabcdf") != base
    assert tokens.compute_signature("s", "20250101120000", "h:1", "abcdefabcde", "x/Y") != base


def test_header_round_trip() -> None:
    header = tokens.sign_request("key1", "sec", "localhost:50051", now=NOW, nonce="0a1b2c3d4e5")
    assert header == (
        "IW1-HMAC-SHA256 ApiKey=key1,DateTime=20250101120000,Nonce=0a1b2c3d4e5,"
        f"Signature={tokens.compute_signature('sec', '20250101120000', 'localhost:50051', '0a1b2c3d4e5')}"
    )
    parsed = tokens.parse_key_signature(header)
    assert parsed is not None
    assert (parsed.api_key, parsed.date_time, parsed.nonce) == (
        "key1",
        "20250101120000",
        "0a1b2c3d4e5",
    )
    assert parsed.signed_at == NOW
    assert tokens.is_key_signature(header)
    assert tokens.signature_matches(parsed, "sec", ["elsewhere:1", "localhost:50051"])
    assert not tokens.signature_matches(parsed, "sec", ["elsewhere:1"])
    assert not tokens.signature_matches(parsed, "wrong", ["localhost:50051"])


def test_client_on_port_443_signs_the_bare_host() -> None:
    header = tokens.sign_request("k", "s", "anima.example.com:443", now=NOW, nonce="0123456789a")
    parsed = tokens.parse_key_signature(header)
    assert parsed is not None
    assert tokens.signature_matches(parsed, "s", ["anima.example.com"])


@pytest.mark.parametrize(
    "header",
    [
        "Basic abc",
        "IW1-HMAC-SHA256",
        "IW1-HMAC-SHA256 ApiKey=k,DateTime=2025010112000,Nonce=0123456789a,Signature=" + "a" * 64,
        "IW1-HMAC-SHA256 ApiKey=k,DateTime=20250101120000,Nonce=short,Signature=" + "a" * 64,
        "IW1-HMAC-SHA256 ApiKey=k,DateTime=20250101120000,Nonce=0123456789a,Signature=" + "a" * 63,
        "IW1-HMAC-SHA256 ApiKey=k,DateTime=20251301120000,Nonce=0123456789a,Signature=" + "a" * 64,
        "IW1-HMAC-SHA256 ApiKey=,DateTime=20250101120000,Nonce=0123456789a,Signature=" + "a" * 64,
    ],
)
def test_malformed_headers_are_not_signatures(header: str) -> None:
    assert tokens.parse_key_signature(header) is None


@pytest.mark.parametrize("offset", [0, 299, -299])
def test_fresh_signatures_pass(offset: int) -> None:
    parsed = tokens.parse_key_signature(
        tokens.sign_request("k", "s", "h", now=NOW, nonce="0123456789a")
    )
    assert parsed is not None
    tokens.check_freshness(parsed, NOW + timedelta(seconds=offset), timedelta(seconds=300))


@pytest.mark.parametrize("offset", [301, -301, 86400])
def test_stale_or_future_signatures_fail(offset: int) -> None:
    parsed = tokens.parse_key_signature(
        tokens.sign_request("k", "s", "h", now=NOW, nonce="0123456789a")
    )
    assert parsed is not None
    with pytest.raises(Unauthenticated, match="server clock"):
        tokens.check_freshness(parsed, NOW + timedelta(seconds=offset), timedelta(seconds=300))


# -- session tokens ------------------------------------------------------------------------------

KEY = b"k" * 32


def claims(**overrides: object) -> tokens.SessionClaims:
    values: dict[str, object] = {
        "workspace": "test-ws",
        "session_id": "test-ws:0b7c5f0e-8d0e-4a44-9f4e-5e1f7c1d2a3b",
        "api_key": "AbCdEf0123",
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(overrides)
    return tokens.SessionClaims(**values)  # type: ignore[arg-type]


def test_session_token_round_trip_and_charset() -> None:
    token = tokens.issue_session_token(claims(), KEY)
    # A valid RFC 6455 subprotocol token (spec §2.2).
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", token)
    assert tokens.read_session_token(token, KEY) == claims()


def test_session_token_rejects_tampering_and_other_keys() -> None:
    token = tokens.issue_session_token(claims(), KEY)
    other = tokens.issue_session_token(claims(workspace="other"), KEY)
    version, _, mac = token.split(".")
    forged = f"{version}.{other.split('.')[1]}.{mac}"  # another payload under this MAC
    with pytest.raises(Unauthenticated, match="signature"):
        tokens.read_session_token(forged, KEY)
    with pytest.raises(Unauthenticated, match="signature"):
        tokens.read_session_token(token, b"x" * 32)
    for bad in ("", "v1.abc", "v2." + token[3:], token + "x", "Bearer " + token):
        with pytest.raises(Unauthenticated):
            tokens.read_session_token(bad, KEY)


def test_expiry_and_workspace_binding() -> None:
    c = claims()
    assert not c.expired(NOW)
    assert c.expired(NOW + timedelta(hours=1))
    assert c.allows_session("test-ws:another-session")
    assert not c.allows_session("other-ws:0b7c5f0e")
    assert not c.allows_session("test-ws")
    assert not c.allows_session("test-ws:")


def test_new_session_ids_carry_the_workspace() -> None:
    sid = tokens.new_session_id("test-ws")
    assert re.fullmatch(r"test-ws:[0-9a-f-]{36}", sid)
    assert tokens.session_workspace(sid) == "test-ws"
    assert tokens.new_session_id("test-ws") != sid
