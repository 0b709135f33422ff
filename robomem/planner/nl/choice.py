"""Requests for any one thing of a set, said loosely: "one of the things you handled, any one is fine",
"whichever old thing you had your hands on", "some stuff you haven't touched - doesn't matter which". The
free-choice tail is a request to go to one of them; "old" in "any old thing" is no attribute; "had your hands
on" is touching. :func:`any_one` rewrites such a normalised request into the plain form ("take me to any thing
you touched") the rules read."""

from __future__ import annotations

import re

_HANDS = re.compile(r"\b(?:had|have|got|gotten|get|laid|lay|put) (?:your|its) (?:own )?hands? on\b")
_OLD = re.compile(r"\b(any|whichever|whatever|some|one|an|a) old (thing|object|item|stuff|one|junk)")
_CHOICE = re.compile(
    r"(?: ,)? (?:(?:any|either) (?:one|of them|of those|will do|is fine|is ok|works|at all)"
    r"(?: (?:is fine|will do|works|is ok|is good|at all))?|(?:it )?(?:does not|do not) matter which(?: one)?"
    r"|no matter which(?: one)?|whichever(?: one)?(?: is fine| you like| you want| you choose)?"
    r"|your (?:choice|pick|call)|(?:you )?(?:choose|pick one)|i do not (?:mind|care) which(?: one)?)$"
)
_SET = re.compile(r"^(?:one of|any(?! idea)|some|whichever|whatever|either of|an?)\b")
_ASKS = re.compile(r"\b(?:take|bring|show|lead|guide|go|head|find|navigate|where|which|what|how|when|did|do|have|"
                   r"is|are|was|were)\b")


def any_one(text: str) -> str:
    """``text`` (normalised) with a loose "any one of the things you ..." request said plainly."""
    t = _OLD.sub(r"\1 \2", _HANDS.sub("touched", text))
    tail = _CHOICE.search(t)
    if tail is not None and tail.start() > 0:
        t = t[: tail.start()].strip(" ,")
    if (tail is not None or t.startswith("whichever ")) and _SET.match(t) and " you " in f" {t} " and (
            not _ASKS.search(t.split(" you ", 1)[0])):
        t = "take me to " + re.sub(r"\bstuff\b", "thing", re.sub(r"^(?:whichever|whatever)\b", "any", t), count=1)
    return t
