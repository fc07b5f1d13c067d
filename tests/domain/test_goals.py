"""Goal decisions: activation, actions, templates, repeatability, switches, state."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from anima.domain.events import SpaffCode, TriggerFired
from anima.domain.goals import (
    CharacterChanges,
    GoalDecision,
    GoalsConfig,
    GoalState,
    IntentMatch,
    Reply,
    Stimulus,
    Trigger,
    active_intents,
    decide,
    event_text,
    parse_goals,
    render,
    trigger_name,
    trigger_resource,
)
from anima.errors import InvalidArgument
from tests.domain.test_goals_yaml import ISSUE_EXAMPLE

EXAMPLE = parse_goals(ISSUE_EXAMPLE)


def config(text: str) -> GoalsConfig:
    return parse_goals(textwrap.dedent(text))


def run(goals: GoalsConfig, stimulus: Stimulus, state: GoalState | None = None) -> GoalDecision:
    return decide(goals, state or GoalState(), stimulus, player="Ada", character="Old Tom")


def one_goal(*actions: str) -> GoalsConfig:
    """A config with one goal ``g``, activated by the trigger ``go``, doing ``actions``."""
    lines = [
        "goals:",
        "  - name: g",
        "    activation: {trigger: go}",
        "    actions:",
        *(f"      - {action}" for action in actions),
    ]
    return parse_goals("\n".join(lines) + "\n")


# -- each action on its own ----------------------------------------------------------------


def test_instruction_steers_a_model_reply() -> None:
    decision = run(one_goal('instruction: "Offer the ferry."'), Trigger("go"))
    assert decision.reply is Reply.MODEL
    assert decision.needs_model
    assert decision.goal == "g"
    assert decision.instructions == ("Offer the ferry.",)
    assert decision.verbatim is None
    assert decision.emotion is None
    assert decision.triggers == ("inworld.goal.complete.g",)
    assert not decision.character_changes
    assert decision.event_text is None


def test_say_verbatim_speaks_the_line_without_the_model() -> None:
    decision = run(one_goal('say_verbatim: "Mind the mud, traveller."'), Trigger("go"))
    assert decision.reply is Reply.VERBATIM
    assert not decision.needs_model
    assert decision.verbatim == "Mind the mud, traveller."
    assert decision.instructions == ()


def test_several_verbatim_lines_are_spoken_in_order() -> None:
    decision = run(
        one_goal('say_verbatim: "Halt."', 'say_verbatim: "Who goes there?"'), Trigger("go")
    )
    assert decision.verbatim == "Halt. Who goes there?"


def test_emotion_change_alone_sets_the_emotion_and_says_nothing() -> None:
    decision = run(one_goal("emotion_change: SADNESS"), Trigger("go"))
    assert decision.emotion is SpaffCode.SADNESS
    assert decision.reply is Reply.NONE
    assert decision.triggers == ("inworld.goal.complete.g",)


def test_the_last_emotion_change_wins() -> None:
    decision = run(one_goal("emotion_change: JOY", "emotion_change: anger"), Trigger("go"))
    assert decision.emotion is SpaffCode.ANGER


def test_send_trigger_reaches_the_client_before_the_completion() -> None:
    decision = run(
        one_goal("send_trigger: ferry_offered", "send_trigger: coins_due"), Trigger("go")
    )
    assert decision.triggers == ("ferry_offered", "coins_due", "inworld.goal.complete.g")
    assert decision.reply is Reply.NONE


def test_character_changes_apply_to_the_session_state() -> None:
    goals = one_goal(
        'character_changes: {set_motivation: "Find the thief."}',
        'character_changes: {set_core_description: "A wary ferryman."}',
    )
    before = GoalState(character_changes=CharacterChanges(motivation="Earn coin."))
    decision = run(goals, Trigger("go"), before)
    expected = CharacterChanges(motivation="Find the thief.", core_description="A wary ferryman.")
    assert decision.character_changes == expected
    assert decision.state.character_changes == expected
    assert decision.reply is Reply.NONE


def test_later_character_changes_only_replace_what_they_set() -> None:
    state = GoalState(character_changes=CharacterChanges("Earn coin.", "A ferryman."))
    goals = one_goal('character_changes: {set_motivation: "Flee."}')
    after = run(goals, Trigger("go"), state).state.character_changes
    assert after == CharacterChanges(motivation="Flee.", core_description="A ferryman.")


def test_a_goal_without_actions_still_completes() -> None:
    goals = config("goals:\n  - {name: quiet, activation: {trigger: hush}}\n")
    decision = run(goals, Trigger("hush"))
    assert decision.goal == "quiet"
    assert decision.triggers == ("inworld.goal.complete.quiet",)
    assert decision.reply is Reply.NONE


# -- templates -----------------------------------------------------------------------------


def test_player_template() -> None:
    decision = run(one_goal('instruction: "Greet {player}."'), Trigger("go"))
    assert decision.instructions == ("Greet Ada.",)


def test_character_template() -> None:
    decision = run(one_goal('say_verbatim: "I am {character}."'), Trigger("go"))
    assert decision.verbatim == "I am Old Tom."


def test_parameter_template() -> None:
    goals = one_goal('instruction: "Ask for {{p.price}} coins."')
    decision = run(goals, Trigger.of("go", {"price": "3"}))
    assert decision.instructions == ("Ask for 3 coins.",)


def test_a_missing_parameter_renders_as_nothing() -> None:
    goals = one_goal('instruction: "Ask for {{p.price}} coins."')
    assert run(goals, Trigger("go")).instructions == ("Ask for coins.",)


def test_templates_together_and_in_character_changes() -> None:
    goals = one_goal(
        'character_changes: {set_motivation: "{character} wants {player} to pay {{p.price}}."}'
    )
    decision = run(goals, Trigger.of("go", {"price": "7", "unused": "x"}))
    assert decision.state.character_changes.motivation == "Old Tom wants Ada to pay 7."


def test_render_is_pure_text_substitution() -> None:
    params = {"a-b": "{player}"}
    # Substituted values are not expanded again.
    assert render("{{ p.a-b }}", player="Ada", character="Tom", params=params) == "{player}"
    assert render("{player}{player}", player="Ada", character="Tom", params={}) == "AdaAda"
    assert render("no  placeholders", player="A", character="T", params={}) == "no  placeholders"


# -- all actions together: the issue's example --------------------------------------------


def test_the_example_ferry_goal_by_trigger_with_parameters() -> None:
    decision = run(EXAMPLE, Trigger.of("workspaces/ws1/triggers/offer_ferry", {"price": "5"}))
    assert decision == GoalDecision(
        state=GoalState(completed=frozenset({"offer_ferry"})),
        reply=Reply.MODEL,
        goal="offer_ferry",
        instructions=("Tell Ada the bridge is out and offer a ferry ride for 5 coins.",),
        emotion=SpaffCode.INTEREST,
        triggers=("ferry_offered", "inworld.goal.complete.offer_ferry"),
    )


def test_the_example_hostile_goal_runs_every_action() -> None:
    decision = run(EXAMPLE, Trigger("boat_stolen"))
    assert decision.reply is Reply.MODEL
    assert decision.instructions == ("Accuse Ada of stealing the ferry.",)
    assert decision.emotion is SpaffCode.ANGER
    assert decision.character_changes == CharacterChanges(motivation="Old Tom wants Ada caught.")
    assert decision.state.character_changes == decision.character_changes
    assert decision.triggers == ("inworld.goal.complete.turn_hostile",)


def test_the_example_ferry_goal_by_intent() -> None:
    decision = run(EXAMPLE, IntentMatch("ask_crossing", 0.8))
    assert decision.goal == "offer_ferry"
    assert decision.reply is Reply.MODEL
    assert decision.instructions == (
        "Tell Ada the bridge is out and offer a ferry ride for coins.",
    )


def test_an_intent_goal_without_instruction_still_answers_the_player() -> None:
    goals = config(
        """\
        intents: [{name: hi, training_phrases: [hello]}]
        goals: [{name: g, activation: {intent: hi}, actions: [{emotion_change: JOY}]}]
        """
    )
    decision = run(goals, IntentMatch("hi", 0.9))
    assert decision.reply is Reply.MODEL
    assert decision.emotion is SpaffCode.JOY


def test_an_intent_no_goal_takes_changes_nothing() -> None:
    state = GoalState(completed=frozenset({"offer_ferry"}))
    decision = run(EXAMPLE, IntentMatch("ask_crossing", 0.9), state)
    assert decision == GoalDecision(state=state, reply=Reply.MODEL)


# -- repeatable, order, unmatched ---------------------------------------------------------


def test_a_repeatable_goal_runs_every_time() -> None:
    state = GoalState()
    for _ in range(3):
        decision = run(EXAMPLE, Trigger("player_arrived"), state)
        assert decision.verbatim == "Mind the mud, traveller."
        assert decision.triggers == ("inworld.goal.complete.greet",)
        state = decision.state
    assert state.completed == {"greet"}


def test_a_non_repeatable_goal_runs_once_then_the_trigger_is_unmatched() -> None:
    first = run(EXAMPLE, Trigger.of("offer_ferry", {"price": "2"}))
    assert first.goal == "offer_ferry"
    second = run(EXAMPLE, Trigger.of("offer_ferry", {"price": "2"}), first.state)
    assert second.goal is None
    assert second.triggers == ()
    assert second.event_text == "The game tells you: offer ferry (price: 2)."
    assert second.state == first.state


def test_the_first_active_goal_in_written_order_wins() -> None:
    goals = config(
        """\
        goals:
          - name: first_visit
            repeatable: false
            activation: {trigger: arrive}
            actions: [{say_verbatim: "Welcome, stranger."}]
          - name: later_visits
            activation: {trigger: arrive}
            actions: [{say_verbatim: "Back again?"}]
        """
    )
    first = run(goals, Trigger("arrive"))
    second = run(goals, Trigger("arrive"), first.state)
    third = run(goals, Trigger("arrive"), second.state)
    assert [d.verbatim for d in (first, second, third)] == [
        "Welcome, stranger.",
        "Back again?",
        "Back again?",
    ]


def test_an_unmatched_trigger_reaches_the_character_as_an_event() -> None:
    decision = run(EXAMPLE, Trigger.of("workspaces/ws/triggers/storm_rising"))
    assert decision == GoalDecision(
        state=GoalState(),
        reply=Reply.MODEL,
        event_text="The game tells you: storm rising.",
    )


def test_an_unmatched_trigger_with_parameters_lists_them_in_order() -> None:
    trigger = Trigger.of("gift-given", {"item": "a lantern", "from": "the mayor"})
    assert run(EXAMPLE, trigger).event_text == (
        "The game tells you: gift given (item: a lantern, from: the mayor)."
    )
    assert event_text(Trigger("___")) == "The game tells you: ___."


def test_other_builtin_triggers_just_let_the_character_speak() -> None:
    decision = run(EXAMPLE, Trigger("inworld.conversation.next_turn"))
    assert decision == GoalDecision(state=GoalState(), reply=Reply.MODEL)


def test_a_config_without_goals_turns_every_trigger_into_an_event() -> None:
    decision = run(GoalsConfig(), Trigger("player_arrived"))
    assert decision.event_text == "The game tells you: player arrived."


# -- enable and disable ---------------------------------------------------------------------


def switch(name: str, goal: str) -> Trigger:
    return Trigger.of(name, {"goal_name": goal})


def test_disable_then_enable_a_goal() -> None:
    off = run(EXAMPLE, switch("inworld.goal.disable", "greet"))
    assert off.reply is Reply.NONE
    assert off.triggers == ()
    assert off.event_text is None
    assert off.state.disabled == {"greet"}

    blocked = run(EXAMPLE, Trigger("player_arrived"), off.state)
    assert blocked.goal is None
    assert blocked.event_text == "The game tells you: player arrived."

    on = run(EXAMPLE, switch("inworld.goal.enable", "greet"), off.state)
    assert on.state.disabled == frozenset()
    assert run(EXAMPLE, Trigger("player_arrived"), on.state).goal == "greet"


def test_disabling_a_goal_also_stops_its_intent() -> None:
    off = run(EXAMPLE, switch("inworld.goal.disable", "offer_ferry")).state
    assert active_intents(EXAMPLE, GoalState()) == {"ask_crossing"}
    assert active_intents(EXAMPLE, off) == frozenset()
    assert run(EXAMPLE, IntentMatch("ask_crossing", 0.9), off).goal is None


def test_enabling_rearms_a_completed_non_repeatable_goal() -> None:
    done = run(EXAMPLE, Trigger("offer_ferry")).state
    assert active_intents(EXAMPLE, done) == frozenset()
    again = run(EXAMPLE, switch("inworld.goal.enable", "offer_ferry"), done).state
    assert again.completed == frozenset()
    assert run(EXAMPLE, Trigger("offer_ferry"), again).goal == "offer_ferry"


def test_switches_keep_character_changes() -> None:
    state = GoalState(character_changes=CharacterChanges(motivation="Flee."))
    assert run(EXAMPLE, switch("inworld.goal.disable", "greet"), state).state.character_changes == (
        state.character_changes
    )


@pytest.mark.parametrize("name", ["inworld.goal.enable", "inworld.goal.disable"])
def test_a_switch_needs_a_known_goal_name(name: str) -> None:
    with pytest.raises(InvalidArgument, match="needs the parameter 'goal_name'"):
        run(EXAMPLE, Trigger(name))
    with pytest.raises(InvalidArgument, match="needs the parameter 'goal_name'"):
        run(EXAMPLE, switch(name, "  "))
    with pytest.raises(
        InvalidArgument,
        match="'ferry' is not a goal of this character \\(goals: offer_ferry, greet, turn_hostile\\)",
    ):
        run(EXAMPLE, switch(name, "ferry"))


# -- state -----------------------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    state = GoalState(
        completed=frozenset({"b", "a"}),
        disabled=frozenset({"greet"}),
        character_changes=CharacterChanges(motivation="Flee.", core_description="A ferryman."),
    )
    data = json.loads(json.dumps(state.to_dict()))
    assert data == {
        "completed": ["a", "b"],
        "disabled": ["greet"],
        "motivation": "Flee.",
        "coreDescription": "A ferryman.",
    }
    assert GoalState.from_dict(data) == state
    assert GoalState.from_dict(GoalState().to_dict()) == GoalState()
    assert GoalState().to_dict() == {"completed": [], "disabled": []}


def test_state_from_a_decision_round_trips() -> None:
    state = run(EXAMPLE, Trigger("boat_stolen")).state
    state = run(EXAMPLE, switch("inworld.goal.disable", "greet"), state).state
    assert GoalState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_state_from_dict_ignores_unknown_keys_and_fills_defaults() -> None:
    assert GoalState.from_dict({"future": 1}) == GoalState()


@pytest.mark.parametrize(
    "data",
    [
        {"completed": "greet"},
        {"completed": [1]},
        {"disabled": None},
        {"motivation": 3},
        {"coreDescription": ["x"]},
    ],
)
def test_state_from_dict_refuses_junk(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match="goal state"):
        GoalState.from_dict(data)


def test_state_from_dict_refuses_a_non_object() -> None:
    with pytest.raises(InvalidArgument, match="must be an object"):
        GoalState.from_dict([])  # type: ignore[arg-type]


def test_decide_leaves_the_given_state_untouched() -> None:
    state = GoalState()
    run(EXAMPLE, Trigger("boat_stolen"), state)
    assert state == GoalState()


# -- trigger names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "short"),
    [
        ("workspaces/ws1/triggers/offer_ferry", "offer_ferry"),
        ("offer_ferry", "offer_ferry"),
        ("  greet ", "greet"),
        ("inworld.goal.enable", "inworld.goal.enable"),
    ],
)
def test_trigger_name_takes_the_short_id(given: str, short: str) -> None:
    assert trigger_name(given) == short
    assert Trigger.of(given).name == short


@pytest.mark.parametrize(
    "bad", ["", "  ", "workspaces/ws1/triggers/", "projects/p/triggers/x", "a/b"]
)
def test_trigger_name_refuses_other_shapes(bad: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        trigger_name(bad)
    assert caught.value.field == "triggerEvent.trigger"


def test_trigger_resource_is_the_rest_name() -> None:
    assert trigger_resource("ws1", "ferry_offered") == "workspaces/ws1/triggers/ferry_offered"
    assert trigger_name(trigger_resource("ws1", "ferry_offered")) == "ferry_offered"


def test_trigger_parameters_keep_order_and_read_as_a_dict() -> None:
    trigger = Trigger.of("go", {"b": "2", "a": "1"})
    assert trigger.parameters == (("b", "2"), ("a", "1"))
    assert trigger.params == {"b": "2", "a": "1"}
    from_pairs = Trigger.of("go", [("b", "2"), ("a", "1"), ("b", "3")])
    assert from_pairs.parameters == (("b", "2"), ("a", "1"), ("b", "3"))
    assert from_pairs.params == {"b": "3", "a": "1"}


def test_decision_triggers_as_turn_events() -> None:
    decision = run(EXAMPLE, Trigger.of("offer_ferry", {"price": "5"}))
    assert decision.trigger_events("i1", "agent-1") == (
        TriggerFired("i1", "agent-1", "ferry_offered"),
        TriggerFired("i1", "agent-1", "inworld.goal.complete.offer_ferry"),
    )
