"""`anima characters import/export` end to end: real subprocesses on a real store, then the
characters read back through the Studio API."""

from __future__ import annotations

import json
import re
from pathlib import Path

from anima.domain.cards import V2, card_png, plain_png, png_text_chunks
from anima.settings import Settings
from tests.api.studio_helpers import open_studio
from tests.domain.test_cards import ROOK
from tests.domain.test_character import FULL_CHARACTER, full_character
from tests.server import anima


async def test_import_deploy_export_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "d"
    source = tmp_path / "axeon.json"
    exported_from_elsewhere = {"name": "workspaces/old/characters/axeon", **full_character()}
    exported_from_elsewhere["commonKnowledge"] = []
    source.write_text(
        json.dumps(
            {
                "characters": [
                    exported_from_elsewhere,
                    {"defaultCharacterDescription": {"givenName": "Bo"}},
                ]
            }
        )
    )

    imported = anima(
        "characters", "import", str(source), "--workspace", "ws1", "--deploy", data_dir=data
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported workspaces/ws1/characters/axeon (deployed version 1)" in imported.stdout
    assert "imported workspaces/ws1/characters/bo (deployed version 1)" in imported.stdout

    out = tmp_path / "out.json"
    exported = anima(
        "characters",
        "export",
        "workspaces/ws1/characters/axeon",
        "--deployed",
        "-o",
        str(out),
        data_dir=data,
    )
    assert exported.returncode == 0, exported.stderr
    expected = {**FULL_CHARACTER, "commonKnowledge": [], "name": "workspaces/ws1/characters/axeon"}
    assert json.loads(out.read_text()) == expected

    # importing again replaces the draft of the same id instead of making a copy
    changed = {**expected, "socialRank": 0.2}
    source.write_text(json.dumps(changed))
    again = anima("characters", "import", str(source), "--workspace", "ws1", data_dir=data)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "imported workspaces/ws1/characters/axeon"
    draft = anima("characters", "export", "axeon", "--workspace", "ws1", data_dir=data)
    assert json.loads(draft.stdout)["socialRank"] == 0.2

    async with open_studio(Settings(data_dir=data)) as studio:
        listed = await studio.ok("GET", "/studio/v1/workspaces/ws1/characters")
        assert [c["name"] for c in listed["characters"]] == [
            "workspaces/ws1/characters/axeon",
            "workspaces/ws1/characters/bo",
        ]
        deployed = await studio.store.characters.get_deployed("ws1", "axeon")
        assert deployed is not None
        assert deployed.character.social_rank == 0.75  # the draft changed, not the deployed version


def test_import_and_export_errors(tmp_path: Path) -> None:
    data = tmp_path / "d"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"defaultCharacterDescription": {"pronoun": "ROBOT"}}]))
    r = anima("characters", "import", str(bad), data_dir=data)
    assert r.returncode == 1
    assert "defaultCharacterDescription.pronoun" in r.stderr
    assert "Traceback" not in r.stderr
    missing = anima("characters", "export", "nobody", data_dir=data)
    assert missing.returncode == 1
    assert "workspaces/default/characters/nobody" in missing.stderr


def test_character_cards_import_and_export(tmp_path: Path) -> None:
    data = tmp_path / "d"
    png = tmp_path / "rook.png"
    png.write_bytes(card_png(ROOK))
    imported = anima("characters", "import", str(png), "--deploy", data_dir=data)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == (
        "imported workspaces/default/characters/rook from a card v2 png "
        "(not kept: the image; creator_notes) (deployed version 1)"
    )

    as_json = anima("characters", "export", "rook", "--format", "card-v2", data_dir=data)
    assert as_json.returncode == 0, as_json.stderr
    exported = json.loads(as_json.stdout)
    assert exported["spec"] == V2
    assert exported["data"]["first_mes"] == "Ahoy, {{user}}!"
    assert exported["data"]["description"] == "{{char}} sails the barge."

    out = tmp_path / "out.png"
    done = anima("characters", "export", "rook", "--format", "card", "-o", str(out), data_dir=data)
    assert done.returncode == 0, done.stderr
    assert set(png_text_chunks(out.read_bytes())) == {"chara", "ccv3"}
    card_json = tmp_path / "card.json"
    card_json.write_text(json.dumps(exported))
    again = anima("characters", "import", str(card_json), data_dir=data)
    assert again.returncode == 0, again.stderr
    assert re.fullmatch(
        r"imported workspaces/default/characters/rook_\w+ from a card v2", again.stdout.strip()
    )
    bad = tmp_path / "plain.png"
    bad.write_bytes(plain_png())
    refused = anima("characters", "import", str(bad), data_dir=data)
    assert refused.returncode == 1
    assert "no 'chara' or 'ccv3' text chunk" in refused.stderr
    assert "Traceback" not in refused.stderr
