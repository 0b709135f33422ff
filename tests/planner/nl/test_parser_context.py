"""Questions wrapped in a story: the parser answers the request, not the preamble.

People say why they ask, what someone else said, or what they remember the robot doing, before (or around) the
actual question. The story's verbs ("leave", "need", "heading out") and its nouns ("my son", "the party") must
not be read as the question's; a pronoun in the request ("it", "them") stands for the thing the story named; a
time the story gives ("I was out since 9") belongs to a request that has none. Hand-written user questions.
"""

from __future__ import annotations

from typing import Any

import pytest

from robomem.planner.nl.clauses import split_clauses
from robomem.planner.nl.parser import ParseContext, Parser
from robomem.planner.nl.plan import Intent, Relation

from .conftest import DAY1, NS, H, check_plan

I = Intent

CASES: dict[str, list[tuple[str, Intent, dict[str, Any]]]] = {
    "a story before the question": [
        ("I'm heading out in five minutes and I can't find my keychain - where did you see it last?",
         I.FIND_OBJECT, {"target": "keychain"}),
        ("We're hosting dinner tonight. Where did you put the glass vase?", I.PLACE_RECEPTACLE,
         {"target": "glass vase"}),
        ("I'm doing a bit of spring cleaning; how many mugs did you come across?", I.COUNT_CATEGORY,
         {"target": "mug"}),
        ("My back hurts today, so please just tell me which room the remote is in.", I.OBJECT_ROOM,
         {"target": "remote"}),
        ("I'm curious about your day: which room did you start in?", I.ROOM_START, {}),
        ("The guests arrive soon and I still need the book. Take me to it.", I.FIND_OBJECT, {"target": "book"}),
    ],
    "what someone else said": [
        ("My daughter says she left her mug somewhere; could you show me where it is now?", I.FIND_OBJECT,
         {"target": "mug", "navigate": True}),
        ("My husband thinks you moved the remote. Did you?", I.DID_PICK, {"target": "remote"}),
        ("Grandma wants to know: did you touch the vase?", I.DID_PICK, {"target": "vase"}),
        ("The kids told me the book is missing - where was it last seen?", I.FIND_OBJECT, {"target": "book"}),
    ],
    "what the robot did, then the question": [
        ("You picked up the mug at some point; what did you grab right after it?", I.PICK_ORDER,
         {"anchor": "mug", "anchor_offset": 1}),
        ("I think you moved the book this morning. Where did you put it?", I.PLACE_RECEPTACLE,
         {"target": "book"}),
        ("You carried the remote earlier. How long did that take?", I.DURATION_OF, {"target": "remote"}),
    ],
    "a time given in the story": [
        ("I left for work at 9 am. How many things were moved in the kitchen since then?", I.CHANGES,
         {"room": "kitchen", "count": True, "t0": DAY1 + 9 * H}),
        ("There was a loud bang at 14:05. Which room were you in then?", I.ROOM_AT_TIME,
         {"at": DAY1 + 14 * H + 5 * 60 * NS}),
        ("I was away since noon and the office looks different. Show me what was moved there.", I.CHANGES,
         {"room": "office", "t0": DAY1 + 12 * H}),
    ],
    "context after the question": [
        ("Where did you put the book? My son needs it for school in the office.", I.PLACE_RECEPTACLE,
         {"target": "book", "room": ""}),
        ("Which room is the remote in? I want to watch something.", I.OBJECT_ROOM, {"target": "remote"}),
    ],
    "a wish or a mood before the request": [
        ("I'm curious how your day went. Take me to the first thing you picked up.", I.PICK_ORDER, {"ordinal": 1}),
        ("I want to see your work, so show me one thing you moved.", I.FIND_OBJECT, {"interacted": True}),
        ("For my daughter's birthday party I need the glass vase. Where is it?", I.FIND_OBJECT,
         {"target": "glass vase"}),
    ],
    "time words in the story": [
        ("I left home at 9 am. Take me to everything you picked up after that, in order.", I.MULTI_PICKED,
         {"t0": DAY1 + 9 * H, "ordered": True}),
        ("You've been busy today. How many things did you pick up?", I.COUNT_PICKED, {"time": None}),
    ],
    "a tag asking for agreement": [
        ("You moved the vase yesterday, didn't you? Where is it now?", I.FIND_OBJECT,
         {"target": "vase", "interacted": True}),
        ("Ugh, I've been looking for the book all morning. Show me where it is.", I.FIND_OBJECT,
         {"target": "book", "time": None}),
    ],
    "the story's thing is no part of a question about the robot": [
        ("My phone rang at 14:05. Where were you at that time?", I.ROOM_AT_TIME,
         {"at": DAY1 + 14 * H + 5 * NS * 60}),
        ("The mug is my favourite. How many rooms did you visit?", I.COUNT_ROOMS, {}),
    ],
    "furniture and lists named in the story": [
        ("The counter was empty this morning. What did you put on it? Take me to it.", I.FIND_OBJECT,
         {"receptacle": "counter", "relation": Relation.PLACED, "time": None}),
        ("Please stick to my list: the mug, the book and the vase. Take me to them in this order.", I.MULTI_LIST,
         {"objects": ("mug", "book", "vase"), "ordered": True}),
        ("Last week I bought something blue and I think you moved it. Take me to the blue thing you handled.",
         I.FIND_OBJECT, {"target": "blue object", "interacted": True}),
    ],
    "what the story asks for, said before the request": [
        ("I only want a mug you haven't touched, for hygiene reasons. Take me to one.", I.FIND_OBJECT,
         {"target": "mug", "interacted": False}),
        ("I'm packing and need the mug, the book and the vase. Take me to them in that order.", I.MULTI_LIST,
         {"objects": ("mug", "book", "vase"), "ordered": True}),
        ("I left the vase on purpose where it was. Did you pick it up?", I.DID_PICK, {"target": "vase"}),
    ],
    "a question said as a statement": [
        ("mug - you picked it up?", I.DID_PICK, {"target": "mug"}),
        ("you grabbed the book?", I.DID_PICK, {"target": "book"}),
        ("you have seen the keychain?", I.FIND_OBJECT, {"target": "keychain"}),
        ("red mug picked up by you?", I.DID_PICK, {"target": "red mug"}),
    ],
}


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [case for group in CASES.values() for case in group],
    ids=[f"{g}: {c[0]}" for g, cases in CASES.items() for c in cases],
)
def test_the_request_is_answered_not_the_story(nl_parser: Parser, nl_ctx: ParseContext, text: str,
                                                intent: Intent, slots: dict[str, Any]) -> None:
    check_plan(nl_parser.parse(text, nl_ctx), intent, slots)


def test_the_storys_own_verbs_and_places_are_no_constraints(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    """ "leave" in the story is not a placing, the room the speaker is in is not where the mug must be."""
    plan = nl_parser.parse("I'm about to leave the kitchen and need my mug. Where is it?", nl_ctx)
    check_plan(plan, I.FIND_OBJECT, {"target": "mug", "room": "", "relation": Relation.NONE, "interacted": None})
    plan = nl_parser.parse("I'm sitting in the office. Where's the book?", nl_ctx)
    check_plan(plan, I.FIND_OBJECT, {"target": "book", "room": ""})


def test_people_in_the_story_are_not_things_to_find(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    plan = nl_parser.parse("My neighbour popped by for tea. Take me to the red mug.", nl_ctx)
    check_plan(plan, I.FIND_OBJECT, {"target": "red mug"})
    assert not plan.objects, plan
    plan = nl_parser.parse("I'm making an inventory. How many mugs have you seen?", nl_ctx)
    check_plan(plan, I.COUNT_CATEGORY, {"target": "mug"})


def test_a_thing_never_named_is_not_found_confidently(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    """ "Show me one" of nothing named: no random object is shown as if it had been asked for."""
    for text in ("show me one", "take me to something", "My neighbour is here. Show me one."):
        plan = nl_parser.parse(text, nl_ctx)
        assert plan.intent is Intent.NOT_UNDERSTOOD or plan.confidence < 0.5, (text, plan)
    plan = nl_parser.parse("I need a teapot for a minute. Show me one.", nl_ctx)
    check_plan(plan, I.FIND_OBJECT, {"target": "teapot"})


def test_what_was_left_out_is_said_in_the_notes(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    plan = nl_parser.parse("I'm making an inventory. How many mugs have you seen?", nl_ctx)
    assert any("left out" in n and "inventory" in n for n in plan.notes), plan.notes


def test_a_story_without_a_request_is_not_understood_confidently(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    for text in ("My son went to school this morning.", "I'm tired. It was a long day."):
        plan = nl_parser.parse(text, nl_ctx)
        assert plan.intent is Intent.NOT_UNDERSTOOD or plan.confidence < 0.5, (text, plan)


def test_clauses_split_at_sentence_ends_dashes_and_before_questions() -> None:
    got = split_clauses("I'm off at 2.30 p.m. - where's my mug? Take me there; thanks, could you hurry")
    assert [c for c, _q in got] == ["i'm off at 2.30 pm", "where's my mug", "take me there", "thanks",
                                    "could you hurry"], got
    assert [q for _c, q in got] == [False, True, False, False, False]
