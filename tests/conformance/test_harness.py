"""The SDK harness scripts load the unmodified SDKs (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.conftest import run_harness

pytestmark = pytest.mark.slow


def test_node_sdk_client_builds(node_sdks: Path) -> None:
    assert run_harness("node_client.js", "build") == [{"event": "done"}]


def test_web_sdk_client_builds_with_browser_stubs(node_sdks: Path) -> None:
    assert run_harness("web_client.mjs", "build") == [{"event": "done"}]
