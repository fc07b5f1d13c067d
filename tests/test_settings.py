"""Settings precedence: flag over variable over default, for every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from anima.cli import build_parser, settings_from_args
from anima.settings import Settings


def test_defaults() -> None:
    s = Settings()
    assert s.port == 8000
    assert s.host == "127.0.0.1"
    assert s.data_dir == Path(".anima")
    assert s.db_url == "sqlite+aiosqlite:///.anima/anima.db"
    assert s.session_ttl_seconds == 1800


def test_variable_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMA_PORT", "9001")
    monkeypatch.setenv("ANIMA_DATA_DIR", "/srv/anima")
    s = settings_from_args(build_parser().parse_args(["serve"]))
    assert s.port == 9001
    assert s.db_url == "sqlite+aiosqlite:////srv/anima/anima.db"


def test_flag_over_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMA_PORT", "9001")
    monkeypatch.setenv("ANIMA_DATABASE_URL", "postgresql+asyncpg://a@b/c")
    args = build_parser().parse_args(
        ["serve", "--port", "9002", "--database-url", "sqlite+aiosqlite:///x.db"]
    )
    s = settings_from_args(args)
    assert s.port == 9002
    assert s.db_url == "sqlite+aiosqlite:///x.db"


def test_keys_command_honours_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMA_DATA_DIR", "/elsewhere")
    s = settings_from_args(build_parser().parse_args(["keys", "list"]))
    assert s.data_dir == Path("/elsewhere")


def test_env_file_is_read_and_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("ANIMA_PORT=7001\nANIMA_GRPC_PORT=7002\n")
    monkeypatch.setenv("ANIMA_PORT", "7003")
    s = Settings()
    assert s.port == 7003
    assert s.grpc_port == 7002


def test_invalid_variable_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from anima.cli import main

    monkeypatch.setenv("ANIMA_PORT", "not-a-port")
    assert main(["keys", "list"]) == 2
    assert "ANIMA_PORT" in capsys.readouterr().err


def test_redacted_hides_passwords() -> None:
    s = Settings(database_url="postgresql+asyncpg://user:hunter2@db/anima", openai_api_key="sk-x")
    red = s.redacted()
    assert "hunter2" not in str(red)
    assert "sk-x" not in str(red)
