"""Goals: what a trigger or a recognised intent makes the character do, as pure decisions.

Sans-IO: the turn matches the player's words (``anima.pipeline.intents``) or receives the
game's trigger, calls ``decide(config, state, stimulus, player=..., character=...)`` and acts on
the ``GoalDecision`` (steer, speak verbatim, set the emotion, send triggers) and persists its
``state``. Nothing here waits or stores.

Rules:

* The first goal in written order whose activation fits the stimulus, and that is neither
  disabled nor (if ``repeatable: false``) completed, runs all its actions, in order.
* A goal completes when it runs: it emits ``inworld.goal.complete.<name>`` after its own
  ``send_trigger``\\ s; a non-repeatable goal never runs again unless re-enabled.
* ``inworld.goal.enable`` / ``inworld.goal.disable`` (parameter ``goal_name``) switch a goal
  on or off for the session; enabling also re-arms a completed non-repeatable goal.
* The reply: ``say_verbatim`` lines are spoken as written (no model call); otherwise the model
  answers, steered by the instructions. A goal started by a trigger with neither acts
  silently; one started by the player's words still lets the model answer them.
* A trigger no goal takes still reaches the character, as ``event_text`` to react to.
* Templates: ``{player}``, ``{character}`` and ``{{p.NAME}}`` (the trigger's parameters; a
  parameter the stimulus lacks renders as nothing).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from anima.domain.events import SpaffCode, TriggerFired
from anima.domain.goals_yaml import (
    RESERVED_PREFIX,
    Action,
    Activation,
    CharacterChanges,
    Goal,
    GoalsConfig,
    Intent,
    parse_goals,
    validate_goals_yaml,
)
from anima.errors import InvalidArgument

__all__ = [
    "COMPLETE_PREFIX",
    "DISABLE_TRIGGER",
    "ENABLE_TRIGGER",
    "GOAL_NAME_PARAMETER",
    "Action",
    "Activation",
    "CharacterChanges",
    "Goal",
    "GoalDecision",
    "GoalState",
    "GoalsConfig",
    "Intent",
    "IntentMatch",
    "Reply",
    "Stimulus",
    "Trigger",
    "active_intents",
    "decide",
    "parse_goals",
    "render",
    "trigger_name",
    "trigger_resource",
    "validate_goals_yaml",
]

ENABLE_TRIGGER = "inworld.goal.enable"
DISABLE_TRIGGER = "inworld.goal.disable"
GOAL_NAME_PARAMETER = "goal_name"
COMPLETE_PREFIX = "inworld.goal.complete."

_RESOURCE = re.compile(r"workspaces/([^/]+)/triggers/([^/]+)")
_PLACEHOLDER = re.compile(r"\{\{\s*p\.([A-Za-z0-9_.\-]+)\s*\}\}|\{(player|character)\}")


def trigger_name(name: str) -> str:
    """The short trigger id: ``workspaces/{ws}/triggers/{id}`` (REST) or a bare ``id`` (packets)."""
    name = name.strip()
    if "/" not in name:
        if not name:
            raise InvalidArgument("a trigger needs a name", field="triggerEvent.trigger")
        return name
    match = _RESOURCE.fullmatch(name)
    if match is None:
        raise InvalidArgument(
            f"trigger '{name}' must be a name or 'workspaces/{{workspace}}/triggers/{{id}}'",
            field="triggerEvent.trigger",
        )
    return match.group(2)


def trigger_resource(workspace: str, name: str) -> str:
    """The REST resource name of a trigger the character sends (``activeTriggers``)."""
    return f"workspaces/{workspace}/triggers/{name}"


@dataclass(frozen=True, slots=True)
class Trigger:
    """The game's trigger (sendTrigger, or a custom packet of type TRIGGER), with parameters."""

    name: str
    parameters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        name: str,
        parameters: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> Trigger:
        """A trigger from a REST resource or bare name, with parameters as a mapping or as
        (name, value) pairs (the wire's list); they keep their order (a repeated name: last
        one wins in ``params``)."""
        pairs = parameters.items() if isinstance(parameters, Mapping) else (parameters or ())
        return cls(trigger_name(name), tuple((str(k), str(v)) for k, v in pairs))

    @property
    def params(self) -> dict[str, str]:
        return dict(self.parameters)


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """The player's words matched ``intent`` with cosine ``score`` (see pipeline.intents)."""

    intent: str
    score: float


Stimulus = Trigger | IntentMatch


@dataclass(frozen=True, slots=True)
class GoalState:
    """What one session's goals have done: serialisable, persisted with the session.

    ``character_changes`` accumulates the goals' ``character_changes`` (session only).
    """

    completed: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()
    character_changes: CharacterChanges = field(default_factory=CharacterChanges)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "completed": sorted(self.completed),
            "disabled": sorted(self.disabled),
        }
        changes = self.character_changes
        if changes.motivation is not None:
            data["motivation"] = changes.motivation
        if changes.core_description is not None:
            data["coreDescription"] = changes.core_description
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoalState:
        """The state ``to_dict`` wrote; raises ``InvalidArgument`` on anything else (saved
        state can come back from a client). Unknown keys are ignored."""
        if not isinstance(data, Mapping):
            raise InvalidArgument("goal state must be an object")
        return cls(
            completed=_names(data, "completed"),
            disabled=_names(data, "disabled"),
            character_changes=CharacterChanges(
                motivation=_optional_text(data, "motivation"),
                core_description=_optional_text(data, "coreDescription"),
            ),
        )

    def is_active(self, goal: Goal) -> bool:
        """Can ``goal`` run now?"""
        if goal.name in self.disabled:
            return False
        return goal.repeatable or goal.name not in self.completed


def _names(data: Mapping[str, Any], key: str) -> frozenset[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument(f"goal state '{key}' must be a list of goal names")
    return frozenset(value)


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"goal state '{key}' must be text")
    return value


class Reply(enum.Enum):
    """How the character answers this stimulus."""

    MODEL = "model"  # generate a reply (steered by ``instructions`` / ``event_text``)
    VERBATIM = "verbatim"  # speak ``verbatim`` exactly; no model call
    NONE = "none"  # say nothing (goal switches, goals that only act)


@dataclass(frozen=True, slots=True)
class GoalDecision:
    """What the turn does about one stimulus. Templates are already rendered.

    ``emotion`` overrides the character's emotion (for the reply, if any, and the session).
    ``triggers`` go to the client in order (a goal's ``send_trigger``\\ s, then
    ``inworld.goal.complete.<goal>``). ``character_changes`` is this decision's own delta;
    ``state.character_changes`` already includes it.
    """

    state: GoalState
    reply: Reply
    goal: str | None = None
    instructions: tuple[str, ...] = ()
    verbatim: str | None = None
    emotion: SpaffCode | None = None
    triggers: tuple[str, ...] = ()
    character_changes: CharacterChanges = field(default_factory=CharacterChanges)
    event_text: str | None = None

    @property
    def needs_model(self) -> bool:
        return self.reply is Reply.MODEL

    def trigger_events(self, interaction_id: str, agent_id: str) -> tuple[TriggerFired, ...]:
        """``triggers`` as the turn's events, in order."""
        return tuple(TriggerFired(interaction_id, agent_id, name) for name in self.triggers)


def render(template: str, *, player: str, character: str, params: Mapping[str, str]) -> str:
    """``template`` with ``{player}``, ``{character}`` and ``{{p.NAME}}`` filled in."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return params.get(match.group(1), "")
        return player if match.group(2) == "player" else character

    rendered = _PLACEHOLDER.sub(fill, template)
    return re.sub(r"[ \t]{2,}", " ", rendered).strip() if rendered != template else rendered


def active_intents(config: GoalsConfig, state: GoalState) -> frozenset[str]:
    """The intents that would start some goal now; matching others is wasted work."""
    return frozenset(
        goal.activation.intent
        for goal in config.goals
        if goal.activation.intent is not None and state.is_active(goal)
    )


def decide(
    config: GoalsConfig,
    state: GoalState,
    stimulus: Stimulus,
    *,
    player: str,
    character: str,
) -> GoalDecision:
    """What the character does about ``stimulus``, and the goal state after it.

    Raises ``InvalidArgument`` for a goal switch without a known ``goal_name``.
    """
    if isinstance(stimulus, Trigger):
        if stimulus.name in (ENABLE_TRIGGER, DISABLE_TRIGGER):
            return _switch(config, state, stimulus)
        if stimulus.name.startswith(RESERVED_PREFIX):
            # Other built-ins (e.g. inworld.conversation.next_turn): no goal, just speak.
            return GoalDecision(state=state, reply=Reply.MODEL)
        goal = _first(config, state, lambda a: a.trigger == stimulus.name)
        if goal is None:
            return GoalDecision(state=state, reply=Reply.MODEL, event_text=event_text(stimulus))
        return _run(goal, state, stimulus.params, player, character, spoken_to=False)
    goal = _first(config, state, lambda a: a.intent == stimulus.intent)
    if goal is None:
        return GoalDecision(state=state, reply=Reply.MODEL)
    return _run(goal, state, {}, player, character, spoken_to=True)


def event_text(trigger: Trigger) -> str:
    """How a trigger no goal takes is told to the character."""
    what = re.sub(r"[_.\-]+", " ", trigger.name).strip() or trigger.name
    if trigger.parameters:
        details = ", ".join(f"{name}: {value}" for name, value in trigger.parameters)
        return f"The game tells you: {what} ({details})."
    return f"The game tells you: {what}."


def _first(
    config: GoalsConfig, state: GoalState, fits: Callable[[Activation], bool]
) -> Goal | None:
    for goal in config.goals:
        if fits(goal.activation) and state.is_active(goal):
            return goal
    return None


def _switch(config: GoalsConfig, state: GoalState, trigger: Trigger) -> GoalDecision:
    name = trigger.params.get(GOAL_NAME_PARAMETER, "").strip()
    if not name:
        raise InvalidArgument(
            f"trigger '{trigger.name}' needs the parameter '{GOAL_NAME_PARAMETER}'",
            field="triggerEvent.parameters",
        )
    if config.goal(name) is None:
        known = ", ".join(goal.name for goal in config.goals) or "it has none"
        raise InvalidArgument(
            f"trigger '{trigger.name}': '{name}' is not a goal of this character (goals: {known})",
            field="triggerEvent.parameters",
        )
    if trigger.name == ENABLE_TRIGGER:
        new = GoalState(
            completed=state.completed - {name},
            disabled=state.disabled - {name},
            character_changes=state.character_changes,
        )
    else:
        new = GoalState(
            completed=state.completed,
            disabled=state.disabled | {name},
            character_changes=state.character_changes,
        )
    return GoalDecision(state=new, reply=Reply.NONE)


def _run(
    goal: Goal,
    state: GoalState,
    params: Mapping[str, str],
    player: str,
    character: str,
    *,
    spoken_to: bool,
) -> GoalDecision:
    def fill(template: str) -> str:
        return render(template, player=player, character=character, params=params)

    instructions: list[str] = []
    verbatim: list[str] = []
    emotion: SpaffCode | None = None
    triggers: list[str] = []
    changes = CharacterChanges()
    for action in goal.actions:
        if action.instruction is not None:
            instructions.append(fill(action.instruction))
        if action.say_verbatim is not None:
            verbatim.append(fill(action.say_verbatim))
        if action.emotion_change is not None:
            emotion = action.emotion_change
        if action.send_trigger is not None:
            triggers.append(action.send_trigger)
        if action.character_changes is not None:
            changes = changes.merged(
                CharacterChanges(
                    motivation=_maybe(fill, action.character_changes.motivation),
                    core_description=_maybe(fill, action.character_changes.core_description),
                )
            )
    triggers.append(COMPLETE_PREFIX + goal.name)
    if verbatim:
        reply = Reply.VERBATIM
    elif instructions or spoken_to:
        reply = Reply.MODEL  # the player spoke: answer them, steered by the goal
    else:
        reply = Reply.NONE
    return GoalDecision(
        state=GoalState(
            completed=state.completed | {goal.name},
            disabled=state.disabled,
            character_changes=state.character_changes.merged(changes),
        ),
        reply=reply,
        goal=goal.name,
        instructions=tuple(instructions),
        verbatim=" ".join(verbatim) if verbatim else None,
        emotion=emotion,
        triggers=tuple(triggers),
        character_changes=changes,
    )


def _maybe(fill: Callable[[str], str], template: str | None) -> str | None:
    return None if template is None else fill(template)
