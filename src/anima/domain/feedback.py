"""Feedback a player gives on one interaction (a like or a dislike with reasons)."""

from __future__ import annotations

from dataclasses import dataclass

# ai.inworld.engine.v1.InteractionDislikeType (streaming-protocol.md Appendix A, feedback.proto)
DISLIKE_TYPES = (
    "INTERACTION_DISLIKE_TYPE_UNSPECIFIED",
    "INTERACTION_DISLIKE_TYPE_IRRELEVANT",
    "INTERACTION_DISLIKE_TYPE_UNSAFE",
    "INTERACTION_DISLIKE_TYPE_UNTRUE",
    "INTERACTION_DISLIKE_TYPE_INCORRECT_USE_KNOWLEDGE",
    "INTERACTION_DISLIKE_TYPE_UNEXPECTED_ACTION",
    "INTERACTION_DISLIKE_TYPE_UNEXPECTED_GOAL_BEHAVIOR",
    "INTERACTION_DISLIKE_TYPE_REPETITION",
    "INTERACTION_DISLIKE_TYPE_OUT_OF_CHARACTER",
    "INTERACTION_DISLIKE_TYPE_TOO_LONG",
)


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    workspace: str
    session_id: str
    interaction_id: str  # the client's interaction id
    group: str  # the client's correlation id, or "default"
    is_like: bool
    types: tuple[str, ...] = ()
    comment: str = ""
    created_at: float = 0.0

    @property
    def parent(self) -> str:
        return (
            f"workspaces/{self.workspace}/sessions/{self.session_id}/interactions/"
            f"{self.interaction_id}/groups/{self.group}"
        )

    @property
    def name(self) -> str:
        return f"{self.parent}/feedbacks/{self.id}"
