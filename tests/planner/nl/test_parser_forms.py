"""Questions in the forms people type or speak, not the forms a grammar book prefers: fragments, word-order
variants, non-native grammar (no articles, no auxiliaries, the wrong verb form), other verbs for picking up and
putting down, British spelling, ordinals in words. Hand-written user questions with the plan each should give."""

from __future__ import annotations

from typing import Any

import pytest

from robomem.planner.nl.parser import ParseContext, Parser
from robomem.planner.nl.plan import AttributeKind, Intent, Relation

from .conftest import DAY1, H, check_plan

I = Intent

CASES: dict[str, list[tuple[str, Intent, dict[str, Any]]]] = {
    "fragments": [
        ("mug, where now?", I.FIND_OBJECT, {"target": "mug"}),
        ("keychain - last seen?", I.FIND_OBJECT, {"target": "keychain"}),
        ("office visits today, how many", I.ROOM_ENTRIES, {"room": "office", "count": True}),
        ("remote: which room?", I.OBJECT_ROOM, {"target": "remote"}),
        ("vase from the counter - its colour?", I.OBJECT_ATTRIBUTE,
         {"target": "vase", "attribute_kind": AttributeKind.COLOR, "relation": Relation.PICKED_FROM}),
        ("first thing you grabbed?", I.PICK_ORDER, {"ordinal": 1}),
        ("mugs seen - how many?", I.COUNT_CATEGORY, {"target": "mug"}),
        ("room at 14:05?", I.ROOM_AT_TIME, {"at": DAY1 + 14 * H + 5 * 60_000_000_000}),
        ("sofa - what did you leave there?", I.FIND_OBJECT, {"receptacle": "sofa", "relation": Relation.PLACED}),
        ("the book and the vase - any order, go", I.MULTI_LIST, {"objects": ("book", "vase"), "ordered": False}),
        ("book - you moved it?", I.DID_PICK, {"target": "book"}),
    ],
    "word order": [
        ("The remote, where did you put it?", I.PLACE_RECEPTACLE, {"target": "remote"}),
        ("In the kitchen how many times were you?", I.ROOM_ENTRIES, {"room": "kitchen"}),
        ("The vase - what is it made of?", I.OBJECT_ATTRIBUTE, {"attribute_kind": AttributeKind.MATERIAL}),
    ],
    "non-native grammar": [
        ("where is mug you see last time", I.FIND_OBJECT, {"target": "mug"}),
        ("which thing you take first?", I.PICK_ORDER, {"ordinal": 1}),
        ("how much time you go in kitchen", I.ROOM_ENTRIES, {"room": "kitchen"}),
        ("how many time you take the book", I.PICK_COUNT, {"target": "book"}),
        ("you take remote or not?", I.DID_PICK, {"target": "remote"}),
        ("go to furniture most near to mug", I.RECEPTACLE_NEAR_OBJECT, {"target": "mug", "superlative": "nearest"}),
        ("where you put book?", I.PLACE_RECEPTACLE, {"target": "book"}),
        ("how many mug you was seeing?", I.COUNT_CATEGORY, {"target": "mug"}),
        ("bring me to mug in office", I.FIND_OBJECT, {"target": "mug", "room": "office"}),
        ("how many thing move in kitchen since 9 am", I.CHANGES, {"room": "kitchen", "count": True}),
        ("in what room you stay at 14:05", I.ROOM_AT_TIME, {"at": DAY1 + 14 * H + 5 * 60_000_000_000}),
        ("the thing u moved thats glass, take me", I.FIND_OBJECT, {"target": "glass object", "interacted": True}),
        ("colour mug you pick from counter?", I.OBJECT_ATTRIBUTE, {"attribute_kind": AttributeKind.COLOR}),
    ],
    "verbs for picking up and putting down": [
        ("Where's the mug you snatched?", I.FIND_OBJECT, {"target": "mug", "interacted": True}),
        ("Take me to whatever you fetched last", I.PICK_ORDER, {"ordinal": -1}),
        ("Where did you stash the book?", I.PLACE_RECEPTACLE, {"target": "book"}),
        ("Where did you drop off the vase?", I.PLACE_RECEPTACLE, {"target": "vase"}),
        ("Which shelf did you stow the remote on?", I.PLACE_RECEPTACLE, {"target": "remote"}),
        ("Go to what you tucked away on the shelf", I.FIND_OBJECT, {"receptacle": "shelf"}),
        ("When did you nab the keychain?", I.PICK_TIME, {"target": "keychain"}),
    ],
    "British spelling and ordinals in words": [
        ("Which colour is the mug you picked up from the counter?", I.OBJECT_ATTRIBUTE,
         {"attribute_kind": AttributeKind.COLOR}),
        ("Go to the furthest piece of furniture from the mug", I.RECEPTACLE_NEAR_OBJECT, {"superlative": "farthest"}),
        ("Take me to the fourth thing you picked up", I.PICK_ORDER, {"ordinal": 4}),
        ("Go to the thing you picked up twelfth", I.PICK_ORDER, {"ordinal": 12}),
        ("When did you pick the mug up for the second time?", I.PICK_TIME, {"ordinal": 2}),
        ("Take me to the 3rd object you moved", I.PICK_ORDER, {"ordinal": 3}),
    ],
}


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [case for group in CASES.values() for case in group],
    ids=[f"{g}: {c[0]}" for g, cases in CASES.items() for c in cases],
)
def test_forms_people_use(nl_parser: Parser, nl_ctx: ParseContext, text: str, intent: Intent,
                          slots: dict[str, Any]) -> None:
    check_plan(nl_parser.parse(text, nl_ctx), intent, slots)


@pytest.mark.parametrize("text", ["far", "same place", "the hall", "mug mug mug", "where", "how many", "take me"])
def test_words_alone_are_not_a_confident_plan(nl_parser: Parser, nl_ctx: ParseContext, text: str) -> None:
    """A word or two that names no question type, or a question type without its thing, is not answered."""
    plan = nl_parser.parse(text, nl_ctx)
    if plan.intent is not Intent.NOT_UNDERSTOOD and plan.confidence >= 0.5:
        assert plan.target is not None or plan.room, (text, plan)


def test_go_to_one_is_a_thing_not_one_oclock(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    plan = nl_parser.parse("I need a mug. Take me to one.", nl_ctx)
    check_plan(plan, I.FIND_OBJECT, {"target": "mug", "time": None})


def test_real_words_are_not_corrected_into_question_words(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    plan = nl_parser.parse("go to the furniture most far from the mug", nl_ctx)
    assert not any(n.startswith("spelling") for n in plan.notes), plan.notes
    plan = nl_parser.parse("Waht did you pick up first?", nl_ctx)
    assert plan.intent is Intent.PICK_ORDER and any("waht->what" in n for n in plan.notes), plan.notes
