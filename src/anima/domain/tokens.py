"""Streaming auth without I/O: IW1-HMAC-SHA256 key signatures and server-signed session tokens.

**Key signatures** (spec streaming-protocol.md §2.1). The node SDK never sends its secret; it
signs ``GenerateToken`` with a chain of HMAC-SHA256 keys::

    k = utf8("IW1" + secret)
    for part in (DateTime, host without ":443", method, Nonce): k = HMAC(k, part)
    Signature = hex(HMAC(k, "iw1_request"))

    authorization: IW1-HMAC-SHA256 ApiKey={key},DateTime={YYYYMMDDHHMMSS UTC},Nonce={11 hex},Signature={hex}

The server recomputes the chain from its copy of the secret (see ``store/sealing.py`` for how
that copy is kept), rejects a ``DateTime`` outside a window around its clock, and (in the store)
a nonce it has already seen for that key.

**Session tokens** are what ``GenerateToken`` hands out and what the WebSocket subprotocol,
the ``authorization: Bearer`` gRPC metadata and the REST state/feedback calls carry::

    v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(server key, "anima-session-token." + "v1." + claims))>

Only ``[A-Za-z0-9._-]`` characters, so the token is a valid WebSocket subprotocol (§2.2).
The claims bind the token to a workspace, the API key that asked for it, an expiry, and the
session id it was issued with. A token opens *any* session of its workspace, not only that id:
both SDKs keep their old session id when they refresh an expired token (§2.1), so the
session a refreshed token is used for is never the one it was minted with. Session ids are
``{workspace}:{uuid}``, so the workspace check is a prefix check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from anima.errors import Unauthenticated

IW1_SCHEME = "IW1-HMAC-SHA256"
GENERATE_TOKEN_METHOD = "ai.inworld.engine.WorldEngine/GenerateToken"
# What node SDK 0.9.x signs instead: the older token service of its studio host.
GENERATE_SESSION_TOKEN_METHOD = "ai.inworld.studio.v1alpha.Tokens/GenerateSessionToken"
TOKEN_TYPE = "Bearer"
_TOKEN_VERSION = "v1"
_TOKEN_CONTEXT = b"anima-session-token."
_DATETIME_FORMAT = "%Y%m%d%H%M%S"
_HEADER_RE = re.compile(
    r"^\s*IW1-HMAC-SHA256\s+ApiKey=(?P<key>[^,\s]{1,128}),\s*DateTime=(?P<dt>\d{14}),"
    r"\s*Nonce=(?P<nonce>[A-Za-z0-9]{8,64}),\s*Signature=(?P<sig>[0-9a-fA-F]{64})\s*$"
)
_TOKEN_RE = re.compile(r"^v1\.([A-Za-z0-9_-]{8,2048})\.([A-Za-z0-9_-]{43})$")


# -- IW1-HMAC-SHA256 key signatures -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeySignature:
    """A parsed ``authorization: IW1-HMAC-SHA256 ...`` header."""

    api_key: str
    date_time: str  # YYYYMMDDHHMMSS, UTC
    nonce: str
    signature: str  # lowercase hex

    @property
    def signed_at(self) -> datetime:
        return datetime.strptime(self.date_time, _DATETIME_FORMAT).replace(tzinfo=UTC)


def parse_key_signature(header: str) -> KeySignature | None:
    """The header's fields, or None when it is not an IW1-HMAC-SHA256 header."""
    match = _HEADER_RE.match(header)
    if match is None:
        return None
    parsed = KeySignature(match["key"], match["dt"], match["nonce"], match["sig"].lower())
    try:
        parsed.signed_at  # noqa: B018 - validates the calendar date
    except ValueError:
        return None
    return parsed


def is_key_signature(header: str) -> bool:
    return header.lstrip().startswith(IW1_SCHEME + " ")


def format_date_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime(_DATETIME_FORMAT)


def compute_signature(
    secret: str, date_time: str, host: str, nonce: str, method: str = GENERATE_TOKEN_METHOD
) -> str:
    """The client's signature, byte for byte (node SDK build/src/auth/key_signature.js)."""
    key = ("IW1" + secret).encode()
    for part in (date_time, host.replace(":443", ""), method, nonce):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, b"iw1_request", hashlib.sha256).hexdigest()


def sign_request(
    api_key: str,
    secret: str,
    host: str,
    *,
    now: datetime,
    nonce: str,
    method: str = GENERATE_TOKEN_METHOD,
) -> str:
    """The header value a client sends (for tools and tests; servers verify)."""
    date_time = format_date_time(now)
    signature = compute_signature(secret, date_time, host, nonce, method)
    return f"{IW1_SCHEME} ApiKey={api_key},DateTime={date_time},Nonce={nonce},Signature={signature}"


def check_freshness(signed: KeySignature, now: datetime, max_skew: timedelta) -> None:
    """Raise when the request was signed too far from ``now`` (either way: clocks drift)."""
    skew = abs(now - signed.signed_at)
    if skew > max_skew:
        raise Unauthenticated(
            f"the signature's DateTime {signed.date_time} is {int(skew.total_seconds())} s away "
            f"from the server clock (allowed: {int(max_skew.total_seconds())} s); check the clock"
        )


def signature_matches(
    signed: KeySignature, secret: str, hosts: Iterable[str], method: str = GENERATE_TOKEN_METHOD
) -> bool:
    """True when ``signed`` was made with ``secret`` for one of ``hosts`` (constant-time compare)."""
    found = False
    for host in dict.fromkeys(hosts):
        expected = compute_signature(secret, signed.date_time, host, signed.nonce, method)
        found |= hmac.compare_digest(expected, signed.signature)
    return found


# -- session tokens ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionClaims:
    workspace: str
    session_id: str  # the session the token was minted with ({workspace}:{uuid})
    api_key: str  # the key that asked for it (a revoked key's tokens stop working)
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def allows_session(self, session_id: str) -> bool:
        return session_workspace(session_id) == self.workspace


def new_session_id(workspace: str) -> str:
    return f"{workspace}:{uuid.uuid4()}"


def session_workspace(session_id: str) -> str | None:
    workspace, sep, rest = session_id.partition(":")
    return workspace if sep and workspace and rest else None


def issue_session_token(claims: SessionClaims, signing_key: bytes) -> str:
    payload = {
        "ws": claims.workspace,
        "sid": claims.session_id,
        "key": claims.api_key,
        "exp": int(claims.expires_at.timestamp()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{_TOKEN_VERSION}.{body}"
    return f"{signed}.{_b64(_mac(signing_key, signed))}"


def read_session_token(token: str, signing_key: bytes) -> SessionClaims:
    """The claims of a token this server signed. Expiry is the caller's check (``expired``)."""
    match = _TOKEN_RE.match(token.strip())
    if match is None:
        raise Unauthenticated("malformed session token")
    body, mac = match.groups()
    signed = f"{_TOKEN_VERSION}.{body}"
    try:
        given_mac = _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise Unauthenticated("malformed session token") from exc
    if not hmac.compare_digest(given_mac, _mac(signing_key, signed)):
        raise Unauthenticated("session token signature is invalid (issued by another server?)")
    try:
        data = json.loads(_unb64(body))
        return SessionClaims(
            workspace=str(data["ws"]),
            session_id=str(data["sid"]),
            api_key=str(data["key"]),
            expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Unauthenticated("malformed session token") from exc


def _mac(signing_key: bytes, signed: str) -> bytes:
    return hmac.new(signing_key, _TOKEN_CONTEXT + signed.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
