"""The parser on questions people ask a home robot, grouped by phenomenon, with the plan each should give.

These are hand-written user questions (not the simulator's templates): what the planner must understand is
"what a person means", checked on the intent and the slots that carry the answer.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from robomem.planner.nl.embedder import minilm_embedder
from robomem.planner.nl.parser import ParseContext, Parser
from robomem.planner.nl.plan import AttributeKind, Intent, QueryPlan, Relation
from robomem.planner.nl.timeexpr import TimeContext

NS = 1_000_000_000
DAY1 = 1_767_571_200 * NS  # Monday 2026-01-05 00:00 UTC
NOW = DAY1 + 22 * 3600 * NS
H = 3600 * NS
I = Intent


@pytest.fixture(scope="module")
def parser() -> Parser:
    return Parser(embedder=minilm_embedder())


@pytest.fixture(scope="module")
def ctx() -> ParseContext:
    vocab = {"mug": "object", "book": "object", "remote": "object", "keychain": "object", "vase": "object",
             "table": "receptacle", "sofa": "receptacle", "counter": "receptacle", "kitchen": "room",
             "living room": "room", "office": "room"}
    return ParseContext(TimeContext(datetime.timezone.utc, NOW, DAY1 + 6 * H, NOW), vocab,
                        frozenset({"red", "blue", "ceramic", "glass"}))


def _check(plan: QueryPlan, intent: Intent, slots: dict[str, Any]) -> None:
    assert plan.intent is intent, (plan.text, plan.intent, plan.notes)
    assert plan.confidence >= 0.5, (plan.text, plan.confidence)
    for key, want in slots.items():
        if key == "target":
            got = plan.target.describe() if plan.target else None
        elif key == "receptacle":
            got = plan.receptacle.describe() if plan.receptacle else None
        elif key == "objects":
            got = tuple(o.describe() for o in plan.objects)
        elif key == "anchor":
            got = plan.anchor.describe() if plan.anchor else None
        elif key in ("at", "t0", "t1"):
            assert plan.time is not None, plan.text
            got = {"at": plan.time.at_ns, "t0": plan.time.t0_ns, "t1": plan.time.t1_ns}[key]
        else:
            got = getattr(plan, key)
        assert got == want, (plan.text, key, got, want)


CASES: dict[str, list[tuple[str, Intent, dict[str, Any]]]] = {
    "contractions and indirect questions": [
        ("Where's my mug?", I.FIND_OBJECT, {"target": "mug"}),
        ("Do you know where the remote is?", I.FIND_OBJECT, {"target": "remote"}),
        ("Could you tell me which room the book is in?", I.OBJECT_ROOM, {"target": "book"}),
        ("I'd like to know how many mugs you've seen", I.COUNT_CATEGORY, {"target": "mug"}),
        ("Can you show me where you put the book?", I.PLACE_RECEPTACLE, {"target": "book"}),
        ("I can't find my keys", I.FIND_OBJECT, {"target": "key"}),
        ("Hey robot, I was wondering whether you touched the vase", I.DID_PICK, {"target": "vase"}),
    ],
    "imperative and question forms": [
        ("Take me to the mug.", I.FIND_OBJECT, {"target": "mug", "navigate": True}),
        ("Which room has the book at the moment?", I.OBJECT_ROOM, {"target": "book"}),
        ("The mug - which room is it in now?", I.OBJECT_ROOM, {"target": "mug"}),
        ("I'm looking for the remote", I.FIND_OBJECT, {"target": "remote"}),
    ],
    "synonyms and hypernyms": [
        ("Where did I leave my keys?", I.FIND_OBJECT, {"target": "key"}),
        ("Find me a cup you haven't touched", I.FIND_OBJECT, {"target": "cup", "interacted": False}),
        ("Where's the telly remote?", I.FIND_OBJECT, {}),
        ("Take me to anything you grabbed", I.FIND_OBJECT, {"interacted": True}),
        ("How many dishes are there?", I.COUNT_CATEGORY, {"target": "dish"}),
        ("Go to the thing you put on the couch", I.FIND_OBJECT, {"receptacle": "couch", "relation": Relation.PLACED}),
    ],
    "plural and singular": [
        ("How many books did you spot?", I.COUNT_CATEGORY, {"target": "book"}),
        ("How many hats are there in the house?", I.COUNT_CATEGORY, {"target": "hat"}),  # not a typo of "has"
        ("Go to the twenty-third thing you picked up", I.PICK_ORDER, {"ordinal": 23}),
        ("Show me all the stuff you picked up", I.MULTI_PICKED, {"navigate": True, "ordered": False}),
        ("Where are the mugs?", I.FIND_OBJECT, {"target": "mug"}),
        ("How many rooms have you been in?", I.COUNT_ROOMS, {"count": True}),
    ],
    "British and American spelling": [
        ("What colour was the vase you picked up from the table?", I.OBJECT_ATTRIBUTE,
         {"attribute_kind": AttributeKind.COLOR, "target": "vase", "receptacle": "table"}),
        ("What color is the mug?", I.OBJECT_ATTRIBUTE, {"attribute_kind": AttributeKind.COLOR}),
        ("Take me to the grey mug", I.FIND_OBJECT, {"target": "gray mug"}),
        ("Go to the receptacle furthest from the book", I.RECEPTACLE_NEAR_OBJECT, {"superlative": "farthest"}),
    ],
    "ordinals in words and digits": [
        ("Take me to the thing you grabbed first", I.PICK_ORDER, {"ordinal": 1}),
        ("Go to the 2nd thing you picked up", I.PICK_ORDER, {"ordinal": 2}),
        ("Which object did you move third?", I.PICK_ORDER, {"ordinal": 3}),
        ("What was the last thing you picked up?", I.PICK_ORDER, {"ordinal": -1}),
        ("What did you pick up right after the mug?", I.PICK_ORDER, {"anchor": "mug", "anchor_offset": 1}),
        ("Which thing did you grab just before the book?", I.PICK_ORDER, {"anchor": "book", "anchor_offset": -1}),
    ],
    "numbers and counts": [
        ("How often did you go into the office?", I.ROOM_ENTRIES, {"room": "office", "count": True}),
        ("How many times have you been in the kitchen?", I.ROOM_ENTRIES, {"room": "kitchen"}),
        ("How many things did you move?", I.COUNT_PICKED, {}),
        ("Count the books you saw", I.COUNT_CATEGORY, {"target": "book"}),
        ("How many objects got moved in the kitchen since 9?", I.CHANGES,
         {"room": "kitchen", "count": True, "t0": DAY1 + 9 * H}),
    ],
    "negation": [
        ("Take me to a room you haven't been in yet", I.ROOM_NOT_VISITED, {}),
        ("Find a mug you did not pick up", I.FIND_OBJECT, {"target": "mug", "interacted": False}),
        ("Did you ever touch the remote?", I.DID_PICK, {"target": "remote"}),
    ],
    "time": [
        ("Which room were you in at 14:05?", I.ROOM_AT_TIME, {"at": DAY1 + 14 * H + 5 * 60 * NS}),
        ("Where were you at 2:05 pm?", I.ROOM_AT_TIME, {"at": DAY1 + 14 * H + 5 * 60 * NS}),
        ("Which room were you in at half past two?", I.ROOM_AT_TIME, {"at": DAY1 + 14 * H + 30 * 60 * NS}),
        ("Where were you 20 minutes ago?", I.ROOM_AT_TIME, {"at": NOW - 20 * 60 * NS}),
        ("What changed in the kitchen since lunch?", I.CHANGES, {"room": "kitchen", "t0": DAY1 + 12 * H}),
        ("What has been moved in the living room in the last hour?", I.CHANGES,
         {"room": "living room", "t0": NOW - H, "t1": NOW}),
        ("What did you put on the counter this morning?", I.FIND_OBJECT,
         {"receptacle": "counter", "t0": DAY1 + 5 * H, "t1": DAY1 + 12 * H}),
        ("Go to whatever you picked up at 14:05 on day 2", I.PICK_AT_TIME,
         {"at": DAY1 + 24 * H + 14 * H + 5 * 60 * NS}),
        ("Where did you put something down at a quarter to three?", I.PLACE_AT_TIME,
         {"at": DAY1 + 14 * H + 45 * 60 * NS}),
        ("Where did you end up yesterday evening?", I.ROOM_END, {"t0": DAY1 - 7 * H, "t1": DAY1}),
        ("When did you grab the mug?", I.PICK_TIME, {"target": "mug"}),
        ("At what time did you put the book down?", I.PLACE_TIME, {"target": "book"}),
    ],
    "durations and superlatives": [
        ("How long did moving the vase take?", I.DURATION_OF, {"target": "vase"}),
        ("Which thing took you the most time to move?", I.DURATION_EXTREME, {"superlative": "longest"}),
        ("Go to the object that was quickest to put away", I.DURATION_EXTREME, {"superlative": "shortest"}),
        ("What's nearest to the sofa?", I.OBJECT_NEAR_RECEPTACLE, {"receptacle": "sofa", "superlative": "nearest"}),
        ("Find the furniture closest to the mug", I.RECEPTACLE_NEAR_OBJECT, {"target": "mug"}),
        ("Where did you spend most of your time?", I.ROOM_MOST_TIME, {}),
    ],
    "rooms and the robot's day": [
        ("Where did you start this morning?", I.ROOM_START, {}),
        ("Which room did you finish the day in?", I.ROOM_END, {"navigate": False}),
        ("Take me to the room you were in the longest", I.ROOM_MOST_TIME, {"navigate": True}),
    ],
    "the robot's own actions": [
        ("Where did you get the book from?", I.PICK_RECEPTACLE, {"target": "book"}),
        ("Where was the mug before you picked it up?", I.PICK_RECEPTACLE, {"target": "mug"}),
        ("Where did you put the book down?", I.PLACE_RECEPTACLE, {"target": "book"}),
        ("What did you pick up?", I.MULTI_PICKED, {"navigate": False}),
        ("In which order did you pick things up?", I.MULTI_PICKED, {"ordered": True}),
        ("Where did you put everything?", I.MULTI_PLACED_RECEPTACLES, {}),
        ("Was the remote one of the things you moved?", I.DID_PICK, {"target": "remote"}),
    ],
    "repeated actions on one thing": [
        ("How many times did you grab the mug?", I.PICK_COUNT, {"target": "mug", "count": True}),
        ("How often have you moved the book?", I.PICK_COUNT, {"target": "book"}),
        ("When did you pick up the mug for the second time?", I.PICK_TIME, {"target": "mug", "ordinal": 2}),
        ("When's the last time you picked up the remote?", I.PICK_TIME, {"ordinal": -1}),
        ("The second time you took the vase, what was it sitting on? Take me there.", I.PICK_RECEPTACLE,
         {"target": "vase", "ordinal": 2}),
        ("Where did you put the book the first time?", I.PLACE_RECEPTACLE, {"target": "book", "ordinal": 1}),
        ("Show me what you set the mug down on.", I.PLACE_RECEPTACLE, {"target": "mug"}),
    ],
    "spoken clock times": [
        ("Where were you at five past two in the afternoon today?", I.ROOM_AT_TIME,
         {"at": DAY1 + 14 * H + 5 * 60 * NS}),
        ("What did you grab this morning at 9:40?", I.PICK_AT_TIME, {"at": DAY1 + 9 * H + 40 * 60 * NS}),
        ("Which room were you in yesterday evening at 6:29?", I.ROOM_AT_TIME,
         {"at": DAY1 - 24 * H + 18 * H + 29 * 60 * NS}),
        ("How many things got moved in the kitchen after nineteen minutes to nine in the morning?", I.CHANGES,
         {"t0": DAY1 + 8 * H + 41 * 60 * NS, "count": True}),
    ],
    "polite requests, typos, nominal forms": [
        ("I was wondering if you could lead me over to the mug that you picked up earlier", I.FIND_OBJECT,
         {"target": "mug", "interacted": True, "navigate": True, "time": None}),
        ("Would you mind leading me to the book you moved a while ago?", I.FIND_OBJECT, {"navigate": True}),
        ("Which furniture has the smallest distance to the mug?", I.RECEPTACLE_NEAR_OBJECT, {"superlative": "nearest"}),
        ("Take me to the thing that took the greatest amount of time to move.", I.DURATION_EXTREME,
         {"superlative": "longest"}),
        ("How long did the rearrangement of the vase take?", I.DURATION_OF, {"target": "vase"}),
        ("Go to the mug, the book and the vase, and keep to the order I listed them in.", I.MULTI_LIST,
         {"ordered": True}),
        ("Right after you picked up the mug, you picked up something else: go to that.", I.PICK_ORDER,
         {"anchor": "mug"}),
        ("Waht did you pick up first?", I.PICK_ORDER, {"ordinal": 1}),
        ("Take me to teh mug", I.FIND_OBJECT, {"target": "mug"}),
        ("whatever you set the mug down on, take me to that", I.PLACE_RECEPTACLE, {"target": "mug"}),
        ("Take me to the red one you picked up", I.FIND_OBJECT, {"target": "red object", "interacted": True}),
    ],
    "several things": [
        ("Go to the mug and then the book", I.MULTI_LIST, {"objects": ("mug", "book"), "ordered": True}),
        ("Take me to the mug, the vase and the book", I.MULTI_LIST, {"objects": ("mug", "vase", "book")}),
    ],
    "attributes and shapes": [
        ("Go to the round thing you grabbed", I.FIND_OBJECT, {"target": "round object", "interacted": True}),
        ("Take me to the glass thing you handled", I.FIND_OBJECT, {"target": "glass object"}),
        ("Navigate to the object you picked up that is made of ceramic", I.FIND_OBJECT, {"target": "ceramic object"}),
        ("What is the mug made of?", I.OBJECT_ATTRIBUTE, {"attribute_kind": AttributeKind.MATERIAL}),
    ],
}


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [case for group in CASES.values() for case in group],
    ids=[f"{g}: {c[0]}" for g, cases in CASES.items() for c in cases],
)
def test_user_questions(parser: Parser, ctx: ParseContext, text: str, intent: Intent, slots: dict[str, Any]) -> None:
    _check(parser.parse(text, ctx), intent, slots)


@pytest.mark.parametrize("text", ["", "   ", "blorp zzz quux", "sing me a song", "how are you?",
                                  "What's the weather like?", "tell me a joke", "at 25:99 go"])
def test_what_is_not_understood_has_low_confidence(parser: Parser, ctx: ParseContext, text: str) -> None:
    plan = parser.parse(text, ctx)
    assert plan.intent is Intent.NOT_UNDERSTOOD or plan.confidence < 0.5, (text, plan)


def test_a_count_of_times_is_never_read_as_a_count_of_things(parser: Parser, ctx: ParseContext) -> None:
    """The bug behind "I saw 0 times have you entered the office": the counted thing must be a thing."""
    for text in ("How many times have you entered the office?", "how often were you in the office",
                 "What's the number of times you went into the office?"):
        plan = parser.parse(text, ctx)
        assert plan.intent is Intent.ROOM_ENTRIES and plan.room == "office", (text, plan)


def test_parsing_is_deterministic_and_rules_only_mode_works(parser: Parser, ctx: ParseContext) -> None:
    a = parser.parse("Take me to the thing you grabbed first", ctx)
    assert a == parser.parse("Take me to the thing you grabbed first", ctx)
    rules = Parser(embedder=None)
    b = rules.parse("Take me to the thing you grabbed first", ctx)
    assert b.intent is a.intent and b.ordinal == a.ordinal == 1


def test_memory_vocabulary_names_things_the_lexicon_does_not_know(parser: Parser, ctx: ParseContext) -> None:
    plan = parser.parse("where is the zorbulator?", ctx)
    assert plan.intent is Intent.FIND_OBJECT and plan.target is not None and plan.target.head == "zorbulator"
    vocab = ParseContext(ctx.time, {**ctx.vocabulary, "zorbulator": "receptacle"}, ctx.attribute_words)
    plan = parser.parse("what's closest to the zorbulator?", vocab)
    assert plan.intent is Intent.OBJECT_NEAR_RECEPTACLE and plan.receptacle is not None
