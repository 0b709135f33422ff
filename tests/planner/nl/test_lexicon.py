"""Normalisation: one spelling for the many ways people type a question."""

from __future__ import annotations

import pytest

from robomem.planner.nl.lexicon import normalize, ordinal_value, plural, singular


@pytest.mark.parametrize(("text", "norm"), [
    ("Where's my mug?", "where is my mug"),
    ("Didn't you see the grey vase?", "did not you see the gray vase"),
    ("Could you tell me which room the book is in?", "which room the book is in"),
    ("Do you know where the remote is, please?", "where the remote is"),
    ("Hey robot, where'd you put my keys?", "where did you put my keys"),
    ("What colour's the mug", "what color is the mug"),
    ("I'd like to know how many mugs you've seen.", "how many mugs you have seen"),
    ("It's at 2.30 p.m.", "it is at 2:30 pm"),
    ("Take me to the mug \u2014 quickly!", "take me to the mug quickly"),
    ("the mug, the book and then the vase", "the mug , the book and then the vase"),
])
def test_normalize(text: str, norm: str) -> None:
    assert normalize(text) == norm
    assert normalize(norm) == norm  # idempotent


@pytest.mark.parametrize(("word", "one"), [
    ("mugs", "mug"), ("boxes", "box"), ("shelves", "shelf"), ("knives", "knife"), ("batteries", "battery"),
    ("glasses", "glasses"), ("glass", "glass"), ("scissors", "scissors"), ("dishes", "dish"), ("keys", "key"),
])
def test_singular(word: str, one: str) -> None:
    assert singular(word) == one


def test_plural_and_ordinals() -> None:
    assert plural("alarm clock") == "alarm clocks" and plural("box") == "boxes" and plural("battery") == "batteries"
    assert [ordinal_value(w) for w in ("first", "3rd", "twelfth", "last", "penultimate", "mug")] == [1, 3, 12, -1, -2,
                                                                                                       None]
