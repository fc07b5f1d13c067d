"""The goals config (a Character's ``yamlConfig``, goals and actions v2): its model and its parser.

The text is composed into PyYAML's node tree (never constructed into Python objects, so no
tag can run code) and walked by hand, so every problem is reported with the line it sits on:
``"line 12: goal 'greet': unknown key 'repeat' (did you mean 'repeatable'?)"``. The walk keeps
going after a problem, so one deploy reports all of them.

    intents:                       # optional
      - name: ask_crossing
        training_phrases: ["How do I get across the river?"]
    goals:                         # optional
      - name: offer_ferry
        repeatable: false          # default true
        activation: {intent: ask_crossing, trigger: offer_ferry}   # at least one of the two
        actions:                   # optional; each item has at least one of these keys
          - instruction: "Tell {player} the bridge is out; the ferry costs {{p.price}}."
            say_verbatim: "..."    # a goal has instructions or verbatim lines, not both
            emotion_change: INTEREST
            send_trigger: ferry_offered
            character_changes: {set_motivation: "...", set_core_description: "..."}
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from anima.domain.events import SpaffCode
from anima.errors import InvalidArgument

MAX_CONFIG_CHARS = 256 * 1024
RESERVED_PREFIX = "inworld."

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}|\{([^{}]*)\}")
_PARAM = re.compile(r"\s*p\.([A-Za-z0-9_.\-]+)\s*")
_CHARACTER_FIELDS = ("player", "character")
_ROOT_KEYS = ("intents", "goals")
_ACTION_KEYS = (
    "instruction",
    "say_verbatim",
    "emotion_change",
    "send_trigger",
    "character_changes",
)
_EMOTIONS = tuple(code.name for code in SpaffCode if code is not SpaffCode.SPAFF_CODE_UNSPECIFIED)

_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    training_phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Activation:
    """What starts a goal: the player's words matching ``intent``, or the game's ``trigger``."""

    intent: str | None = None
    trigger: str | None = None


@dataclass(frozen=True, slots=True)
class CharacterChanges:
    """Replacements for the character's fields, for one session only (``None``: unchanged)."""

    motivation: str | None = None
    core_description: str | None = None

    def merged(self, later: CharacterChanges) -> CharacterChanges:
        """These changes with ``later`` applied on top."""
        return CharacterChanges(
            motivation=later.motivation if later.motivation is not None else self.motivation,
            core_description=(
                later.core_description
                if later.core_description is not None
                else self.core_description
            ),
        )

    def __bool__(self) -> bool:
        return self.motivation is not None or self.core_description is not None


@dataclass(frozen=True, slots=True)
class Action:
    """One item of a goal's ``actions``; text fields are templates, rendered when it runs."""

    instruction: str | None = None
    say_verbatim: str | None = None
    emotion_change: SpaffCode | None = None
    send_trigger: str | None = None
    character_changes: CharacterChanges | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    name: str
    activation: Activation
    actions: tuple[Action, ...] = ()
    repeatable: bool = True


@dataclass(frozen=True, slots=True)
class GoalsConfig:
    """A parsed, valid goals config. Goals keep their written order: the first that fits wins."""

    intents: tuple[Intent, ...] = ()
    goals: tuple[Goal, ...] = ()
    _goals_by_name: dict[str, Goal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_goals_by_name", {goal.name: goal for goal in self.goals})

    def goal(self, name: str) -> Goal | None:
        return self._goals_by_name.get(name)


def validate_goals_yaml(text: str) -> list[str]:
    """Every problem of a goals config, each ``"line N: ..."``; empty when it is valid."""
    return _Parser().parse(text)[1]


def parse_goals(text: str) -> GoalsConfig:
    """The config in ``text``; raises ``InvalidArgument`` listing every problem with its line.

    An empty text (or one holding only comments) is a valid config with no goals.
    """
    config, errors = _Parser().parse(text)
    if errors:
        raise InvalidArgument(
            "invalid goals config (yamlConfig): " + "; ".join(errors),
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"field": "yamlConfig", "description": error} for error in errors
                    ],
                }
            ],
        )
    return config


def template_problems(template: str) -> list[str]:
    """What is wrong with the placeholders of one template (``{player}``, ``{character}``,
    ``{{p.NAME}}``); empty when they are all known."""
    problems = []
    for match in _PLACEHOLDER.finditer(template):
        double, single = match.group(1), match.group(2)
        if double is not None and _PARAM.fullmatch(double) is None:
            problems.append(
                f"unknown placeholder '{match.group(0)}' (trigger parameters are written "
                "{{p.NAME}})"
            )
        elif single is not None and single not in _CHARACTER_FIELDS:
            problems.append(
                f"unknown placeholder '{match.group(0)}' (use {{player}}, {{character}} "
                "or {{p.NAME}})"
            )
    return problems


_NODE_KINDS = {ScalarNode: "a single value", SequenceNode: "a list", MappingNode: "a mapping"}


def _label(node: Node, kind: str, fallback: str) -> str:
    """``goal 'greet'`` when the item has a usable name, else its position."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if (
                isinstance(key, ScalarNode)
                and key.value == "name"
                and isinstance(value, ScalarNode)
                and _NAME.fullmatch(str(value.value).strip())
            ):
                return f"{kind} '{str(value.value).strip()}'"
    return fallback


def _empty(node: Node) -> bool:
    """An empty mapping or a missing value (``key:`` with nothing after it)."""
    if isinstance(node, MappingNode):
        return not node.value
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    """One walk over the node tree, collecting errors as it goes."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.intent_names: set[str] = set()  # declared, even if the rest of the intent is wrong

    def error(self, node: Node, message: str) -> None:
        self.problems.append((_line(node), message))

    def parse(self, text: str) -> tuple[GoalsConfig, list[str]]:
        if len(text) > MAX_CONFIG_CHARS:
            return GoalsConfig(), [
                f"line 1: the goals config is {len(text)} characters long; "
                f"at most {MAX_CONFIG_CHARS} are allowed"
            ]
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else 1
            problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
            return GoalsConfig(), [f"line {line}: not valid YAML: {problem}"]
        except yaml.YAMLError as exc:
            return GoalsConfig(), [f"line 1: not valid YAML: {exc}"]
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
            return GoalsConfig(), []
        config = self.root(root)
        self.problems.sort(key=lambda problem: problem[0])  # stable: same-line order kept
        return config, [f"line {line}: {message}" for line, message in self.problems]

    # -- the levels of the document ------------------------------------------------------------

    def root(self, node: Node) -> GoalsConfig:
        fields = self.mapping(node, "the goals config (with 'intents' and 'goals')", _ROOT_KEYS, ())
        if fields is None:
            return GoalsConfig()
        intents = self.intents(fields["intents"]) if "intents" in fields else ()
        goals = self.goals(fields["goals"]) if "goals" in fields else ()
        return GoalsConfig(intents=intents, goals=goals)

    def intents(self, node: Node) -> tuple[Intent, ...]:
        intents: list[Intent] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(self.sequence(node, "intents")):
            where = _label(item, "intent", f"intents[{index}]")
            fields = self.mapping(item, where, ("name", "training_phrases"), ("name",))
            if fields is None:
                continue
            name = self.unique_name(fields, where, "intent", seen)
            if name is not None:
                self.intent_names.add(name)
            phrases_node = fields.get("training_phrases")
            if phrases_node is None:
                self.error(item, f"{where}: missing 'training_phrases' (a list of example lines)")
                continue
            phrases: list[str] = []
            for phrase_node in self.sequence(phrases_node, f"{where} training_phrases"):
                phrase = self.text(phrase_node, f"{where}: a training phrase")
                if phrase is not None:
                    phrases.append(phrase)
            if isinstance(phrases_node, SequenceNode) and not phrases_node.value:
                self.error(phrases_node, f"{where}: training_phrases must not be empty")
            if name is not None and phrases:
                intents.append(Intent(name=name, training_phrases=tuple(phrases)))
        return tuple(intents)

    def unique_name(
        self, fields: dict[str, Node], where: str, kind: str, seen: dict[str, int]
    ) -> str | None:
        """The item's name; a name already used (``seen``: name -> line) is an error."""
        name = self.name(fields.get("name"), f"{where} name")
        if name is not None:
            if name in seen:
                self.error(
                    fields["name"], f"duplicate {kind} name '{name}' (first on line {seen[name]})"
                )
            else:
                seen[name] = _line(fields["name"])
        return name

    def goals(self, node: Node) -> tuple[Goal, ...]:
        goals: list[Goal] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(self.sequence(node, "goals")):
            where = _label(item, "goal", f"goals[{index}]")
            fields = self.mapping(
                item, where, ("name", "repeatable", "activation", "actions"), ("name", "activation")
            )
            if fields is None:
                continue
            name = self.unique_name(fields, where, "goal", seen)
            repeatable = True
            if "repeatable" in fields:
                repeatable = self.boolean(fields["repeatable"], f"{where}: repeatable") is not False
            activation = (
                self.activation(fields["activation"], where) if "activation" in fields else None
            )
            actions = self.actions(fields["actions"], where) if "actions" in fields else ()
            if name is not None and activation is not None:
                goals.append(
                    Goal(name=name, activation=activation, actions=actions, repeatable=repeatable)
                )
        return tuple(goals)

    def activation(self, node: Node, where: str) -> Activation | None:
        fields = self.mapping(node, f"{where}: activation", ("intent", "trigger"), ())
        if fields is None:
            return None
        intent = None
        if "intent" in fields:
            intent = self.name(fields["intent"], f"{where}: activation intent")
            if intent is not None and intent not in self.intent_names:
                known = ", ".join(sorted(self.intent_names)) or "none are defined"
                self.error(
                    fields["intent"],
                    f"{where}: activation intent '{intent}' is not defined under 'intents' "
                    f"(defined: {known})",
                )
                intent = None
        trigger = self.trigger_name(fields.get("trigger"), f"{where}: activation trigger")
        if _empty(node):
            self.error(node, f"{where}: activation needs an 'intent' or a 'trigger'")
        if intent is None and trigger is None:
            return None
        return Activation(intent=intent, trigger=trigger)

    def actions(self, node: Node, where: str) -> tuple[Action, ...]:
        actions: list[Action] = []
        first_instruction: Node | None = None
        first_verbatim: Node | None = None
        for index, item in enumerate(self.sequence(node, f"{where}: actions")):
            at = f"{where}: actions[{index}]"
            fields = self.mapping(item, at, _ACTION_KEYS, ())
            if fields is None:
                continue
            if _empty(item):
                self.error(item, f"{at}: an action needs at least one of {', '.join(_ACTION_KEYS)}")
                continue
            actions.append(
                Action(
                    instruction=self.template(fields.get("instruction"), f"{at}: instruction"),
                    say_verbatim=self.template(fields.get("say_verbatim"), f"{at}: say_verbatim"),
                    emotion_change=self.emotion(fields.get("emotion_change"), at),
                    send_trigger=self.trigger_name(
                        fields.get("send_trigger"), f"{at}: send_trigger"
                    ),
                    character_changes=self.character_changes(fields.get("character_changes"), at),
                )
            )
            first_instruction = first_instruction or fields.get("instruction")
            first_verbatim = first_verbatim or fields.get("say_verbatim")
        if first_instruction is not None and first_verbatim is not None:
            self.error(
                max(first_instruction, first_verbatim, key=_line),
                f"{where}: a goal either gives the model an instruction or says a line "
                "verbatim, not both (say_verbatim replaces the model's reply)",
            )
        return tuple(actions)

    def character_changes(self, node: Node | None, where: str) -> CharacterChanges | None:
        if node is None:
            return None
        at = f"{where}: character_changes"
        fields = self.mapping(node, at, ("set_motivation", "set_core_description"), ())
        if fields is None:
            return None
        if _empty(node):
            self.error(node, f"{at}: needs set_motivation or set_core_description")
        if not fields:
            return None
        return CharacterChanges(
            motivation=self.template(fields.get("set_motivation"), f"{at}: set_motivation"),
            core_description=self.template(
                fields.get("set_core_description"), f"{at}: set_core_description"
            ),
        )

    # -- leaves --------------------------------------------------------------------------------

    def mapping(
        self, node: Node, what: str, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> dict[str, Node] | None:
        """The values of a mapping by key; reports unknown, duplicate and missing keys."""
        if not isinstance(node, MappingNode):
            if isinstance(node, ScalarNode) and node.tag == _NULL and not required:
                return {}
            self.error(node, f"{what} must be a mapping, not {self.kind(node)}")
            return None
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, f"{what}: keys must be plain words, not {self.kind(key_node)}")
                continue
            key = str(key_node.value)
            if key in fields:
                self.error(key_node, f"{what}: duplicate key '{key}'")
                continue
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = (
                    f"did you mean '{hint[0]}'?"
                    if hint
                    else f"expected one of: {', '.join(allowed)}"
                )
                self.error(key_node, f"{what}: unknown key '{key}' ({suggestion})")
                continue
            fields[key] = value_node
        for key in required:
            if key not in fields:
                self.error(node, f"{what}: missing '{key}'")
        return fields

    def sequence(self, node: Node, what: str) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return []
        self.error(node, f"{what} must be a list, not {self.kind(node)}")
        return []

    def text(self, node: Node | None, what: str) -> str | None:
        """A non-empty string; any plain scalar counts (``yes`` is the text "yes" here)."""
        if node is None:
            return None
        if not isinstance(node, ScalarNode):
            self.error(node, f"{what} must be text, not {self.kind(node)}")
            return None
        value = str(node.value).strip()
        if node.tag == _NULL or not value:
            self.error(node, f"{what} must not be empty")
            return None
        return value

    def template(self, node: Node | None, what: str) -> str | None:
        value = self.text(node, what)
        if value is not None and node is not None:
            for problem in template_problems(value):
                self.error(node, f"{what}: {problem}")
        return value

    def name(self, node: Node | None, what: str) -> str | None:
        value = self.text(node, what)
        if value is None or node is None:
            return None
        if _NAME.fullmatch(value) is None:
            self.error(
                node,
                f"{what} '{value}' may hold only letters, digits, '_', '-' and '.' "
                "(and must not start with '-' or '.')",
            )
            return None
        return value

    def trigger_name(self, node: Node | None, what: str) -> str | None:
        value = self.name(node, what)
        if value is not None and node is not None and value.startswith(RESERVED_PREFIX):
            self.error(
                node, f"{what} '{value}': names starting with '{RESERVED_PREFIX}' are reserved"
            )
            return None
        return value

    def boolean(self, node: Node, what: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return str(node.value).lower() in ("true", "yes", "on", "y")
        shown = f"'{node.value}'" if isinstance(node, ScalarNode) else self.kind(node)
        self.error(node, f"{what} must be true or false, not {shown}")
        return None

    def emotion(self, node: Node | None, where: str) -> SpaffCode | None:
        value = self.text(node, f"{where}: emotion_change")
        if value is None or node is None:
            return None
        name = value.upper()
        if name not in _EMOTIONS:
            hint = difflib.get_close_matches(name, _EMOTIONS, n=1)
            extra = f"did you mean {hint[0]}? " if hint else ""
            self.error(
                node,
                f"{where}: unknown emotion '{value}' ({extra}expected one of: {', '.join(_EMOTIONS)})",
            )
            return None
        return SpaffCode[name]

    @staticmethod
    def kind(node: Node) -> str:
        return _NODE_KINDS.get(type(node), "something else")


def trigger_inputs(config: GoalsConfig) -> list[tuple[str, tuple[str, ...]]]:
    """The triggers that start a goal, each with the parameters its actions use
    (``{{p.NAME}}``), in the goals' order: what a game (or a play page) can send."""
    found: dict[str, list[str]] = {}
    for goal in config.goals:
        if goal.activation.trigger is None:
            continue
        names = found.setdefault(goal.activation.trigger, [])
        for action in goal.actions:
            for template in (action.instruction or "", action.say_verbatim or ""):
                for match in _PLACEHOLDER.finditer(template):
                    param = _PARAM.fullmatch(match.group(1) or "")
                    if param is not None and param.group(1) not in names:
                        names.append(param.group(1))
    return [(name, tuple(params)) for name, params in found.items()]
