"""anima.wire.protogen: the generated package is current and imports as a package."""

from __future__ import annotations

from pathlib import Path

from anima.wire import protogen


def test_generated_code_is_up_to_date() -> None:
    assert protogen.is_up_to_date(), "run: python -m anima.wire.protogen"


def test_imports_are_rewritten_into_the_package() -> None:
    source = (
        "from ai.inworld.packets import packets_pb2 as p\n"
        "from google.rpc import status_pb2 as s\n"
        "from google.protobuf import timestamp_pb2 as t\n"
        "import ai.inworld.common.status_pb2\n"
        "from aiohttp import web\n"
    )
    assert protogen.rewrite_imports(source) == (
        "from anima.wire.pb.ai.inworld.packets import packets_pb2 as p\n"
        "from anima.wire.pb.google.rpc import status_pb2 as s\n"
        "from google.protobuf import timestamp_pb2 as t\n"
        "import anima.wire.pb.ai.inworld.common.status_pb2\n"
        "from aiohttp import web\n"
    )


def test_generate_is_idempotent(tmp_path: Path) -> None:
    out = tmp_path / "pb"
    assert protogen.generate(out=out)
    assert not protogen.generate(out=out)
    assert protogen.is_up_to_date(out=out)
    services = (out / "ai/inworld/engine/world_engine_pb2_grpc.py").read_text()
    assert "'/ai.inworld.engine.WorldEngine/GenerateToken'" in services
    assert "from anima.wire.pb.ai.inworld.packets import packets_pb2" in services
    assert (out / "ai/inworld/packets/packets_pb2.pyi").is_file()
    assert (out / "google/rpc/__init__.py").is_file()
    for path in out.rglob("*.py"):
        for line in path.read_text().splitlines():
            assert not line.startswith(("from ai.", "import ai.", "from google.rpc")), (path, line)
    (out / protogen.FINGERPRINT_FILE).write_text("stale\n")
    assert protogen.main(["--out", str(out), "--check", "-q"]) == 1
    assert protogen.main(["--out", str(out), "-q"]) == 0
    assert protogen.main(["--out", str(out), "--check", "-q"]) == 0


def test_the_services_the_sdks_call_exist() -> None:
    from anima.wire.pb.ai.inworld.engine import world_engine_pb2
    from anima.wire.pb.ai.inworld.engine.v1 import feedback_pb2, state_serialization_pb2

    assert set(world_engine_pb2.DESCRIPTOR.services_by_name["WorldEngine"].methods_by_name) == {
        "OpenSession",
        "GenerateToken",
        "LoadScene",  # SDK 0.9.x and 1.5-1.11
        "Session",
    }
    assert (
        "GetSessionState"
        in state_serialization_pb2.DESCRIPTOR.services_by_name["StateSerialization"].methods_by_name
    )
    feedback = feedback_pb2.DESCRIPTOR.services_by_name["Feedback"].methods_by_name
    assert set(feedback) == {"CreateInteractionFeedback", "DeleteInteractionFeedback"}
