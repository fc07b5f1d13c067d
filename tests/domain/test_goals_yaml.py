"""The goals config parser: the model it builds and every error it reports, with its line."""

from __future__ import annotations

import textwrap

import pytest

from anima.domain.events import SpaffCode
from anima.domain.goals import (
    Action,
    Activation,
    CharacterChanges,
    Goal,
    GoalsConfig,
    Intent,
    parse_goals,
    validate_goals_yaml,
)
from anima.domain.goals_yaml import MAX_CONFIG_CHARS, template_problems
from anima.errors import InvalidArgument

ISSUE_EXAMPLE = """\
intents:
  - name: ask_crossing
    training_phrases: ["How do I get across the river?", "Is there a way over the water?"]
goals:
  - name: offer_ferry
    repeatable: false
    activation:
      intent: ask_crossing        # the player's words match the intent, or
      trigger: offer_ferry        # the game sends this trigger
    actions:
      - instruction: "Tell {player} the bridge is out and offer a ferry ride for {{p.price}} coins."
        emotion_change: INTEREST
        send_trigger: ferry_offered
  - name: greet
    repeatable: true
    activation: {trigger: player_arrived}
    actions:
      - say_verbatim: "Mind the mud, traveller."
  - name: turn_hostile
    activation: {trigger: boat_stolen}
    actions:
      - instruction: "Accuse {player} of stealing the ferry."
        emotion_change: ANGER
      - character_changes:
          set_motivation: "{character} wants {player} caught."
"""


def errors(text: str) -> list[str]:
    return validate_goals_yaml(textwrap.dedent(text))


def test_the_issue_example_parses_into_the_model() -> None:
    assert validate_goals_yaml(ISSUE_EXAMPLE) == []
    assert parse_goals(ISSUE_EXAMPLE) == GoalsConfig(
        intents=(
            Intent(
                "ask_crossing",
                ("How do I get across the river?", "Is there a way over the water?"),
            ),
        ),
        goals=(
            Goal(
                name="offer_ferry",
                repeatable=False,
                activation=Activation(intent="ask_crossing", trigger="offer_ferry"),
                actions=(
                    Action(
                        instruction="Tell {player} the bridge is out and offer a ferry ride "
                        "for {{p.price}} coins.",
                        emotion_change=SpaffCode.INTEREST,
                        send_trigger="ferry_offered",
                    ),
                ),
            ),
            Goal(
                name="greet",
                activation=Activation(trigger="player_arrived"),
                actions=(Action(say_verbatim="Mind the mud, traveller."),),
            ),
            Goal(
                name="turn_hostile",
                activation=Activation(trigger="boat_stolen"),
                actions=(
                    Action(
                        instruction="Accuse {player} of stealing the ferry.",
                        emotion_change=SpaffCode.ANGER,
                    ),
                    Action(
                        character_changes=CharacterChanges(
                            motivation="{character} wants {player} caught."
                        )
                    ),
                ),
            ),
        ),
    )


@pytest.mark.parametrize("text", ["", "   \n", "# nothing yet\n", "~\n", "intents:\ngoals:\n"])
def test_empty_configs_are_valid_and_have_no_goals(text: str) -> None:
    assert validate_goals_yaml(text) == []
    assert parse_goals(text) == GoalsConfig()


def test_defaults_and_yaml_spellings() -> None:
    config = parse_goals(
        textwrap.dedent(
            """\
            intents:
              - name: yes_no
                training_phrases: [yes, 42, "  padded  "]
            goals:
              - name: a
                activation: {intent: yes_no}
              - name: b
                repeatable: False
                activation: {trigger: t}
                actions:
                  - emotion_change: joy
                  - character_changes: {set_core_description: "Now a pirate."}
            """
        )
    )
    assert config.intents[0].training_phrases == ("yes", "42", "padded")
    a, b = config.goals
    assert a.repeatable is True
    assert a.actions == ()
    assert b.repeatable is False
    assert b.actions[0].emotion_change is SpaffCode.JOY
    assert b.actions[1].character_changes == CharacterChanges(core_description="Now a pirate.")
    assert config.goal("b") is b
    assert config.goal("nope") is None


def test_parse_goals_raises_invalid_argument_with_every_message() -> None:
    text = "goals:\n  - name: g\n    activation: {intent: nope}\n    repeatable: 3\n"
    with pytest.raises(InvalidArgument) as caught:
        parse_goals(text)
    messages = validate_goals_yaml(text)
    assert len(messages) == 2
    assert caught.value.message == "invalid goals config (yamlConfig): " + "; ".join(messages)
    (detail,) = caught.value.details
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [v["description"] for v in detail["fieldViolations"]] == messages
    assert {v["field"] for v in detail["fieldViolations"]} == {"yamlConfig"}


# Each case: a config and exactly the errors it must produce, in line order.
CASES: dict[str, tuple[str, list[str]]] = {
    "yaml syntax": (
        """\
        goals:
          - name: a
            activation: {trigger: t
        """,
        [
            "line 4: not valid YAML: while parsing a flow mapping, "
            "expected ',' or '}', but got '<stream end>'"
        ],
    ),
    "tab indentation": (
        "goals:\n\t- name: a\n",
        [
            "line 2: not valid YAML: while scanning for the next token, "
            "found character '\\t' that cannot start any token"
        ],
    ),
    "root is a list": (
        "- name: a\n",
        ["line 1: the goals config (with 'intents' and 'goals') must be a mapping, not a list"],
    ),
    "root is text": (
        "hello\n",
        [
            "line 1: the goals config (with 'intents' and 'goals') must be a mapping, "
            "not a single value"
        ],
    ),
    "unknown root key": (
        """\
        intents: []
        gaols: []
        version: 2
        """,
        [
            "line 2: the goals config (with 'intents' and 'goals'): unknown key 'gaols' "
            "(did you mean 'goals'?)",
            "line 3: the goals config (with 'intents' and 'goals'): unknown key 'version' "
            "(expected one of: intents, goals)",
        ],
    ),
    "duplicate key": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            name: b
        """,
        ["line 4: goal 'a': duplicate key 'name'"],
    ),
    "key that is not a word": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            [x]: 1
        """,
        ["line 4: goal 'a': keys must be plain words, not a list"],
    ),
    "goals not a list": (
        "goals: {name: a}\n",
        ["line 1: goals must be a list, not a mapping"],
    ),
    "intent item not a mapping": (
        "intents:\n  - ask\n",
        ["line 2: intents[0] must be a mapping, not a single value"],
    ),
    "intent problems": (
        """\
        intents:
          - training_phrases: [hi]
          - name: a
          - name: b
            training_phrases: []
          - name: c
            training_phrases: hello
          - name: d
            training_phrases: ["ok", {x: 1}, ""]
            phrases: [hi]
        """,
        [
            "line 2: intents[0]: missing 'name'",
            "line 3: intent 'a': missing 'training_phrases' (a list of example lines)",
            "line 5: intent 'b': training_phrases must not be empty",
            "line 7: intent 'c' training_phrases must be a list, not a single value",
            "line 9: intent 'd': a training phrase must be text, not a mapping",
            "line 9: intent 'd': a training phrase must not be empty",
            "line 10: intent 'd': unknown key 'phrases' (did you mean 'training_phrases'?)",
        ],
    ),
    "duplicate names": (
        """\
        intents:
          - {name: ask, training_phrases: [a]}
          - {name: ask, training_phrases: [b]}
        goals:
          - {name: g, activation: {intent: ask}}
          - {name: h, activation: {trigger: t}}
          - {name: g, activation: {trigger: u}}
        """,
        [
            "line 3: duplicate intent name 'ask' (first on line 2)",
            "line 7: duplicate goal name 'g' (first on line 5)",
        ],
    ),
    "bad names": (
        """\
        intents:
          - {name: "ask crossing", training_phrases: [a]}
        goals:
          - name: "-g"
            activation: {trigger: "a/b"}
          - name: 12
            activation: {trigger: ""}
        """,
        [
            "line 2: intents[0] name 'ask crossing' may hold only letters, digits, '_', '-' "
            "and '.' (and must not start with '-' or '.')",
            "line 4: goals[0] name '-g' may hold only letters, digits, '_', '-' and '.' "
            "(and must not start with '-' or '.')",
            "line 5: goals[0]: activation trigger 'a/b' may hold only letters, digits, '_', '-' "
            "and '.' (and must not start with '-' or '.')",
            "line 7: goal '12': activation trigger must not be empty",
        ],
    ),
    "missing goal fields": (
        """\
        goals:
          - repeatable: true
        """,
        ["line 2: goals[0]: missing 'name'", "line 2: goals[0]: missing 'activation'"],
    ),
    "repeatable not a boolean": (
        """\
        goals:
          - name: a
            repeatable: "no"
            activation: {trigger: t}
          - name: b
            repeatable: [true]
            activation: {trigger: t}
        """,
        [
            "line 3: goal 'a': repeatable must be true or false, not 'no'",
            "line 6: goal 'b': repeatable must be true or false, not a list",
        ],
    ),
    "activation problems": (
        """\
        intents:
          - {name: ask, training_phrases: [a]}
        goals:
          - name: a
            activation: {intent: asks}
          - name: b
            activation: {}
          - name: c
            activation:
          - name: d
            activation: player_arrived
          - name: e
            activation: {trigger: t, when: always}
        """,
        [
            "line 5: goal 'a': activation intent 'asks' is not defined under 'intents' "
            "(defined: ask)",
            "line 7: goal 'b': activation needs an 'intent' or a 'trigger'",
            "line 9: goal 'c': activation needs an 'intent' or a 'trigger'",
            "line 11: goal 'd': activation must be a mapping, not a single value",
            "line 13: goal 'e': activation: unknown key 'when' (expected one of: intent, trigger)",
        ],
    ),
    "a broken intent is still defined": (
        """\
        intents:
          - {name: ask, training_phrases: []}
        goals:
          - {name: a, activation: {intent: ask}}
        """,
        ["line 2: intent 'ask': training_phrases must not be empty"],
    ),
    "intent with no intents defined": (
        "goals:\n  - {name: a, activation: {intent: ask}}\n",
        [
            "line 2: goal 'a': activation intent 'ask' is not defined under 'intents' "
            "(defined: none are defined)"
        ],
    ),
    "reserved trigger names": (
        """\
        goals:
          - name: a
            activation: {trigger: inworld.goal.enable}
            actions:
              - send_trigger: inworld.goal.complete.a
        """,
        [
            "line 3: goal 'a': activation trigger 'inworld.goal.enable': names starting with "
            "'inworld.' are reserved",
            "line 5: goal 'a': actions[0]: send_trigger 'inworld.goal.complete.a': names "
            "starting with 'inworld.' are reserved",
        ],
    ),
    "bad emotion": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            actions:
              - emotion_change: HAPPY
              - emotion_change: angr
        """,
        [
            "line 5: goal 'a': actions[0]: unknown emotion 'HAPPY' (expected one of: NEUTRAL, "
            "DISGUST, CONTEMPT, BELLIGERENCE, DOMINEERING, CRITICISM, ANGER, TENSION, "
            "TENSE_HUMOR, DEFENSIVENESS, WHINING, SADNESS, STONEWALLING, INTEREST, VALIDATION, "
            "AFFECTION, HUMOR, SURPRISE, JOY)",
            "line 6: goal 'a': actions[1]: unknown emotion 'angr' (did you mean ANGER? expected "
            "one of: NEUTRAL, DISGUST, CONTEMPT, BELLIGERENCE, DOMINEERING, CRITICISM, ANGER, "
            "TENSION, TENSE_HUMOR, DEFENSIVENESS, WHINING, SADNESS, STONEWALLING, INTEREST, "
            "VALIDATION, AFFECTION, HUMOR, SURPRISE, JOY)",
        ],
    ),
    "unspecified emotion is not an emotion": (
        "goals:\n  - {name: a, activation: {trigger: t}, actions: [{emotion_change: SPAFF_CODE_UNSPECIFIED}]}\n",
        [
            "line 2: goal 'a': actions[0]: unknown emotion 'SPAFF_CODE_UNSPECIFIED' (expected "
            "one of: NEUTRAL, DISGUST, CONTEMPT, BELLIGERENCE, DOMINEERING, CRITICISM, ANGER, "
            "TENSION, TENSE_HUMOR, DEFENSIVENESS, WHINING, SADNESS, STONEWALLING, INTEREST, "
            "VALIDATION, AFFECTION, HUMOR, SURPRISE, JOY)"
        ],
    ),
    "action problems": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            actions:
              - {}
              - say: hello
              - instruction:
              - instruction: [one, two]
          - name: b
            activation: {trigger: t}
            actions: {instruction: hi}
        """,
        [
            "line 5: goal 'a': actions[0]: an action needs at least one of instruction, "
            "say_verbatim, emotion_change, send_trigger, character_changes",
            "line 6: goal 'a': actions[1]: unknown key 'say' (expected one of: instruction, "
            "say_verbatim, emotion_change, send_trigger, character_changes)",
            "line 7: goal 'a': actions[2]: instruction must not be empty",
            "line 8: goal 'a': actions[3]: instruction must be text, not a list",
            "line 11: goal 'b': actions must be a list, not a mapping",
        ],
    ),
    "instruction and verbatim in one goal": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            actions:
              - instruction: "Greet {player}."
              - emotion_change: JOY
              - say_verbatim: "Hello."
          - name: b
            activation: {trigger: u}
            actions:
              - {say_verbatim: "Hi.", instruction: "Wave."}
        """,
        [
            "line 7: goal 'a': a goal either gives the model an instruction or says a line "
            "verbatim, not both (say_verbatim replaces the model's reply)",
            "line 11: goal 'b': a goal either gives the model an instruction or says a line "
            "verbatim, not both (say_verbatim replaces the model's reply)",
        ],
    ),
    "character changes problems": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            actions:
              - character_changes: {}
              - character_changes: {motivation: "Run."}
              - character_changes: "Run."
        """,
        [
            "line 5: goal 'a': actions[0]: character_changes: needs set_motivation or "
            "set_core_description",
            "line 6: goal 'a': actions[1]: character_changes: unknown key 'motivation' "
            "(did you mean 'set_motivation'?)",
            "line 7: goal 'a': actions[2]: character_changes must be a mapping, not a single value",
        ],
    ),
    "unknown placeholders": (
        """\
        goals:
          - name: a
            activation: {trigger: t}
            actions:
              - instruction: "Greet {playr} and {{player}}."
              - character_changes: {set_motivation: "{{p.}} and {{ p.ok }}"}
        """,
        [
            "line 5: goal 'a': actions[0]: instruction: unknown placeholder '{playr}' "
            "(use {player}, {character} or {{p.NAME}})",
            "line 5: goal 'a': actions[0]: instruction: unknown placeholder '{{player}}' "
            "(trigger parameters are written {{p.NAME}})",
            "line 6: goal 'a': actions[1]: character_changes: set_motivation: unknown "
            "placeholder '{{p.}}' (trigger parameters are written {{p.NAME}})",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_error_names_its_line(case: str) -> None:
    text, expected = CASES[case]
    assert errors(text) == expected


def test_all_errors_of_a_config_are_reported_together_in_line_order() -> None:
    found = errors(
        """\
        goals:
          - name: a
            activation: {trigger: t}
            actions:
              - emotion_change: HAPPY
          - name: a
            repeatable: maybe
            activation: {intent: nope}
        """
    )
    assert [message.split(":")[0] for message in found] == ["line 5", "line 6", "line 7", "line 8"]


def test_an_oversized_config_is_refused_without_parsing() -> None:
    text = "# " + "x" * MAX_CONFIG_CHARS
    assert errors(text) == [
        f"line 1: the goals config is {len(text)} characters long; "
        f"at most {MAX_CONFIG_CHARS} are allowed"
    ]


def test_tags_are_never_constructed() -> None:
    # With an unsafe loader this tag would run a command; here it is only a list to walk.
    found = errors("goals: !!python/object/apply:os.system ['true']\n")
    assert found == ["line 1: goals[0] must be a mapping, not a single value"]


def test_template_problems_accepts_the_three_placeholders() -> None:
    assert template_problems("{player} meets {character} for {{p.price}} / {{ p.x-y }}") == []
    assert template_problems("no placeholders at all") == []
