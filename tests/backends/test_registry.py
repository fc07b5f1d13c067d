"""Backends by name or 'module:Class'; a missing extra is an actionable start-up error."""

from __future__ import annotations

from pathlib import Path

import pytest

from anima.backends import registry
from anima.backends.registry import create_llm
from anima.backends.scripted import ScriptedLLM
from anima.errors import BackendError, InvalidArgument
from anima.settings import Settings


def test_scripted_by_name(tmp_path: Path) -> None:
    llm = create_llm(Settings(data_dir=tmp_path, llm_backend="scripted"))
    assert isinstance(llm, ScriptedLLM)


def test_a_class_of_your_own_by_import_string(tmp_path: Path) -> None:
    llm = create_llm(Settings(data_dir=tmp_path, llm_backend="anima.backends.scripted:ScriptedLLM"))
    assert isinstance(llm, ScriptedLLM)


@pytest.mark.parametrize(
    "name",
    [
        "gpt",
        "anima.backends.scripted:Nope",
        "anima.no_such_module:X",
        ":X",
        "anima.backends.render:chat_messages",
    ],
)
def test_bad_names_are_invalid_arguments_naming_the_setting(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        create_llm(Settings(data_dir=tmp_path, llm_backend=name))
    assert info.value.field == "llm_backend"


def test_a_missing_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.EXTRAS, "anima_missing_extra", "pip install 'anima[missing]'")
    with pytest.raises(BackendError) as info:
        registry.import_from_string("anima_missing_extra.backend:LLM", setting="llm_backend")
    assert "pip install 'anima[missing]'" in info.value.message
    assert not info.value.retryable


def test_openai_backend_refuses_a_format_its_api_cannot_take(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        create_llm(
            Settings(
                data_dir=tmp_path,
                llm_backend="openai",
                openai_api="chat",
                llm_prompt_format="completion",
            )
        )
    assert info.value.field == "llm_prompt_format"
