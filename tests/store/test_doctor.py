"""``anima doctor`` finds and repairs rows poisoned with text that cannot be encoded (written
here straight into the store, as a server before the edge check let them in)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql

from anima.backends.scripted import ScriptedLLM
from anima.cli import main
from anima.domain.scene import parse_scene
from anima.settings import Settings
from anima.store import Store
from anima.store.doctor import examine
from tests.api.engine_helpers import V1, Game
from tests.api.studio_helpers import BASE, open_studio


async def poison(store: Store, table: str, column: str, where: dict[str, str], value: Any) -> None:
    """Write ``value`` as JSON with escapes, as the JSON column once stored a lone surrogate."""
    condition = " AND ".join(f"{k} = :{k}" for k in where)
    async with store.session() as session:
        await session.execute(
            sql(f"UPDATE {table} SET {column} = :value WHERE {condition}"),
            {"value": json.dumps(value), **where},
        )


async def test_doctor_repairs_what_made_reads_fail(settings: Settings) -> None:
    async with open_studio(settings) as studio:
        game = Game(studio.app, studio.client, studio.headers)
        game.use_llm(ScriptedLLM(["Hello there."]))
        scene = await game.create({"displayName": "Poison"}, "scenes")
        character = await game.character()
        session = await game.open(character)
        sid, agent = session["name"], session["sessionCharacters"][0]["character"]
        r = await game.send_text(sid, agent, "hi")
        assert r.status_code == 200, r.text
        store = game.store

        await poison(
            store,
            "scenes",
            "data",
            {"id": scene["name"].rsplit("/", 1)[-1]},
            {**scene, "displayName": "Poison\ud800", "description": "nul\x00"},
        )
        interactions = (await game.ok("GET", f"{V1}/sessions/{sid}/interactions"))["interactions"]
        async with store.session() as s:
            [data] = (await s.execute(sql("SELECT data FROM interactions"))).scalars().all()
        stored = json.loads(data) if isinstance(data, str) else data
        await poison(
            store,
            "interactions",
            "data",
            {"session_id": sid},
            {**stored, "inputText": "\udc00hi"},
        )
        assert interactions
        assert (await game.call("GET", f"{BASE}/scenes")).status_code == 500
        assert (await game.call("GET", f"{V1}/sessions/{sid}/interactions")).status_code == 500

        report = await examine(store)
        found = {(f.table, f.column, f.paths, f.repaired) for f in report.findings}
        assert found == {
            ("scenes", "data", ("displayName", "description"), False),
            ("interactions", "data", ("inputText",), False),
        }

        repaired = await examine(store, repair_rows=True)
        assert all(f.repaired for f in repaired.findings)
        assert len(repaired.findings) == 2
        assert (await examine(store)).clean

        [listed] = (await game.ok("GET", f"{BASE}/scenes"))["scenes"]
        assert listed["displayName"] == "Poison\ufffd"
        assert listed["description"] == "nul"
        [turn] = (await game.ok("GET", f"{V1}/sessions/{sid}/interactions"))["interactions"]
        assert turn["input"]["text"] == "\ufffdhi"
        r = await game.send_text(sid, agent, "still there?")
        assert r.status_code == 200, r.text


async def test_a_clean_store_is_clean(store: Store) -> None:
    await store.keys.ensure_workspace("w")
    await store.scenes.create("w", parse_scene({"displayName": "Fine 😀 \u202e"}), "fine")
    report = await examine(store, repair_rows=True)
    assert report.clean
    assert report.rows >= 2


def test_the_cli_reports_then_repairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "store"
    settings = Settings(data_dir=data_dir)

    async def prepare() -> None:
        async with Store.opened(settings) as store:
            await store.keys.ensure_workspace("w")
            made = await store.scenes.create("w", parse_scene({"displayName": "x"}), "x")
            await poison(store, "scenes", "data", {"id": "x"}, {**made.to_json(), "name": "\ud800"})

    asyncio.run(prepare())
    assert main(["doctor", "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr()
    assert "scenes (workspace='w', id='x') column data at name: needs repair" in out.out
    assert "anima doctor --repair" in out.err
    assert main(["doctor", "--repair", "--data-dir", str(data_dir)]) == 0
    assert "1 with text that cannot be encoded repaired" in capsys.readouterr().out
    assert main(["doctor", "--json", "--data-dir", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
