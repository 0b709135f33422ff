"""Loosely said questions about the robot's own pick-ups and loosely said 'any one of them' requests.
Hand-written user questions by phenomenon, each with the plan its plain form gives:
yes/no questions said as statements with a yes/no or agreement tag, with the subject left out, or after a story
with an intro phrase ("first question: ..."); and free-choice requests ("..., any one will do") for one thing of the
set the robot did or did not handle."""

from __future__ import annotations

from typing import Any

import pytest

from robomem.planner.nl.parser import ParseContext, Parser
from robomem.planner.nl.plan import Intent

from .conftest import check_plan

I = Intent

CASES: dict[str, list[tuple[str, Intent, dict[str, Any]]]] = {
    "statement with a yes/no tag": [
        ("The vase - lifted it, yes or no?", I.DID_PICK, {"target": "vase"}),
        ("You have collected the remote or not?", I.DID_PICK, {"target": "remote"}),
        ("you grabbed my book or no?", I.DID_PICK, {"target": "book"}),
        ("Picked up the keychain, true or false?", I.DID_PICK, {"target": "keychain"}),
    ],
    "agreement tag": [
        ("The book - carried by you, wasn't it?", I.DID_PICK, {"target": "book"}),
        ("the keychain: moved by you, was it?", I.DID_PICK, {"target": "keychain"}),
        ("You took the remote, didn't you?", I.DID_PICK, {"target": "remote"}),
        ("the vase - you moved it, right?", I.DID_PICK, {"target": "vase"}),
    ],
    "intro phrase after a story": [
        ("My book was on the sofa and now it's gone. First question: did you take it?", I.DID_PICK,
         {"target": "book"}),
        ("The remote was by the counter earlier. Let's begin with you: did you grab it?", I.DID_PICK,
         {"target": "remote"}),
    ],
    "any one of the things you did or did not handle": [
        ("one of the items you've touched, any will do", I.FIND_OBJECT, {"target": "object", "interacted": True}),
        ("some thing you messed with - doesn't matter which one", I.FIND_OBJECT,
         {"target": "object", "interacted": True}),
        ("any old object you never handled, your choice", I.FIND_OBJECT, {"target": "object", "interacted": False}),
        ("whichever stuff you got your hands on", I.FIND_OBJECT, {"target": "object", "interacted": True}),
        ("one of the mugs you didn't touch, either one is fine", I.FIND_OBJECT,
         {"target": "mug", "interacted": False}),
        ("Go to one of the books you picked up", I.FIND_OBJECT, {"target": "book", "interacted": True}),
    ],
}

ALL = [(k, *c) for k, cs in CASES.items() for c in cs]


@pytest.mark.parametrize("kind,question,intent,slots", ALL, ids=[f"{k}: {q}" for k, q, *_ in ALL])
def test_loose_forms(nl_parser: Parser, nl_ctx: ParseContext, kind: str, question: str, intent: Intent,
                     slots: dict[str, Any]) -> None:
    check_plan(nl_parser.parse(question, nl_ctx), intent, slots)


def test_choice_tail_keeps_plain_questions(nl_parser: Parser, nl_ctx: ParseContext) -> None:
    """A free-choice tail does not turn a question into a request; listing what was picked stays a list."""
    check_plan(nl_parser.parse("Which things did you pick up?", nl_ctx), I.MULTI_PICKED, {})
    check_plan(nl_parser.parse("Did you pick up any mug?", nl_ctx), I.DID_PICK, {"target": "mug"})
