"""Reading free-text parts of an answer for scoring (see :mod:`robomem_sim.scoring`): whether a "not found"
target names the asked thing (:func:`names_asked`) or merely echoes the question (:func:`echoes_question`),
the colours a text names, and value normalisation helpers.
"""

from __future__ import annotations

import math
import re
from typing import Optional


def _forms(word: str) -> frozenset[str]:
    """A word and its possible singulars (mugs -> mug, boxes -> box, vases -> vase, batteries -> battery)."""
    out = {word}
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        out.add(word[:-1])
        if word.endswith("es"):
            out.add(word[:-2])
        if word.endswith("ies"):
            out.add(word[:-3] + "y")
    return frozenset(out)


def _words(text: str) -> list[frozenset[str]]:
    return [_forms(w) for w in re.findall(r"[a-z0-9]+", (text or "").lower())]


def names_asked(target: str, asked: str) -> bool:
    """Whether an answer's ``target`` names the ``asked`` thing: every word of ``asked`` occurs among the
    target's words (case, punctuation and a plural -s/-es ignored; extra target words are fine). An empty
    ``asked`` or ``target`` never matches."""
    want = _words(asked)
    have = _words(target)
    return bool(want) and all(any(w & h for h in have) for w in want)


def echoes_question(target: str, text: str, asked: str) -> bool:
    """Whether an answer's ``target`` just repeats the question ``text``: it has every word of the question
    although the question says more than the ``asked`` thing (what an unparsed question gives back)."""
    words = _words(text)
    have = _words(target)
    return len(words) > len(_words(asked)) and all(any(w & h for h in have) for w in words)


COLOUR_WORDS = frozenset((
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "black", "grey", "gray", "brown",
    "silver", "gold", "teal", "beige", "navy", "cream", "tan", "olive", "maroon", "cyan", "magenta", "violet",
    "turquoise", "ivory", "golden", "lime", "indigo", "khaki", "crimson", "bronze", "copper", "transparent",
    "clear", "multicoloured", "multicolored"))
"""Colour words a free-text colour answer is read for (every colour it names must be a right one)."""


def _named_colours(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", _norm(text)) if w in COLOUR_WORDS}



def _norm(text: Optional[str]) -> str:
    return " ".join((text or "").lower().replace("_", " ").strip(" .").split())


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _as_bool(v: object) -> Optional[bool]:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and _norm(v) in ("yes", "true", "no", "false"):
        return _norm(v) in ("yes", "true")
    return None
