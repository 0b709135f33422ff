"""Intent recognition: slot-grammar rules over the question's cues, combined with sentence-embedding similarity
to hand-written exemplar questions.

Each :class:`Intent` has a rule (:data:`RULES`) that scores how well the question's cues and mentions fit it
(0: impossible - a required slot is missing) and exemplars (:data:`EXEMPLARS`): ways people ask for it, written
with the things masked the way :func:`~robomem.planner.nl.reader.read` masks them (``ITEM`` an object,
``FURNITURE`` a receptacle, ``ROOM`` a room; times as "at that time", "since then", "during that time").
:class:`IntentClassifier` embeds the masked question once (cached), takes each intent's best exemplar
similarity, and ranks the intents by ``rule + EMBED_WEIGHT * similarity``; the parse confidence comes from the
winner's rule fit, its similarity and its margin over the runner-up.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from robomem.planner.nl.embedder import TextEmbedder
from robomem.planner.nl.plan import Intent
from robomem.planner.nl.reader import Reading
from robomem.planner.nl.timeexpr import TimeParse

__all__ = ["EMBED_WEIGHT", "EXEMPLARS", "IntentClassifier", "IntentScore", "RULES"]

EMBED_WEIGHT = 0.5

I = Intent
EXEMPLARS: dict[Intent, tuple[str, ...]] = {
    I.FIND_OBJECT: (
        "where is the ITEM", "navigate to the ITEM", "take me to the ITEM", "where did i leave the ITEM",
        "find the ITEM", "go to the ITEM", "where can i find the ITEM", "i am looking for the ITEM",
        "show me the ITEM", "where is the ITEM now", "bring me to the ITEM you picked up",
        "go to the ITEM you put on the FURNITURE", "find an ITEM you did not touch", "navigate to any ITEM",
        "take me to the ITEM you saw on the FURNITURE in the ROOM", "where did you see the ITEM",
        "go to the thing you picked up that is red", "take me to the round thing you grabbed",
        "navigate to the object you interacted with that is made of glass", "where has the ITEM gone",
        "lead me to something you moved", "go to the ITEM you moved since then", "did you see the ITEM",
        "is there an ITEM", "help me find the ITEM", "where are the ITEM", "have you seen the ITEM anywhere",
        "navigate to the object you placed on the FURNITURE in the ROOM", "where would the ITEM be",
    ),
    I.OBJECT_ROOM: (
        "which room is the ITEM in", "what room is the ITEM in now", "in which room is the ITEM",
        "which room has the ITEM at the moment", "the ITEM is in which room", "in what room would i find the ITEM",
        "which part of the house is the ITEM in", "what room contains the ITEM", "where is the ITEM which room",
        "tell me the room the ITEM is in", "in which room did you leave the ITEM",
    ),
    I.OBJECT_ATTRIBUTE: (
        "what color was the ITEM you picked up from the FURNITURE in the ROOM", "what color is the ITEM",
        "what material is the ITEM made of", "what shape is the ITEM", "what is the ITEM made of",
        "which color was the thing you grabbed from the FURNITURE", "what colour was the ITEM",
        "the ITEM you took off the FURNITURE what color was it",
    ),
    I.DID_PICK: (
        "did you pick up the ITEM", "have you picked up the ITEM", "did you touch the ITEM",
        "did you move the ITEM", "was the ITEM one of the things you picked up", "did you ever grab the ITEM",
        "have you handled the ITEM at all", "did you interact with the ITEM", "is the ITEM something you moved",
        "did you carry the ITEM", "was the ITEM picked up by you",
    ),
    I.PICK_RECEPTACLE: (
        "navigate to the receptacle you picked the ITEM up from", "where did you pick up the ITEM from",
        "where did you get the ITEM from", "take me to the furniture you took the ITEM from",
        "where was the ITEM before you picked it up", "go to where you grabbed the ITEM",
        "which piece of furniture did you take the ITEM off", "the place you picked the ITEM up from",
        "where did the ITEM come from", "go back to where the ITEM was before you moved it",
    ),
    I.PLACE_RECEPTACLE: (
        "navigate to the receptacle you placed the ITEM on", "where did you put the ITEM",
        "where did you put the ITEM down", "take me to where you left the ITEM",
        "what did you put the ITEM on", "go to the furniture you set the ITEM on", "where did you place the ITEM",
        "which surface did you put the ITEM on", "on what did you leave the ITEM", "where did the ITEM end up",
        "where did you drop off the ITEM", "where did you move the ITEM to",
    ),
    I.RECEPTACLE_NEAR_OBJECT: (
        "navigate to the receptacle farthest from the ITEM", "navigate to the receptacle nearest to the ITEM",
        "go to the furniture closest to the ITEM", "which piece of furniture is farthest from the ITEM",
        "take me to the receptacle that is closest to the ITEM", "the furniture furthest away from the ITEM",
        "what is the nearest surface to the ITEM",
    ),
    I.OBJECT_NEAR_RECEPTACLE: (
        "navigate to the object nearest to the FURNITURE in the ROOM", "go to the thing closest to the FURNITURE",
        "what object is nearest the FURNITURE", "take me to the item next to the FURNITURE",
        "the object farthest from the FURNITURE", "which thing is closest to the FURNITURE in the ROOM",
    ),
    I.ROOM_NOT_VISITED: (
        "navigate to a room you did not visit", "take me to a room you have not been in",
        "go to a room you never entered", "which room did you not visit", "show me a room you have not explored",
        "go somewhere you have not been yet", "take me to an unvisited room", "a room you never went into",
    ),
    I.ROOM_START: (
        "navigate to the room you started in", "which room did you start the day in", "where did you begin",
        "take me to the room you were in first", "what room were you in at the start",
        "go back to where you started", "which room did you wake up in", "the first room you were in",
    ),
    I.ROOM_END: (
        "which room did you end the day in", "where did you finish the day", "what room were you in at the end",
        "where did you end up", "which room are you in now", "where are you now", "the last room you were in",
        "in which room did you stop", "where were you at the end of the day",
    ),
    I.ROOM_MOST_TIME: (
        "navigate to the room you spent the most time in", "where did you spend most of your time",
        "which room did you stay in the longest", "take me to the room where you hung out the longest",
        "in which room were you the most", "what room did you spend the longest in",
        "go to your favorite room", "where were you mostly",
    ),
    I.ROOM_ENTRIES: (
        "how many times did you enter the ROOM", "how often did you go into the ROOM",
        "how many times have you been in the ROOM", "number of times you went into the ROOM",
        "how many visits did you make to the ROOM", "how frequently did you visit the ROOM",
        "how many times did you walk into the ROOM",
    ),
    I.ROOM_AT_TIME: (
        "which room were you in at that time", "where were you at that time", "what room were you in at that time",
        "in which room were you during that time", "where were you during that time", "where was i at that time",
        "at that time which room were you in",
    ),
    I.PICK_ORDER: (
        "navigate to the first object you picked up", "navigate to the last object you picked up",
        "navigate to the object you picked up immediately after the ITEM", "navigate to the third object you picked up",
        "take me to the thing you grabbed first", "what did you pick up right after the ITEM",
        "which object did you move last", "go to the second thing you picked up",
        "the item you picked up before the ITEM", "which was the first thing you touched",
        "what was the most recent thing you picked up",
    ),
    I.PICK_AT_TIME: (
        "navigate to the object you picked up at that time", "what did you pick up at that time",
        "take me to the thing you grabbed at that time", "which object did you move at that time",
        "go to the item you were carrying at that time",
    ),
    I.PLACE_AT_TIME: (
        "navigate to the receptacle you placed an object on at that time", "where did you put something at that time",
        "where did you put something down at that time", "take me to the furniture you set something on at that time",
        "what did you put an object on at that time", "go to where you placed something at that time",
    ),
    I.PICK_TIME: (
        "at what time did you pick up the ITEM", "when did you pick up the ITEM", "what time did you grab the ITEM",
        "when did you move the ITEM", "when did you take the ITEM", "at what time did you touch the ITEM",
    ),
    I.PLACE_TIME: (
        "when did you put the ITEM down", "at what time did you place the ITEM on the FURNITURE",
        "when did you put down the ITEM", "what time did you leave the ITEM there",
    ),
    I.DURATION_EXTREME: (
        "navigate to the object that took the longest to rearrange",
        "navigate to the object that took the shortest time to rearrange",
        "go to the thing that took you the most time to move", "which object was quickest to put away",
        "take me to the item whose move took the longest", "which thing took the least time to move",
    ),
    I.DURATION_OF: (
        "how long did it take to rearrange the ITEM", "how long did it take you to move the ITEM",
        "how much time did moving the ITEM take", "how long were you carrying the ITEM",
        "how long did the ITEM take to put away", "how many seconds did it take to move the ITEM",
    ),
    I.MULTI_PICKED: (
        "navigate to all the objects you picked up in any order",
        "navigate to the objects you picked up in the order you picked them up",
        "take me to everything you picked up", "visit every object you moved", "what did you pick up",
        "show me all the things you touched in the same order", "go to each item you grabbed one after another",
        "which objects did you pick up", "list the things you moved", "in which order did you pick things up",
    ),
    I.MULTI_PLACED_RECEPTACLES: (
        "navigate to the receptacles you placed objects on in the order you placed them",
        "take me to every place you put something down in order", "go to all the furniture you put things on",
        "where did you put things", "visit each surface you placed an object on one after another",
        "where did you put everything",
    ),
    I.MULTI_LIST: (
        "navigate to the ITEM the ITEM and the ITEM in any order",
        "navigate to the ITEM the ITEM and the ITEM in this order",
        "go to the ITEM then the ITEM", "take me to the ITEM and the ITEM", "visit the ITEM the ITEM and the ITEM",
        "first go to the ITEM then the ITEM", "show me the ITEM and then the ITEM",
    ),
    I.CHANGES: (
        "navigate to the objects that were moved into out of or within the ROOM since then in any order",
        "how many objects were moved into out of or within the ROOM since then", "what changed in the ROOM since then",
        "what has been moved in the ROOM since then", "what is different in the ROOM", "what got moved since then",
        "show me everything that was moved around the ROOM since then", "how many things were moved in the ROOM",
        "which objects were taken out of the ROOM since then", "what has changed since then",
    ),
    I.COUNT_CATEGORY: (
        "how many ITEM did you see", "how many ITEM are there", "how many ITEM have you seen",
        "count the ITEM", "how many ITEM are in the house", "what is the number of ITEM you saw",
        "how many ITEM do we have", "how many FURNITURE are there",
    ),
    I.COUNT_PICKED: (
        "how many objects did you pick up", "how many things did you move", "how many items have you touched",
        "count the objects you picked up", "what is the number of things you grabbed",
        "how many ITEM did you pick up",
    ),
    I.PICK_COUNT: (
        "how many times did you pick up the ITEM", "how often did you move the ITEM",
        "how many times have you grabbed the ITEM", "number of times you touched the ITEM",
    ),
    I.COUNT_ROOMS: (
        "how many rooms did you visit", "how many rooms have you been in", "how many different rooms did you enter",
        "count the rooms you went into", "what is the number of rooms you visited", "how many rooms did you see",
    ),
}


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class _F:
    """Features of a reading, precomputed for the rules."""

    objs: int  # specific objects (or unknown nouns / kinds) named
    unknown_only: bool  # every named object is an unknown noun
    gobj: bool  # "thing", "object", ...
    gobj_plural: bool
    recs: int
    grec: bool
    grec_plural: bool
    rooms: int
    groom: bool
    groom_plural: bool
    point: bool
    window: bool
    wh: frozenset[str]
    verbs: frozenset[str]
    subject: str
    negated: bool
    all: bool
    ordinal: Optional[int]
    anchor: bool
    superlative: str
    attr_kind: str
    post_attrs: bool  # "that is red", "which ... was white": constraints on one thing
    ordinal_time: bool  # "the second time": the n-th time one thing was done
    gobj_single_attr: bool  # "the white item": one thing described by its attributes
    what_thing: bool  # "what you grabbed": the question word stands for the things asked about
    order: str  # ordered | unordered | ""
    where_pick: bool  # "where (did) you picked up X": the place it was picked up from
    where_place: bool  # "where (did) you put X": the place it was put
    rec_asked: bool  # "which shelf did you put it on": the receptacle is what is asked
    from_prep: bool  # "from" / "off" before a receptacle or at the end ("picked it up from")
    one_of: bool  # "one of the things you ...": a single thing of a set
    text: str


def features(r: Reading, t: TimeParse) -> _F:
    specific = [m for m in r.mentions if m.kind in ("object", "unknown", "kind") and not m.generic]
    gobjs = r.of_kind("object", generic=True)
    grecs = r.of_kind("receptacle", generic=True)
    grooms = r.of_kind("room", generic=True)
    from_prep = any(m.prep in ("from", "off", "out of") for m in r.mentions if m.kind == "receptacle") or bool(
        re.search(r"\b(?:from|off)(?= *$| (?:the )?\w+ time\b| (?:take|go|show|bring|lead)\b)"
                  r"|\b(?:from|off) (?:there|it|where)\b|\bbefore you\b|\bcome from\b"
                  r"|\bcame from\b|\boriginally\b|\bused to be\b", r.text))
    return _F(
        objs=len(specific), unknown_only=bool(specific) and all(m.kind == "unknown" for m in specific),
        gobj=bool(gobjs), gobj_plural=any(m.plural for m in gobjs),
        recs=len(r.of_kind("receptacle", generic=False)), grec=bool(grecs), grec_plural=any(m.plural for m in grecs),
        rooms=len(r.of_kind("room", generic=False)), groom=bool(grooms), groom_plural=any(m.plural for m in grooms),
        point=t.spec is not None and t.spec.is_point, window=t.spec is not None and not t.spec.is_point,
        wh=frozenset(r.cues.wh), verbs=frozenset(r.cues.verbs), subject=r.cues.subject, negated=r.cues.negated,
        all=r.cues.all, ordinal=r.cues.ordinal, anchor=r.cues.anchor_offset != 0, superlative=r.cues.superlative,
        attr_kind=r.cues.attribute_kind, post_attrs=bool(r.cues.post_attributes), from_prep=from_prep, text=r.text,
        one_of=bool(re.search(r"\b(?:one|any one|either) of (?:the|those|these|your)\b", r.text)),
        gobj_single_attr=any(m.attributes and not m.plural for m in gobjs), order=r.cues.order,
        what_thing=any(m.determiner == "what" and m.start == m.end for m in gobjs),
        ordinal_time=bool(re.search(r"\b(?:\w+|\d+(?:st|nd|rd|th)) time\b(?! (?:did|do|was|is|were))"
                                    r"|\b(?:\w+|\d+(?:st|nd|rd|th)) (?:pick-?up|occasion|put-down|drop-off)\b"
                                    r"|\b(?:pick-?up|occasion|time) (?:number|no|#) ?\w+", r.text)
                          and r.cues.ordinal is not None),
        where_pick=bool(re.search(r"\bwhere (?:did |do |have )?you (?:\w+ )?(?:pick|picked|grab|grabbed|took|take|"
                                  r"get|got|collect|collected|lift|lifted)\b", r.text)),
        rec_asked=any(m.determiner in ("which", "what") for m in r.of_kind("receptacle", generic=False)),
        where_place=bool(re.search(r"\bwhere (?:did |do |have )?you (?:\w+ )?(?:put|placed|place|left|leave|set|"
                                   r"dropped|drop)\b", r.text)),
    )


def _q(f: _F) -> bool:
    """A question about a value (not a navigation request)."""
    return bool(f.wh & {"how_many", "how_many_times", "how_long", "when", "attr", "yesno"})


def _room_q(f: _F) -> bool:
    return "which_room" in f.wh or "where" in f.wh or f.groom or "nav" in f.wh


Rule = Callable[[_F], float]

RULES: dict[Intent, Rule] = {
    I.COUNT_ROOMS: lambda f: (1.0 if "how_many" in f.wh and f.groom and not f.rooms and not f.objs else 0.0),
    I.ROOM_ENTRIES: lambda f: (
        0.0 if not f.rooms or f.objs else
        1.0 if "how_many_times" in f.wh and "visit" in f.verbs else
        0.85 if "how_many_times" in f.wh or ("how_many" in f.wh and "visit" in f.verbs) else 0.0),
    I.PICK_COUNT: lambda f: (1.0 if "how_many_times" in f.wh and "pick" in f.verbs and f.objs and not f.rooms else 0.0),
    I.COUNT_PICKED: lambda f: (
        1.0 if "how_many" in f.wh and "pick" in f.verbs and f.subject in ("robot", "") and not f.rooms
        and "how_many_times" not in f.wh and not f.recs else 0.0),
    I.COUNT_CATEGORY: lambda f: (
        0.0 if "how_many" not in f.wh or "how_many_times" in f.wh or ("pick" in f.verbs and f.subject == "robot")
        or (f.groom and not f.objs and not f.recs) else
        (0.6 if f.unknown_only else 1.0) if f.objs or f.recs else 0.0),
    I.CHANGES: lambda f: (
        0.0 if "change" not in f.verbs or f.subject in ("robot", "user") and not ("how_many" in f.wh and f.rooms)
        or f.objs > 0 and not f.rooms else
        1.0 if (f.rooms or f.point or f.window) and (f.gobj or "what" in f.text.split()[:1] or "how_many" in f.wh
                                                      or not f.objs) else 0.7),
    I.PICK_TIME: lambda f: (1.0 if "when" in f.wh and "pick" in f.verbs and f.objs and not f.point else 0.0),
    I.PLACE_TIME: lambda f: (0.95 if "when" in f.wh and "place" in f.verbs and f.objs and not f.point else 0.0),
    I.DURATION_OF: lambda f: (1.0 if "how_long" in f.wh and f.objs and not (f.rooms and "spend" in f.verbs) else 0.0),
    I.DURATION_EXTREME: lambda f: (
        1.0 if f.superlative in ("longest", "shortest") and ({"take_time", "pick"} & f.verbs)
        and not f.rooms and not f.groom and (f.gobj or not f.objs) and "how_long" not in f.wh else 0.0),
    I.ROOM_AT_TIME: lambda f: (
        0.0 if f.objs or not (f.point or f.window) or f.subject == "" and "which_room" not in f.wh
        or not ("which_room" in f.wh or "where" in f.wh) or {"pick", "place"} & f.verbs else
        0.6 if {"start", "end", "spend"} & f.verbs else 1.0),
    I.ROOM_END: lambda f: (
        1.0 if "end" in f.verbs and _room_q(f) and not f.objs and not f.point and not f.rooms else 0.0),
    I.ROOM_START: lambda f: (
        1.0 if "start" in f.verbs and _room_q(f) and not f.objs and not f.point and not f.rooms else
        0.9 if f.ordinal == 1 and f.groom and not f.objs and not ({"pick", "place"} & f.verbs) else 0.0),
    I.ROOM_MOST_TIME: lambda f: (
        1.0 if "spend" in f.verbs and _room_q(f) and not f.objs and not f.rooms and "how_many" not in f.wh
        and not f.point else 0.0),
    I.ROOM_NOT_VISITED: lambda f: (
        1.0 if f.negated and ("visit" in f.verbs or "see" in f.verbs or "unvisited" in f.text or "unexplored" in f.text)
        and (f.groom or "which_room" in f.wh or "somewhere" in f.text or "anywhere" in f.text) and not f.objs
        and "how_many" not in f.wh else
        0.95 if ("unvisited" in f.text or "unexplored" in f.text) and not f.objs else 0.0),
    I.OBJECT_ROOM: lambda f: (
        1.0 if "which_room" in f.wh and f.objs and not f.point and "how_many" not in f.wh
        and not (f.subject == "robot" and {"pick"} & f.verbs and "place" not in f.verbs) else 0.0),
    I.OBJECT_ATTRIBUTE: lambda f: (
        1.0 if "attr" in f.wh and (f.objs or f.gobj) else 0.7 if f.attr_kind and "which" in f.wh and f.objs else 0.0),
    I.DID_PICK: lambda f: (
        1.0 if "yesno" in f.wh and "pick" in f.verbs and f.objs and not (f.wh & {"where", "which_room", "when",
                                                                                "how_many", "how_long", "is_there",
                                                                                "nav"}) else 0.0),
    I.PICK_RECEPTACLE: lambda f: (
        0.0 if "pick" not in f.verbs or not f.objs or _q(f) and "where" not in f.wh else
        1.0 if f.from_prep and ("where" in f.wh or f.grec or "nav" in f.wh or "which" in f.wh) else
        0.8 if f.grec and not f.recs and "place" not in f.verbs else
        0.95 if (f.where_pick or f.ordinal_time and "where" in f.wh) and not f.where_place and not f.recs else
        0.75 if "where" in f.wh and f.subject == "robot" and "place" not in f.verbs and not f.recs else 0.0),
    I.PLACE_RECEPTACLE: lambda f: (
        0.0 if "place" not in f.verbs or not f.objs or f.subject == "user" or f.point or _q(f) and "where" not in f.wh
        else 1.0 if (f.grec or "where" in f.wh or "which" in f.wh) and (not f.recs or f.rec_asked) else 0.0),
    I.RECEPTACLE_NEAR_OBJECT: lambda f: (
        1.0 if f.superlative in ("nearest", "farthest") and (f.grec or "which" in f.wh and not f.gobj) and f.objs
        and not f.recs else 0.0),
    I.OBJECT_NEAR_RECEPTACLE: lambda f: (
        1.0 if f.superlative in ("nearest", "farthest") and f.recs and (f.gobj or not f.objs) else 0.0),
    I.PICK_ORDER: lambda f: (
        1.0 if "pick" in f.verbs and (f.ordinal is not None or f.anchor) and not (f.wh & {"how_many", "when",
                                                                                        "how_long", "yesno"})
        and not f.point and not (f.ordinal_time and f.objs) else 0.0),
    I.PICK_AT_TIME: lambda f: (
        1.0 if "pick" in f.verbs and f.point and "when" not in f.wh and not f.grec
        and not ("place" in f.verbs and "where" in f.wh) else 0.0),
    I.PLACE_AT_TIME: lambda f: (
        1.0 if "place" in f.verbs and f.point and (f.grec or "where" in f.wh) and "when" not in f.wh else 0.0),
    I.MULTI_PICKED: lambda f: (
        0.0 if "pick" not in f.verbs or f.ordinal is not None or f.anchor or f.point or f.subject == "user"
        or (f.wh & {"how_many", "when", "how_long", "yesno", "attr"}) or f.grec or f.post_attrs or f.negated
        or f.gobj_single_attr or f.one_of and not f.all else
        1.0 if (f.all or f.gobj_plural or f.order) and (f.gobj or not f.objs) else
        0.9 if ("which" in f.wh or "what" in f.text.split()[:2] or f.what_thing) and not f.objs
        and not f.superlative else 0.0),
    I.MULTI_PLACED_RECEPTACLES: lambda f: (
        1.0 if "place" in f.verbs and (f.grec_plural or ((f.grec or "where" in f.wh) and (f.gobj_plural or f.all)))
        and not f.objs and not f.point else 0.0),
    I.MULTI_LIST: lambda f: (1.0 if f.objs >= 2 and not f.anchor and not _q(f) and not f.superlative
                             and ("nav" in f.wh or "where" in f.wh or f.all or f.order) else 0.0),
    I.FIND_OBJECT: lambda f: (
        0.0 if not (f.objs or f.gobj) or (f.wh & {"how_many", "how_long", "when", "how_many_times", "attr"})
        or f.ordinal_time and {"pick", "place"} & f.verbs else
        0.85 if f.wh & {"nav", "where", "is_there", "yesno", "which"} else 0.3 if f.unknown_only else 0.6),
}


# ------------------------------------------------------------------------------------------------ classifier


@dataclass(frozen=True)
class IntentScore:
    intent: Intent
    rule: float
    similarity: float
    total: float


class IntentClassifier:
    """Ranks intents for a reading (see the module docstring). ``embedder`` None: rules only (the similarity
    of every intent is then 0 and the confidence relies on the rules)."""

    def __init__(self, embedder: Optional[TextEmbedder]) -> None:
        self.embedder = embedder
        self._lock = threading.Lock()
        self._matrix: Optional[np.ndarray] = None
        self._owner: list[Intent] = []

    def _exemplars(self) -> tuple[np.ndarray, list[Intent]]:
        with self._lock:
            if self._matrix is None:
                assert self.embedder is not None
                texts: list[str] = []
                owner: list[Intent] = []
                for intent, exs in EXEMPLARS.items():
                    for e in exs:
                        texts.append(e.lower())
                        owner.append(intent)
                self._matrix = self.embedder.embed(texts)
                self._owner = owner
            return self._matrix, self._owner

    def similarities(self, masked: str) -> dict[Intent, float]:
        """Best exemplar cosine similarity per intent for the masked question (0 without an embedder)."""
        if self.embedder is None:
            return {i: 0.0 for i in RULES}
        mat, owner = self._exemplars()
        q = self.embedder.embed([masked.lower()])[0]
        sims = mat @ q
        best: dict[Intent, float] = {}
        for s, intent in zip(sims.tolist(), owner):
            if s > best.get(intent, -1.0):
                best[intent] = round(float(s), 4)
        return best

    def rank(self, reading: Reading, time: TimeParse, masked: str) -> list[IntentScore]:
        f = features(reading, time)
        sims = self.similarities(masked)
        out = []
        for intent, rule in RULES.items():
            r = rule(f)
            s = sims.get(intent, 0.0)
            out.append(IntentScore(intent, r, s, r + EMBED_WEIGHT * s if r > 0 else 0.0))
        out.sort(key=lambda x: (-x.total, -x.similarity, x.intent.value))
        return out
