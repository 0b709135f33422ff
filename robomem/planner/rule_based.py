"""Deterministic rule-based planner: task text -> typed query plan -> memory queries -> typed answer.

No model: the text is parsed by ordered regular-expression rules into a :class:`QueryPlan` (an
:class:`Intent` plus slots: object phrase, attribute, receptacle, room, time window, ordinal, ...), the plan is
executed against any :class:`~robomem.core.api.MemoryQueries` (in-process memory or a ROS proxy), and the
result is a :class:`~robomem.planner.base.PlannerAnswer` whose ``plan`` lists every memory query that ran.
The rules cover the FindingDory-style suite templates and natural paraphrases ("where did I leave my keys?",
"go to the mug you moved after lunch", "what changed in the kitchen since 9:00?", "which object did I move
first?", "how many mugs are there?").

Facts derived from memory (not asked of it):

* **Interactions.** An instance with >= 2 placements was moved. A move is the robot's own pick-and-place when
  the robot watched the object leave (its old place was seen empty within ``pick_gap_s`` of the last sighting
  there) and saw it at the new place within ``max_carry_s``; pick time = between the last sighting and the
  vanish at the first placement, place time = first sighting at the next one. Other moves happened while the
  robot was elsewhere (someone else moved it).
* **Where is it now.** An object whose last place was seen empty (and that was not seen since) is *predicted*
  from the category's history: the receptacle category that objects of the same category were most often seen
  on (in memory), excluding receptacles looked at since without it. The answer text says it is a prediction.
* **Goals** face the target from a standoff (``standoff_m`` from small objects, ``receptacle_standoff_m`` from a
  receptacle's footprint), on the side the robot saw it from (camera positions of keyframes showing it), at a
  point inside a known room and outside every known receptacle (``clearance_m``).

"I don't know" is an answer: status NOT_FOUND, kind UNKNOWN, and ``text`` says why (the task could not be
parsed, the object was never seen, nothing matches the constraints, the memory is empty). Never a guess.
Times in task texts are UTC clock times ("14:05", "2 pm", "noon", "after lunch", "14:05 on day 2"); day 1 is
the UTC day of the memory's first frame, and a time without a day refers to the day of ``now_ns``.
"""

from __future__ import annotations

import enum
import logging
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from robomem.core.api import MemoryQueries
from robomem.core.query_types import InstanceSummary, QueryStatus, RoomVisit
from robomem.core.types import Box3D, NodeKind, Placement, Region
from robomem.errors import ConfigError
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer, register_planner
from robomem.planner.tour import order_goals

__all__ = [
    "COLOURS",
    "DEFAULT_SHAPES",
    "MATERIALS",
    "DerivedMove",
    "Intent",
    "QueryPlan",
    "RuleBasedConfig",
    "RuleBasedPlanner",
    "parse_task",
]

_LOG = logging.getLogger(__name__)

NS = 1_000_000_000
DAY_NS = 86_400 * NS

COLOURS = frozenset(
    "red green blue yellow orange purple pink white black grey gray brown teal beige silver gold golden cyan "
    "magenta violet navy maroon olive tan cream turquoise".split()
)
"""Colour words: the leading attribute of labels "<colour> <material> <category>"."""

MATERIALS = frozenset(
    "ceramic plastic metal metallic paper organic wooden wood glass cotton wax leather fabric cardboard wool "
    "woollen straw wicker stone steel porcelain rubber silk linen marble clay bamboo".split()
)
"""Material words: the attribute after the colour in labels."""

DEFAULT_SHAPES: Mapping[str, str] = {
    "mug": "cylindrical",
    "cup": "cylindrical",
    "bottle": "cylindrical",
    "can": "cylindrical",
    "candle": "cylindrical",
    "vase": "cylindrical",
    "glass": "cylindrical",
    "jar": "cylindrical",
    "book": "rectangular",
    "remote": "rectangular",
    "alarm clock": "rectangular",
    "box": "rectangular",
    "pillow": "rectangular",
    "wallet": "rectangular",
    "apple": "spherical",
    "ball": "spherical",
    "orange": "spherical",
    "plate": "flat",
    "laptop": "flat",
    "phone": "flat",
    "towel": "flat",
    "tray": "flat",
    "bowl": "round",
    "hat": "round",
    "basket": "round",
    "keychain": "irregular",
    "toy": "irregular",
    "shoe": "irregular",
    "plant": "irregular",
}
"""Common-sense shape of common household object categories (what "the cylindrical object" means).
Inject a house-specific table with ``RuleBasedPlanner(shape_lexicon=...)``."""

SYNONYMS: Mapping[str, str] = {
    "key": "keychain",
    "cup": "mug",
    "mugs": "mug",
    "telephone": "phone",
    "cellphone": "phone",
    "smartphone": "phone",
    "mobile": "phone",
    "computer": "laptop",
    "notebook": "laptop",
    "controller": "remote",
    "purse": "wallet",
    "sneaker": "shoe",
    "trainer": "shoe",
    "boot": "shoe",
    "flower": "plant",
    "clock": "alarm clock",
    "soda": "can",
    "cushion": "pillow",
    "cap": "hat",
    "dish": "plate",
    "couch": "sofa",
    "tv": "tv stand",
    "nightstand": "nightstand",
    "bedside table": "nightstand",
    "sink": "vanity",
    "washer": "washing machine",
}
"""Common words for an object/receptacle category (the head noun of a phrase) -> the category's name."""

SHAPES = frozenset(DEFAULT_SHAPES.values()) | {"square", "oval", "conical", "cubic", "spherical", "long"}

ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "last": -1,
    "final": -1,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
    "6th": 6,
    "7th": 7,
    "8th": 8,
    "9th": 9,
    "10th": 10,
}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}

# named parts of the day: (start hour, end hour), UTC clock
_DAY_PARTS: dict[str, tuple[float, float]] = {
    "morning": (0.0, 12.0),
    "afternoon": (12.0, 17.0),
    "evening": (17.0, 24.0),
    "night": (20.0, 24.0),
    "breakfast": (7.0, 9.0),
    "lunch": (12.0, 13.0),
    "dinner": (18.0, 20.0),
}


# ================================================================================================ config


@dataclass(frozen=True)
class RuleBasedConfig:
    """Tunables (metres, seconds).

    standoff_m: goal distance from a small object's centre; receptacle_standoff_m: from a receptacle's
    footprint; clearance_m: a goal keeps this distance from known receptacles and room walls.
    pick_gap_s: a move counts as the robot's own pick when the old place was seen empty within this time of
    the last sighting there; max_carry_s: ... and the object was seen at its new place within this time.
    time_match_s: "at 10:30" matches an event within this many seconds. semantic_min_score: cosine score a
    memory ``locate`` match needs when the words of an object phrase match no label.
    """

    standoff_m: float = 0.75
    receptacle_standoff_m: float = 0.55
    clearance_m: float = 0.3
    pick_gap_s: float = 120.0
    max_carry_s: float = 900.0
    time_match_s: float = 300.0
    semantic_min_score: float = 0.8

    def validate(self) -> None:
        for name in ("standoff_m", "receptacle_standoff_m", "pick_gap_s", "max_carry_s", "time_match_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"planner.rule_based.{name} must be > 0, got {getattr(self, name)}")
        if self.clearance_m < 0:
            raise ConfigError(f"planner.rule_based.clearance_m must be >= 0, got {self.clearance_m}")
        if not 0.0 <= self.semantic_min_score <= 1.0:
            raise ConfigError(f"planner.rule_based.semantic_min_score must be in [0, 1], got {self.semantic_min_score}")


# ================================================================================================ plan


class Intent(enum.Enum):
    """What a task asks for. Navigation intents return goals; the others a typed value."""

    FIND_OBJECT = "find_object"  # go to an object (constraints in the slots)
    OBJECT_ROOM = "object_room"  # which room is X in (now)
    OBJECT_ATTRIBUTE = "object_attribute"  # what colour / material / shape was X
    DID_PICK = "did_pick"  # did you pick up X
    PICK_RECEPTACLE = "pick_receptacle"  # receptacle X was picked up from
    PLACE_RECEPTACLE = "place_receptacle"  # receptacle X was placed on
    RECEPTACLE_NEAR_OBJECT = "receptacle_near_object"  # nearest / farthest receptacle from X
    OBJECT_NEAR_RECEPTACLE = "object_near_receptacle"  # nearest / farthest object to receptacle R
    ROOM_NOT_VISITED = "room_not_visited"
    ROOM_START = "room_start"
    ROOM_END = "room_end"
    ROOM_MOST_TIME = "room_most_time"
    ROOM_ENTRIES = "room_entries"  # how many times did you enter R
    ROOM_AT_TIME = "room_at_time"
    PICK_ORDER = "pick_order"  # the n-th / last object picked, or the one right after X
    PICK_AT_TIME = "pick_at_time"
    PLACE_AT_TIME = "place_at_time"  # receptacle something was placed on at T
    PICK_TIME = "pick_time"  # at what time did you pick up X
    DURATION_EXTREME = "duration_extreme"  # object that took longest / shortest to rearrange
    DURATION_OF = "duration_of"  # how long did rearranging X take
    MULTI_PICKED = "multi_picked"  # all objects picked (ordered or not)
    MULTI_PLACED_RECEPTACLES = "multi_placed_receptacles"
    MULTI_LIST = "multi_list"  # the listed objects
    CHANGES = "changes"  # objects moved into / out of a room since T
    COUNT_CATEGORY = "count_category"
    COUNT_PICKED = "count_picked"
    COUNT_ROOMS = "count_rooms"


@dataclass(frozen=True)
class QueryPlan:
    """A parsed task.

    object_phrase: the object the task is about ("red ceramic mug", "keys", "mug"); objects: several phrases
    (MULTI_LIST); definite: "the X" (one specific thing) vs "a/any X"; attribute / attribute_kind: a
    required colour / material / shape; receptacle / room: a receptacle category and room the object is on/in
    (``relation`` "placed" - the robot put it there, "seen" - it was seen there, "picked_from"); interacted:
    True - the robot picked it up, False - it did not; t0_ns / t1_ns: time window (ns, inclusive);
    at_ns: a point in time; ordinal: 1-based pick order (-1 last); anchor_phrase: "right after X";
    superlative: nearest / farthest / longest / shortest; ordered: multi-goal order matters;
    navigate: the answer is a place to go (else a typed value); count: the answer is a number.
    """

    intent: Intent
    object_phrase: str = ""
    objects: tuple[str, ...] = ()
    definite: bool = True
    attribute: str = ""
    attribute_kind: str = ""
    receptacle: str = ""
    room: str = ""
    relation: str = ""
    interacted: Optional[bool] = None
    t0_ns: Optional[int] = None
    t1_ns: Optional[int] = None
    at_ns: Optional[int] = None
    ordinal: Optional[int] = None
    anchor_phrase: str = ""
    superlative: str = ""
    ordered: bool = False
    navigate: bool = True
    count: bool = False
    text: str = ""


class _ParseError(Exception):
    """Internal: the task text (or a time in it) could not be understood; the message says why."""


# ================================================================================================ text


def _normalize(text: str) -> str:
    t = text.lower().strip()
    t = t.replace("\u2019", "'")
    for a, b in (
        ("didn't", "did not"),
        ("haven't", "have not"),
        ("wasn't", "was not"),
        ("where's", "where is"),
        ("what's", "what is"),
        ("i've", "i have"),
        ("you've", "you have"),
        ("colour", "color"),
        ("furthest", "farthest"),
        ("closest", "nearest"),
    ):
        t = t.replace(a, b)
    t = re.sub(r"[?!]+", " ", t)
    t = re.sub(r"\.(\s|$)", " ", t)  # sentence dots, not the ones in numbers
    t = re.sub(r"\s+", " ", t).strip(" ,;")
    t = re.sub(r"^(?:please|can you|could you|would you|robot|hey robot),?\s+", "", t)
    t = re.sub(r"^(?:please)\s+", "", t)
    t = re.sub(r"\s+please$", "", t)
    return t


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith("ss") or word.endswith("us"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _tokens(phrase: str) -> list[str]:
    return [_singular(w) for w in re.findall(r"[a-z0-9]+", phrase.lower())]


def split_label(label: str) -> tuple[Optional[str], Optional[str], str]:
    """ "red ceramic mug" -> ("red", "ceramic", "mug"); words not known as colour/material stay in the
    category ("alarm clock")."""
    words = label.lower().split()
    colour = material = None
    if len(words) > 1 and words[0] in COLOURS:
        colour = words.pop(0)
    if len(words) > 1 and words[0] in MATERIALS:
        material = words.pop(0)
    return colour, material, " ".join(words)


def _strip_article(phrase: str) -> str:
    p = phrase.strip(" ,")
    p = re.sub(r"^(?:the|my|a|an|any|some|one|our|your|of the)\s+", "", p)
    p = re.sub(r"\s+(?:now|again|please|currently|right now)$", "", p)
    return p.strip()


def _split_list(phrase: str) -> tuple[str, ...]:
    parts = re.split(r"\s*,\s*(?:and\s+|then\s+)?|\s+and\s+(?:then\s+)?|\s+then\s+", phrase)
    return tuple(_strip_article(p) for p in parts if _strip_article(p))


def _clock(text: str) -> float:
    """ "14:05", "2 pm", "2:30pm", "noon", "9" -> hours since midnight; raises _ParseError."""
    t = text.strip()
    if t in ("noon", "midday"):
        return 12.0
    if t == "midnight":
        return 0.0
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm|a\.?m\.?|p\.?m\.?|o'clock)?", t)
    if not m:
        raise _ParseError(f"could not read the time {text!r}; write it as HH:MM (24 h), e.g. 14:05")
    h = int(m.group(1))
    mi = int(m.group(2) or 0)
    s = int(m.group(3) or 0)
    ampm = (m.group(4) or "").replace(".", "")
    if ampm == "pm" and h < 12:
        h += 12
    if ampm == "am" and h == 12:
        h = 0
    if not (0 <= h <= 24 and 0 <= mi < 60 and 0 <= s < 60):
        raise _ParseError(f"time {text!r} is out of range")
    return h + mi / 60.0 + s / 3600.0


@dataclass(frozen=True)
class _DayContext:
    """Day 1 = UTC day of the first frame; "today" = UTC day of now."""

    day1_ns: int
    today_ns: int
    now_ns: int

    def day_start(self, spec: str) -> int:
        m = re.search(r"on day (\d+)", spec)
        if m:
            return self.day1_ns + (int(m.group(1)) - 1) * DAY_NS
        if "yesterday" in spec:
            return self.today_ns - DAY_NS
        return self.today_ns

    def point(self, spec: str) -> int:
        """ "14:05", "14:05 on day 2", "noon yesterday" -> ns."""
        day = self.day_start(spec)
        clock = re.sub(r"\s*(?:on day \d+|yesterday|today|this (?:morning|afternoon|evening))\s*", " ", spec).strip()
        hours = _clock(clock)
        return day + int(round(hours * 3600)) * NS

    def window(self, spec: str) -> tuple[int, int]:
        """A time expression -> [t0, t1] ns: "after lunch", "this morning", "since 9:00", "before 10:00",
        "between 9:00 and 11:00", "at 10:30" (a point +- nothing; the caller widens it)."""
        s = spec.strip()
        day = self.day_start(s)
        s = re.sub(r"\s*(?:on day \d+|yesterday|today)\s*", " ", s).strip()
        m = re.fullmatch(r"between (.+?) and (.+)", s)
        if m:
            return self.point(m.group(1) + self._day_suffix(spec)), self.point(m.group(2) + self._day_suffix(spec))
        m = re.fullmatch(r"(since|after|before|until|by) (.+)", s)
        if m:
            word, rest = m.groups()
            rest = re.sub(r"^the\s+", "", rest)
            if rest in _DAY_PARTS:
                a, b = _DAY_PARTS[rest]
                edge_after, edge_before = day + int(b * 3600) * NS, day + int(a * 3600) * NS
            else:
                t = self.point(rest + self._day_suffix(spec))
                edge_after = edge_before = t
            if word in ("since", "after"):
                return edge_after, self.now_ns
            return self.day1_ns, edge_before
        m = re.fullmatch(
            r"(?:in the |this |during |at |during the |over )?(morning|afternoon|evening|night|"
            r"breakfast|lunch|dinner)(?: time)?",
            s,
        )
        if m:
            a, b = _DAY_PARTS[m.group(1)]
            return day + int(a * 3600) * NS, day + int(b * 3600) * NS
        m = re.fullmatch(r"(?:at |around |about )?(.+)", s)
        assert m is not None
        t = self.point(m.group(1) + self._day_suffix(spec))
        return t, t

    @staticmethod
    def _day_suffix(spec: str) -> str:
        m = re.search(r"on day \d+|yesterday", spec)
        return f" {m.group(0)}" if m else ""


# ------------------------------------------------------------------------------------------------ rules

_NAV = (
    r"(?:navigate (?:back )?to|go (?:back )?to|take me to|bring me to|head (?:back )?to|lead me to|"
    r"guide me to|move to|drive to|return to|walk to|show me|find|locate|visit|get me to)"
)
_YOU = r"(?:you|i|we)"
_PICKED = (
    r"(?:picked up|picked|moved|interacted with|rearranged|touched|grabbed|carried|relocated|took|"
    r"handled|put away)"
)
_PICK = r"(?:pick up|pick|move|interact with|rearrange|touch|grab|carry|relocate|take|handle)"
_THING = r"(?:object|thing|item)"
_INOUT = (
    r"(?:into, out of,? or within|into, out of or inside|into or out of|in or out of|out of or into|into|"
    r"out of|within|in|from|to|inside)"
)
_TIME_TAIL = (
    r"(?P<when>(?:at|around|since|after|before|during|this|in the|between|yesterday|today|on day)"
    r"\b.*)"
)


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(
        pattern.replace("_INOUT", _INOUT)
        .replace("NAV", _NAV)
        .replace("YOU", _YOU)
        .replace("PICKED", _PICKED)
        .replace("PICK", _PICK)
        .replace("THING", _THING)
    )


Builder = Callable[[re.Match[str], _DayContext], QueryPlan]
_RULES: list[tuple[re.Pattern[str], Builder]] = []


def _rule(*patterns: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        for p in patterns:
            _RULES.append((_r("^" + p + "$"), fn))
        return fn

    return deco


def _g(m: re.Match[str], name: str) -> str:
    try:
        v = m.group(name)
    except IndexError:
        return ""
    return v or ""


def _window_slots(when: str, days: _DayContext) -> dict[str, Any]:
    if not when:
        return {}
    t0, t1 = days.window(when)
    if t0 == t1:
        return {"at_ns": t0}
    return {"t0_ns": t0, "t1_ns": t1}


# ---- counting and typed values (checked first: they start with question words)


@_rule(
    r"how many (?:THING|objects|things|items)s? (?:did|have) YOU PICK(?: up)?(?: today| so far| in total)?",
    r"how many (?:THING|objects|things|items)s? (?:were|have been) PICKED(?: up)?(?: by YOU)?",
)
def _count_picked(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.COUNT_PICKED, navigate=False, count=True)


@_rule(
    r"how many (?:different |distinct )?rooms (?:did|have) YOU (?:visit|visited|enter|entered|go to|been in|"
    r"been to|see|seen)(?: today| so far| in total)?"
)
def _count_rooms(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.COUNT_ROOMS, navigate=False, count=True)


@_rule(r"how (?:many times|often) did YOU (?:enter|visit|go (?:in)?to|walk into) the (?P<room>.+?)(?: today)?")
def _room_entries(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_ENTRIES, room=_g(m, "room"), navigate=False, count=True)


@_rule(
    r"how many (?:objects|things|items) (?:were|have been|got|was) (?:moved|taken|brought) _INOUT the "
    r"(?P<room>.+?) (?P<when>(?:since|after) .+)"
)
def _count_changes(m: re.Match[str], days: _DayContext) -> QueryPlan:
    t0, t1 = days.window(_g(m, "when"))
    return QueryPlan(Intent.CHANGES, room=_g(m, "room"), t0_ns=t0, t1_ns=t1, navigate=False, count=True)


@_rule(
    r"how many (?P<what>.+?)(?: did YOU (?:see|notice|observe|spot|find)| have YOU (?:seen|noticed)| are there"
    r"| (?:is|are) there| do YOU (?:have|remember|know of)| (?:were|are) (?:there|in the house))?"
    r"(?: in (?:the|this) (?:house|home|apartment))?(?: in total| today| so far)?"
)
def _count_category(m: re.Match[str], days: _DayContext) -> QueryPlan:
    what = _strip_article(_g(m, "what"))
    return QueryPlan(Intent.COUNT_CATEGORY, object_phrase=what, navigate=False, count=True)


@_rule(
    r"(?:at )?what time did YOU PICK(?: up)? the (?P<obj>.+?)(?: up)?",
    r"when did YOU PICK(?: up)? the (?P<obj>.+?)(?: up)?",
)
def _pick_time(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PICK_TIME, object_phrase=_strip_article(_g(m, "obj")), navigate=False)


@_rule(
    r"how long did (?:it take|YOU take|YOU need) to (?:rearrange|move|relocate|carry|put away) the (?P<obj>.+?)",
    r"how long did the (?P<obj>.+?) take to (?:rearrange|move|be moved|relocate)",
)
def _duration_of(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.DURATION_OF, object_phrase=_strip_article(_g(m, "obj")), navigate=False)


@_rule(
    r"(?:which|what) room (?:were|was) YOU in (?P<when>(?:at|around) .+)",
    r"where (?:were|was) YOU (?P<when>(?:at|around) .+)",
)
def _room_at_time(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(
        Intent.ROOM_AT_TIME, at_ns=days.point(re.sub(r"^(?:at|around) ", "", _g(m, "when"))), navigate=False
    )


@_rule(
    r"(?:which|what|in which|in what) room did YOU (?:end|finish) the day(?: in)?",
    r"where did YOU (?:end|finish) the day",
    r"(?:which|what) room (?:are|were) YOU in (?:at the end of the day|now|last)",
)
def _room_end(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_END, navigate=False)


@_rule(
    r"(?:which|what|in which|in what) room did YOU (?:start|begin) the day(?: in)?",
    r"(?:which|what) room did YOU (?:start|begin) in",
)
def _room_start_value(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_START, navigate=False)


@_rule(
    r"(?:which|what|in which|in what) room is the (?P<obj>.+?)(?: in)?(?: now| currently| right now)?(?: in)?",
    r"where is the (?P<obj>.+?) now, in which room",
    r"in which room (?:is|are) (?:the|my) (?P<obj>.+?)(?: now)?",
)
def _object_room(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.OBJECT_ROOM, object_phrase=_strip_article(_g(m, "obj")), navigate=False)


@_rule(
    r"what (?P<kind>color|material|shape) (?:was|is) the (?P<obj>.+?) (?:that )?YOU (?:picked up|picked|took|"
    r"grabbed|moved) (?:up )?(?:from|off) the (?P<rec>.+?)(?: in the (?P<room>.+?))?",
    r"what (?P<kind>color|material|shape) (?:was|is) the (?P<obj>.+?)(?: (?:that )?YOU PICKED(?: up)?)?",
)
def _attribute_value(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(
        Intent.OBJECT_ATTRIBUTE,
        object_phrase=_strip_article(_g(m, "obj")),
        attribute_kind=_g(m, "kind"),
        receptacle=_strip_article(_g(m, "rec")),
        room=_g(m, "room"),
        relation="picked_from" if _g(m, "rec") else "",
        interacted=True if "you" in m.group(0) or " i " in m.group(0) else None,
        navigate=False,
    )


@_rule(
    r"(?:did|have|had) YOU (?:ever )?(?:PICK|PICKED)(?: up)? (?:the|my|a|an) (?P<obj>.+?)(?: up)?(?: today| at all)?"
)
def _did_pick(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.DID_PICK, object_phrase=_strip_article(_g(m, "obj")), navigate=False)


# ---- changes


@_rule(
    r"(?:NAV )?(?:all )?the (?:objects|things|items) (?:that )?(?:were|have been|got) (?:moved|taken|brought) "
    r"_INOUT the (?P<room>.+?) (?P<when>(?:since|after) .+?)(?:,? in any order)?",
    r"what (?:has |have )?(?:changed|moved) in the (?P<room>.+?) (?P<when>(?:since|after) .+)",
    r"what (?:has |have )?(?:changed|moved) (?P<when>(?:since|after) .+?) in the (?P<room>.+)",
    r"what (?:has |have )?(?:changed|moved) in the (?P<room>.+?)",
    r"what (?:has |have )?(?:changed|moved)(?: (?P<when>(?:since|after) .+))?",
)
def _changes(m: re.Match[str], days: _DayContext) -> QueryPlan:
    when = _g(m, "when")
    t0, t1 = days.window(when) if when else (days.day1_ns, days.now_ns)
    return QueryPlan(Intent.CHANGES, room=_g(m, "room"), t0_ns=t0, t1_ns=t1, navigate=True, ordered=False)


# ---- rooms


@_rule(
    r"NAV (?:a|the|any|one) room (?:that )?YOU (?:did not|have not|never|have never) (?:visit|visited|enter|"
    r"entered|go to|gone to|been in|been to|see|seen)(?: today| yet)?",
    r"NAV (?:a|an|the|any) (?:unvisited|unexplored) room",
)
def _room_not_visited(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_NOT_VISITED)


@_rule(
    r"NAV the room (?:that )?YOU (?:started|began|start|begin)(?: the day)?(?: in| from)?",
    r"NAV the (?:starting|start|first) room(?: of the day)?",
    r"NAV the room where YOU (?:started|began)(?: the day)?",
)
def _room_start(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_START)


@_rule(r"NAV the room (?:that )?YOU (?:ended|finished|end|finish)(?: the day)?(?: in)?")
def _room_end_nav(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_END)


@_rule(
    r"NAV the room (?:that |where |in which )?YOU spent the (?:most|longest) time(?: in)?",
    r"NAV the room (?:that |where )?YOU (?:were in|stayed in|spent time in) the (?:most|longest)",
)
def _room_most_time(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.ROOM_MOST_TIME)


# ---- multi-goal


@_rule(
    r"NAV (?:all (?:of )?)?the (?:objects|things|items) (?:that )?YOU PICKED(?: up)?,? in the (?:same )?order "
    r"(?:that |in which )?YOU PICKED(?: them)?(?: up)?(?: them)?",
    r"NAV (?:all (?:of )?)?the (?:objects|things|items) (?:that )?YOU PICKED(?: up)?,? in (?:the )?(?:same )?order",
)
def _multi_picked_ordered(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.MULTI_PICKED, ordered=True)


@_rule(
    r"NAV (?:to )?(?:all|each|every one) (?:of )?the (?:objects|things|items) (?:that )?YOU PICKED(?: up)?"
    r"(?:,? in any order)?",
    r"NAV (?:to )?(?:all|each|every) (?:objects?|things?|items?) (?:that )?YOU PICKED(?: up)?(?:,? in any order)?",
    r"NAV the (?:objects|things|items) (?:that )?YOU PICKED(?: up)?,? in any order",
)
def _multi_picked(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.MULTI_PICKED, ordered=False)


@_rule(
    r"NAV (?:all (?:of )?)?the (?:receptacles|furniture|places) (?:that |where )?YOU (?:placed|put) "
    r"(?:the )?(?:objects|things|items)(?: on| in)?,? in the (?:same )?order (?:that |in which )?YOU (?:placed|put)"
    r"(?: them)?(?: down)?"
)
def _multi_receptacles_ordered(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.MULTI_PLACED_RECEPTACLES, ordered=True)


@_rule(
    r"NAV (?:all (?:of )?)?the (?:receptacles|furniture|places) (?:that |where )?YOU (?:placed|put) "
    r"(?:the )?(?:objects|things|items)(?: on| in)?(?:,? in any order)?"
)
def _multi_receptacles(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.MULTI_PLACED_RECEPTACLES, ordered=False)


@_rule(r"NAV the (?P<list>.+?),? in (?P<order>any|this|that|the given|the listed|the same) order")
def _multi_list(m: re.Match[str], days: _DayContext) -> QueryPlan:
    items = _split_list("the " + _g(m, "list"))
    if len(items) < 2:
        raise _ParseError("expected a list of at least two objects")
    order = _g(m, "order")
    ordered = order in ("this", "that", "the given", "the listed", "the same") or " then " in m.group(0)
    return QueryPlan(Intent.MULTI_LIST, objects=items, ordered=ordered)


# ---- interaction order / time / duration


@_rule(
    r"NAV the (?:THING|one) (?:that )?YOU PICKED(?: up)? (?:immediately |right |just |directly )?after the "
    r"(?P<obj>.+?)",
    r"(?:which|what) (?:THING|one) did YOU PICK(?: up)? (?:immediately |right |just |directly )?after the "
    r"(?P<obj>.+?)",
)
def _pick_after(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PICK_ORDER, anchor_phrase=_strip_article(_g(m, "obj")))


@_rule(
    r"NAV the (?P<ord>\w+) (?:THING|one) (?:that )?YOU PICKED(?: up)?(?: today)?",
    r"(?:which|what) (?:THING|one) did YOU PICK(?: up)? (?P<ord>first|last|\w+)(?: today)?",
    r"(?:which|what) was the (?P<ord>\w+) (?:THING|one) (?:that )?YOU PICKED(?: up)?(?: today)?",
)
def _pick_order(m: re.Match[str], days: _DayContext) -> QueryPlan:
    word = _g(m, "ord")
    if word not in ORDINALS:
        raise _ParseError(f"{word!r} is not an ordinal")
    return QueryPlan(Intent.PICK_ORDER, ordinal=ORDINALS[word])


@_rule(r"NAV the (?:THING|one) (?:that )?YOU PICKED(?: up)? (?P<when>(?:at|around) .+)")
def _pick_at_time(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PICK_AT_TIME, **_window_slots(_g(m, "when"), days))


@_rule(
    r"NAV the (?:receptacle|furniture|piece of furniture|place) (?:that |where )?YOU (?:placed|put) "
    r"(?:an|a|the|some) (?:THING|\w+)(?: on| in)? (?P<when>(?:at|around) .+)"
)
def _place_at_time(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PLACE_AT_TIME, **_window_slots(_g(m, "when"), days))


@_rule(
    r"NAV the (?:THING|one) (?:that )?took the (?P<sup>longest|shortest|most|least)(?: time| amount of time)? to "
    r"(?:rearrange|move|relocate|put away)",
    r"NAV the (?:THING|one) (?:whose|with the) (?:rearrangement|move) (?:took|was) the (?P<sup>longest|shortest)",
)
def _duration_extreme(m: re.Match[str], days: _DayContext) -> QueryPlan:
    sup = {"most": "longest", "least": "shortest"}.get(_g(m, "sup"), _g(m, "sup"))
    return QueryPlan(Intent.DURATION_EXTREME, superlative=sup)


# ---- spatial


@_rule(
    r"NAV the (?:receptacle|furniture|piece of furniture) (?:that is )?(?P<sup>farthest|nearest) (?:from|to) "
    r"the (?P<obj>.+?)"
)
def _receptacle_near_object(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(
        Intent.RECEPTACLE_NEAR_OBJECT, object_phrase=_strip_article(_g(m, "obj")), superlative=_g(m, "sup")
    )


@_rule(
    r"NAV the (?:THING) (?:that is )?(?P<sup>farthest|nearest) (?:from|to) the (?P<rec>.+?)(?: in the (?P<room>.+))?"
)
def _object_near_receptacle(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(
        Intent.OBJECT_NEAR_RECEPTACLE,
        receptacle=_strip_article(_g(m, "rec")),
        room=_g(m, "room"),
        superlative=_g(m, "sup"),
    )


# ---- conditional interaction


@_rule(
    r"NAV the (?:receptacle|furniture|piece of furniture|place) (?:that |where )?YOU (?:picked|took|grabbed|got) "
    r"the (?P<obj>.+?) (?:up )?(?:from|off)",
    r"NAV the (?:receptacle|furniture|piece of furniture|place) (?:that |where )?YOU (?:picked|took|grabbed|got) "
    r"up the (?P<obj>.+?)(?: from)?",
    r"where did YOU (?:pick up|get|take|grab) the (?P<obj>.+?)(?: from| up from)?",
)
def _pick_receptacle(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PICK_RECEPTACLE, object_phrase=_strip_article(_g(m, "obj")))


@_rule(
    r"NAV the (?:receptacle|furniture|piece of furniture|place) (?:that |where )?YOU (?:placed|put|left|set|dropped) "
    r"the (?P<obj>.+?)(?: down)?(?: on| in| onto| into)?"
)
def _place_receptacle(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PLACE_RECEPTACLE, object_phrase=_strip_article(_g(m, "obj")))


@_rule(
    r"NAV the (?P<rec>[a-z ]+?) (?:that |where )?YOU (?:picked|took|grabbed|got) the (?P<obj>.+?) (?:up )?(?:from|off)",
    r"NAV the (?P<rec>[a-z ]+?) (?:that |where )?YOU (?:picked|took|grabbed|got) up the (?P<obj>.+?) from",
)
def _pick_receptacle_named(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PICK_RECEPTACLE, object_phrase=_strip_article(_g(m, "obj")), receptacle=_g(m, "rec"))


@_rule(
    r"NAV the (?P<rec>[a-z ]+?) (?:that |where )?YOU (?:placed|put|left|set|dropped) the (?P<obj>.+?)(?: down)? "
    r"(?:on|in|onto|into)"
)
def _place_receptacle_named(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.PLACE_RECEPTACLE, object_phrase=_strip_article(_g(m, "obj")), receptacle=_g(m, "rec"))


# ---- finding objects (most general last)


@_rule(
    r"NAV the (?:THING) (?:that )?YOU (?:placed|put|left|set) (?:on|in|onto) the (?P<rec>.+?)(?: in the (?P<room>.+?))?"
    r"(?: (?P<when>(?:at|since|after|before|this|in the)\b.+))?"
)
def _object_placed_on(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(
        Intent.FIND_OBJECT,
        object_phrase="",
        receptacle=_strip_article(_g(m, "rec")),
        room=_g(m, "room"),
        relation="placed",
        interacted=True,
        **_window_slots(_g(m, "when"), days),
    )


@_rule(
    r"NAV (?:any|an|one|some) (?:THING|of the (?:objects|things|items)) (?:that )?YOU PICKED(?: up)?(?: today)?",
    r"NAV (?:any|an|one|some) (?:THING) (?:that )?YOU (?:have )?PICKED(?: up)?",
)
def _any_interacted(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.FIND_OBJECT, interacted=True, definite=False)


@_rule(
    r"NAV (?:a|an|any|one|some) (?P<obj>.+?) (?:that )?YOU (?:did not|have not|never|have never) (?:PICK|PICKED)"
    r"(?: up| with)?(?: today)?"
)
def _not_interacted(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.FIND_OBJECT, object_phrase=_strip_article(_g(m, "obj")), interacted=False, definite=False)


@_rule(
    r"NAV the (?:THING) (?:that )?YOU PICKED(?: up)? (?:that|which) (?:is|was) (?:made of |made from )"
    r"(?P<mat>.+?)",
    r"NAV the (?:THING) (?:that )?YOU PICKED(?: up)? (?:that|which) (?:is|was) (?P<attr>.+?)",
)
def _interacted_with_attribute(m: re.Match[str], days: _DayContext) -> QueryPlan:
    if _g(m, "mat"):
        return QueryPlan(Intent.FIND_OBJECT, interacted=True, attribute=_g(m, "mat"), attribute_kind="material")
    return QueryPlan(Intent.FIND_OBJECT, interacted=True, attribute=_g(m, "attr"), attribute_kind="")


@_rule(r"NAV the (?P<adj>[a-z ]+?) (?:THING) (?:that )?YOU PICKED(?: up)?(?: today)?")
def _adjective_interacted(m: re.Match[str], days: _DayContext) -> QueryPlan:
    adj = _g(m, "adj")
    if adj in ORDINALS:
        return QueryPlan(Intent.PICK_ORDER, ordinal=ORDINALS[adj])
    return QueryPlan(Intent.FIND_OBJECT, interacted=True, attribute=adj, attribute_kind="")


@_rule(
    r"NAV the (?P<obj>.+?) (?:that )?YOU (?:placed|put|left|set) (?:on|in|onto) the (?P<rec>.+?)"
    r"(?: in the (?P<room>.+?))?",
    r"NAV the (?P<obj>.+?) (?:that )?YOU (?:saw|spotted|noticed|have seen|had seen|seen) (?:on|in) the (?P<rec>.+?)"
    r"(?: in the (?P<room>.+?))?",
)
def _object_on_receptacle(m: re.Match[str], days: _DayContext) -> QueryPlan:
    relation = "seen" if re.search(r"\b(?:saw|spotted|noticed|seen)\b", m.group(0)) else "placed"
    return QueryPlan(
        Intent.FIND_OBJECT,
        object_phrase=_strip_article(_g(m, "obj")),
        receptacle=_strip_article(_g(m, "rec")),
        room=_g(m, "room"),
        relation=relation,
        interacted=True if relation == "placed" else None,
    )


@_rule(
    r"NAV the (?P<obj>.+?) (?:that )?YOU PICKED(?: up)?(?: (?P<when>(?:at|around|since|after|before|during|this|"
    r"in the|between|yesterday|today|on day)\b.*))?",
    r"NAV (?:a|an|any) (?P<indef>.+?) (?:that )?YOU PICKED(?: up)?",
)
def _object_interacted(m: re.Match[str], days: _DayContext) -> QueryPlan:
    obj = _g(m, "obj") or _g(m, "indef")
    return QueryPlan(
        Intent.FIND_OBJECT,
        object_phrase=_strip_article(obj),
        interacted=True,
        definite=not _g(m, "indef"),
        **_window_slots(_g(m, "when"), days),
    )


@_rule(
    r"where (?:is|are|was|were) (?:the|my|a|an|our) (?P<obj>.+?)(?: now| currently| right now)?",
    r"where did YOU (?:last )?(?:leave|put|see|place|drop|set down|last see) (?:the|my|a|an|our) (?P<obj>.+?)"
    r"(?: last)?",
    r"NAV (?:the|my|our) (?P<obj>.+?)",
    r"where can i find (?:the|my|a|an) (?P<obj>.+?)",
)
def _find_definite(m: re.Match[str], days: _DayContext) -> QueryPlan:
    obj = _g(m, "obj")
    if re.search(r",| and | then ", obj):  # "go to the mug, the book and the vase"
        items = _split_list(obj)
        if len(items) >= 2:
            return QueryPlan(Intent.MULTI_LIST, objects=items, ordered=" then " in m.group(0))
    return QueryPlan(Intent.FIND_OBJECT, object_phrase=_strip_article(obj), definite=True)


@_rule(r"NAV (?:a|an|any|some|one) (?P<obj>.+?)")
def _find_indefinite(m: re.Match[str], days: _DayContext) -> QueryPlan:
    return QueryPlan(Intent.FIND_OBJECT, object_phrase=_strip_article(_g(m, "obj")), definite=False)


def parse_task(text: str, day1_ns: int, now_ns: int) -> QueryPlan:
    """Parse ``text`` into a :class:`QueryPlan` (times resolved against day 1 / now). Raises ValueError with
    the reason when no rule understands it."""
    norm = _normalize(text)
    if not norm:
        raise ValueError("the task is empty")
    days = _DayContext(day1_ns=day1_ns - day1_ns % DAY_NS, today_ns=now_ns - now_ns % DAY_NS, now_ns=now_ns)
    errors: list[str] = []
    for pattern, build in _RULES:
        m = pattern.match(norm)
        if m is None:
            continue
        try:
            plan = build(m, days)
        except _ParseError as exc:
            errors.append(str(exc))
            continue
        return replace(plan, text=norm)
    why = f" ({errors[0]})" if errors else ""
    raise ValueError(f"could not understand the task {text!r}{why}")


# ================================================================================================ execution


@dataclass(frozen=True)
class DerivedMove:
    """One move of an object, derived from its placement history.

    ``robot``: the robot's own pick-and-place (it watched the object leave and saw it arrive), else moved by
    someone else while unseen. Times ns: ``pick_ns`` best estimate of when it left, ``place_ns`` when it was
    first seen at the new place; ``left_after_ns``/``left_before_ns`` bound when it left.
    """

    instance_id: int
    label: str
    index: int  # placement index it left from
    before: Placement
    after: Optional[Placement]
    pick_ns: int
    place_ns: Optional[int]
    left_after_ns: int
    left_before_ns: int
    robot: bool

    @property
    def duration_s(self) -> Optional[float]:
        return None if self.place_ns is None else (self.place_ns - self.pick_ns) / 1e9


class _Recorder:
    """Wraps a MemoryQueries and records every call as a readable string (the answer's ``plan``)."""

    def __init__(self, memory: MemoryQueries) -> None:
        self._memory = memory
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._memory, name)
        if not callable(fn):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items() if v is not None]
            entry = f"{name}({', '.join(parts)})"
            if not self.calls or self.calls[-1] != entry:
                self.calls.append(entry)
            return fn(*args, **kwargs)

        return call


class _UnknownError(Exception):
    """Internal: answer "I don't know" with this reason."""


class _Context:
    """Per-answer cache of what the memory says (each query runs at most once per answer)."""

    def __init__(self, memory: _Recorder, config: RuleBasedConfig, shapes: Mapping[str, str], now_ns: int) -> None:
        self.m = memory
        self.cfg = config
        self.shapes = shapes
        self.now_ns = now_ns
        self._instances: Optional[list[InstanceSummary]] = None
        self._history: dict[int, tuple[Placement, ...]] = {}
        self._moves: Optional[list[DerivedMove]] = None
        self._visits: Optional[tuple[RoomVisit, ...]] = None
        self._cams: dict[int, list[tuple[float, float]]] = {}
        self._robot_xy: Optional[tuple[float, float]] = None
        self._rbox: dict[int, Box3D] = {}
        self._regions: Optional[list[Region]] = None

    # -- raw data
    @property
    def instances(self) -> list[InstanceSummary]:
        if self._instances is None:
            self._instances = list(self.m.instances(include_vanished=True))
        return self._instances

    def objects(self) -> list[InstanceSummary]:
        return [i for i in self.instances if i.kind is NodeKind.OBJECT]

    def receptacles(self) -> list[InstanceSummary]:
        return [i for i in self.instances if i.kind is NodeKind.RECEPTACLE]

    def by_id(self, iid: Optional[int]) -> Optional[InstanceSummary]:
        if iid is None:
            return None
        return next((i for i in self.instances if i.instance_id == iid), None)

    def history(self, iid: int) -> tuple[Placement, ...]:
        if iid not in self._history:
            res = self.m.history(instance_id=iid)
            self._history[iid] = tuple(res.placements) if res.status is QueryStatus.OK else ()
        return self._history[iid]

    @property
    def regions(self) -> list[Region]:
        if self._regions is None:
            self._regions = list(self.m.regions())
        return self._regions

    @property
    def visits(self) -> tuple[RoomVisit, ...]:
        if self._visits is None:
            res = self.m.room_visits()
            self._visits = tuple(res.visits) if res.status is QueryStatus.OK else ()
        return self._visits

    def rbox(self, rec: InstanceSummary) -> Box3D:
        """A receptacle's box: the union of the boxes of all its placements (furniture does not move, but a
        partial view can shift its centroid enough to look like a new placement)."""
        if rec.instance_id not in self._rbox:
            boxes = [p.box for p in self.history(rec.instance_id)] or [rec.box]
            self._rbox[rec.instance_id] = Box3D(
                (min(b.min_xyz[0] for b in boxes), min(b.min_xyz[1] for b in boxes), min(b.min_xyz[2] for b in boxes)),
                (max(b.max_xyz[0] for b in boxes), max(b.max_xyz[1] for b in boxes), max(b.max_xyz[2] for b in boxes)),
            )
        return self._rbox[rec.instance_id]

    def camera_positions(self, iid: int) -> list[tuple[float, float]]:
        """xy of the cameras of keyframes that showed ``iid`` (where the robot could stand and see it)."""
        if iid not in self._cams:
            res = self.m.keyframes_for(instance_id=iid, k=12)
            self._cams[iid] = [(float(k.world_T_camera[0, 3]), float(k.world_T_camera[1, 3])) for k in res.keyframes]
        return self._cams[iid]

    @property
    def robot_xy(self) -> Optional[tuple[float, float]]:
        """Where the robot is now: the camera of the newest keyframe."""
        if self._robot_xy is None:
            res = self.m.keyframes_for(k=1)
            if res.keyframes:
                T = res.keyframes[0].world_T_camera
                self._robot_xy = (float(T[0, 3]), float(T[1, 3]))
        return self._robot_xy

    # -- derived: moves
    @property
    def moves(self) -> list[DerivedMove]:
        """Every move of every object, in order of pick time."""
        if self._moves is None:
            out: list[DerivedMove] = []
            gap_ns = int(self.cfg.pick_gap_s * NS)
            carry_ns = int(self.cfg.max_carry_s * NS)
            for inst in self.objects():
                ps = self.history(inst.instance_id)
                for j, p in enumerate(ps):
                    nxt = ps[j + 1] if j + 1 < len(ps) else None
                    if nxt is None and p.vanished_ns is None:
                        continue
                    left_before = (
                        p.vanished_ns if p.vanished_ns is not None else (nxt.first_seen_ns if nxt else p.last_seen_ns)
                    )
                    if nxt is not None:
                        left_before = min(left_before, nxt.first_seen_ns)
                    watched = left_before - p.last_seen_ns <= gap_ns
                    robot = watched and nxt is not None and nxt.first_seen_ns - p.last_seen_ns <= carry_ns
                    # watched: the robot looked at it until it left (last sighting ~ pick); else unknown
                    pick = p.last_seen_ns if watched else (p.last_seen_ns + left_before) // 2
                    out.append(
                        DerivedMove(
                            inst.instance_id,
                            inst.label,
                            j,
                            p,
                            nxt,
                            pick,
                            nxt.first_seen_ns if nxt else None,
                            p.last_seen_ns,
                            left_before,
                            robot,
                        )
                    )
            out.sort(key=lambda mv: (mv.pick_ns, mv.instance_id))
            self._moves = out
        return self._moves

    def picks(self) -> list[DerivedMove]:
        """The robot's own pick-and-places, in pick order."""
        return [mv for mv in self.moves if mv.robot]

    def picked_ids(self) -> list[int]:
        """Objects the robot picked, in order of their first pick."""
        out: list[int] = []
        for mv in self.picks():
            if mv.instance_id not in out:
                out.append(mv.instance_id)
        return out


def _room_of_xy(x: float, y: float, regions: Sequence[Region], margin: float = 0.0) -> Optional[Region]:
    for r in regions:
        lo, hi = r.box.min_xyz, r.box.max_xyz
        if lo[0] + margin <= x <= hi[0] - margin and lo[1] + margin <= y <= hi[1] - margin:
            return r
    return None


def _footprint_distance(box: Box3D, x: float, y: float) -> float:
    dx = max(box.min_xyz[0] - x, 0.0, x - box.max_xyz[0])
    dy = max(box.min_xyz[1] - y, 0.0, y - box.max_xyz[1])
    return math.hypot(dx, dy)


def _xy_dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(float(a[0]) - float(b[0]), float(a[1]) - float(b[1]))


def _fmt_time(t_ns: int) -> str:
    s = (t_ns % DAY_NS) // NS
    return f"{s // 3600:02d}:{(s % 3600) // 60:02d}:{s % 60:02d}"


class RuleBasedPlanner:
    """The default planner. See the module docstring. Deterministic; holds no memory state between calls."""

    name = "rule_based"

    def __init__(
        self,
        config: Optional[RuleBasedConfig] = None,
        shape_lexicon: Optional[Mapping[str, str]] = None,
        receptacle_prior: Optional[Mapping[str, Mapping[str, float]]] = None,
        **_ignored: object,
    ) -> None:
        self.config = config or RuleBasedConfig()
        self.config.validate()
        self.shapes: dict[str, str] = dict(DEFAULT_SHAPES)
        if shape_lexicon:
            self.shapes.update({k.lower(): v.lower() for k, v in shape_lexicon.items()})
        self.receptacle_prior: dict[str, dict[str, float]] = {
            k.lower(): {r.lower(): float(w) for r, w in v.items()} for k, v in (receptacle_prior or {}).items()
        }

    # ------------------------------------------------------------------------------------------ public
    def parse(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> QueryPlan:
        """Parse only (raises ValueError with the reason when the task is not understood)."""
        first, last = memory.time_range()
        now = int(now_ns) if now_ns is not None else last
        return parse_task(task, first or now, now)

    def answer(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> PlannerAnswer:
        rec = _Recorder(memory)
        first, last = rec.time_range()
        now = int(now_ns) if now_ns is not None else last
        try:
            plan = parse_task(task, first or now, now)
        except ValueError as exc:
            return self._unknown(
                f"I don't know: {exc}. I understand questions about objects I saw or moved, "
                "rooms, times, orders, durations, counts and changes.",
                rec,
            )
        if first == 0 and last == 0:
            return self._unknown("I don't know: the memory is empty (no frame was ingested yet)", rec)
        ctx = _Context(rec, self.config, self.shapes, now)
        try:
            out = self._execute(plan, ctx)
        except _UnknownError as exc:
            return self._unknown(f"I don't know: {exc}", rec)
        return replace(out, plan=tuple(rec.calls))

    @staticmethod
    def _unknown(reason: str, rec: _Recorder) -> PlannerAnswer:
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, reason, plan=tuple(rec.calls))

    # ------------------------------------------------------------------------------------------ dispatch
    def _execute(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        handler = getattr(self, "_do_" + plan.intent.value)
        result: PlannerAnswer = handler(plan, ctx)
        return result

    # ------------------------------------------------------------------------------------------ resolution
    def _match_phrase(self, phrase: str, inst: InstanceSummary) -> bool:
        """Words of ``phrase`` name ``inst``: its category matches the phrase's head and every other word of
        the phrase is one of the label's attribute words."""
        words = _tokens(phrase)
        if not words:
            return False
        colour, material, category = split_label(inst.label)
        cat = _tokens(category)
        if not cat:
            return False
        if words[-len(cat) :] != cat:
            return False
        rest = words[: -len(cat)]
        attrs = {w for w in (colour, material) if w}
        return all(w in attrs for w in rest)

    def _resolve(
        self, phrase: str, ctx: _Context, kinds: Iterable[NodeKind] = (NodeKind.OBJECT,), semantic: bool = True
    ) -> list[InstanceSummary]:
        """Instances named by ``phrase`` (by label words; then by the memory's text search when the head noun
        is no known category)."""
        kinds = tuple(kinds)
        phrase = _strip_article(phrase)
        pool = [i for i in ctx.instances if i.kind in kinds]
        hits = [i for i in pool if self._match_phrase(phrase, i)]
        if not hits and phrase:
            words = phrase.split()
            alt = SYNONYMS.get(_singular(words[-1]))
            if alt is not None:  # "my keys" -> keychain, "the cup" -> mug
                phrase = " ".join([*words[:-1], alt])
                hits = [i for i in pool if self._match_phrase(phrase, i)]
        if hits or not semantic or not phrase:
            return hits
        head = _tokens(phrase)[-1:] or [""]
        known_heads = {(_tokens(split_label(i.label)[2]) or [""])[-1] for i in pool}
        if head[0] in known_heads:
            return []  # the category is known, the attributes do not match: it is not in memory
        res = ctx.m.locate(text=phrase, k=5, include_vanished=True)
        ids = {i.instance_id for i in pool}
        return [x for x in res.matches if x.instance_id in ids and x.score >= self.config.semantic_min_score]

    def _resolve_one(
        self, phrase: str, ctx: _Context, kinds: Iterable[NodeKind] = (NodeKind.OBJECT,)
    ) -> InstanceSummary:
        hits = self._resolve(phrase, ctx, kinds)
        if not hits:
            raise _UnknownError(f"I never saw a {phrase!r} (no instance in memory matches it)")
        # prefer the one with most evidence; ties by id for determinism
        return sorted(hits, key=lambda i: (-i.n_observations, i.instance_id))[0]

    def _receptacles_named(self, phrase: str, room: str, ctx: _Context) -> list[InstanceSummary]:
        recs = self._resolve(phrase, ctx, (NodeKind.RECEPTACLE,), semantic=False)
        if room:
            in_room = [r for r in recs if self._room_name(r.position, ctx) == self._canon_room(room, ctx)]
            recs = in_room
        return recs

    def _canon_room(self, room: str, ctx: _Context) -> str:
        want = room.strip().lower().replace("_", " ")
        for r in ctx.regions:
            if r.name.lower().replace("_", " ") == want:
                return r.name
        raise _UnknownError(
            f"I know no room called {room!r} (rooms: {', '.join(r.name for r in ctx.regions) or 'none'})"
        )

    def _room_name(self, xyz: Sequence[float], ctx: _Context) -> Optional[str]:
        r = _room_of_xy(float(xyz[0]), float(xyz[1]), ctx.regions)
        return r.name if r else None

    def _category(self, inst: InstanceSummary) -> str:
        return split_label(inst.label)[2]

    def _has_attribute(self, inst: InstanceSummary, value: str, kind: str) -> bool:
        colour, material, category = split_label(inst.label)
        vals = [v.strip() for v in re.split(r"\s+(?:and|or)\s+|\s+", value.strip()) if v.strip()]
        vals = [v for v in vals if v not in ("made", "of", "from", "a", "an", "the")]
        if not vals:
            return True
        for v in vals:
            ok = False
            if kind in ("", "color") and colour is not None and v in (colour, "gray" if colour == "grey" else colour):
                ok = True
            if kind in ("", "material") and material is not None and v == material:
                ok = True
            if kind in ("", "shape") and self.shapes.get(category) == v:
                ok = True
            if not ok:
                return False
        return True

    # ------------------------------------------------------------------------------------------ where now
    def _current(
        self, inst: InstanceSummary, ctx: _Context
    ) -> tuple[Sequence[float], Optional[InstanceSummary], str, bool]:
        """(position, receptacle or None, explanation, predicted) of where the object is believed to be now."""
        rec = ctx.by_id(inst.receptacle_id)
        if inst.present:
            where = f" on the {rec.label}" if rec else ""
            room = inst.room or self._room_name(inst.position, ctx)
            return (
                inst.position,
                rec,
                (
                    f"the {inst.label} is{where}{' in the ' + room if room else ''} "
                    f"(last seen {_fmt_time(inst.last_seen_ns)})"
                ),
                False,
            )
        pred = self._predict_receptacle(inst, ctx)
        if pred is None:
            raise _UnknownError(
                f"the {inst.label} is no longer where I last saw it (seen gone after {_fmt_time(inst.last_seen_ns)}) "
                "and I have no history of where objects like it are kept"
            )
        pbox = ctx.rbox(pred)
        c = pbox.center
        top = (c[0], c[1], pbox.max_xyz[2])
        room = pred.room or self._room_name(c, ctx)
        return (
            top,
            pred,
            (
                f"the {inst.label} was moved while I was not looking (its place was seen empty); "
                f"prediction: it is probably on the {pred.label}{' in the ' + room if room else ''}, "
                f"where {self._category(inst)}s are usually kept"
            ),
            True,
        )

    def _predict_receptacle(self, inst: InstanceSummary, ctx: _Context) -> Optional[InstanceSummary]:
        """Most frequent receptacle category of this object category in memory, not re-checked since it left."""
        category = self._category(inst)
        votes: dict[str, float] = {}
        for o in ctx.objects():
            if self._category(o) != category:
                continue
            for p in ctx.history(o.instance_id):
                r = ctx.by_id(p.receptacle_id)
                if r is not None:
                    key = self._category(r)
                    votes[key] = votes.get(key, 0.0) + 1.0
        # common-sense prior (weights <= 1) breaks ties and covers categories seen in one place only
        for rec_cat, w in self.receptacle_prior.get(category, {}).items():
            votes[rec_cat] = votes.get(rec_cat, 0.0) + float(w)
        if not votes:
            return None
        hist = ctx.history(inst.instance_id)
        gone_from = hist[-1].receptacle_id if hist else inst.receptacle_id
        gone_at = hist[-1].vanished_ns if hist and hist[-1].vanished_ns else inst.last_seen_ns
        scored: list[tuple[float, float, int, InstanceSummary]] = []
        for r in ctx.receptacles():
            v = votes.get(self._category(r), 0.0)
            if r.instance_id == gone_from or v <= 0.0:
                continue
            if r.last_seen_ns > gone_at:  # looked at since it left, and it was not there
                v *= 0.1
            scored.append((-v, _xy_dist(r.position, inst.position), r.instance_id, r))
        if not scored:
            return None
        return sorted(scored, key=lambda e: e[:3])[0][3]

    # ------------------------------------------------------------------------------------------ goals
    def _free(self, x: float, y: float, ctx: _Context, room: Optional[Region], ignore: Optional[int] = None) -> bool:
        c = self.config.clearance_m
        r = _room_of_xy(x, y, ctx.regions, margin=c)
        if r is None or (room is not None and r.name != room.name):
            return False
        for rec in ctx.receptacles():
            if rec.instance_id == ignore:
                continue
            if _footprint_distance(ctx.rbox(rec), x, y) < c:
                return False
        return True

    @staticmethod
    def _front(rec: Optional[InstanceSummary], ctx: _Context) -> Optional[float]:
        """Angle of a receptacle's open side: furniture stands against a wall, so its front faces away from
        the nearest wall of its room (None when unknown)."""
        if rec is None:
            return None
        box = ctx.rbox(rec)
        c = box.center
        room = _room_of_xy(c[0], c[1], ctx.regions)
        if room is None:
            return None
        lo, hi = room.box.min_xyz, room.box.max_xyz
        gaps = [
            (box.min_xyz[0] - lo[0], 0.0),
            (hi[0] - box.max_xyz[0], math.pi),
            (box.min_xyz[1] - lo[1], math.pi / 2),
            (hi[1] - box.max_xyz[1], -math.pi / 2),
        ]
        gap, angle = min(gaps)
        return angle if gap < 0.5 else None

    def _directions(
        self, target_xy: tuple[float, float], iid: Optional[int], ctx: _Context, front: Optional[float] = None
    ) -> list[float]:
        """Approach directions (angles from the target outwards): sides it was seen from (a camera there had a
        clear line of sight) within 60 deg of the receptacle's front, nearest the robot first; then a ring of
        directions around the front (or the first view)."""
        angles: list[float] = []
        if iid is not None:
            robot = ctx.robot_xy
            cams = sorted(ctx.camera_positions(iid), key=lambda c: _xy_dist(c, target_xy))[:8]
            angles = [
                math.atan2(cy - target_xy[1], cx - target_xy[0])
                for cx, cy in cams
                if _xy_dist((cx, cy), target_xy) > 0.05
            ]
            if front is not None:
                angles = [a for a in angles if abs(math.remainder(a - front, 2 * math.pi)) <= math.pi / 3]
            if robot is not None:
                tx, ty = target_xy
                angles.sort(key=lambda a: _xy_dist(robot, (tx + math.cos(a), ty + math.sin(a))))
        base = front if front is not None else (angles[0] if angles else 0.0)
        ring = sorted(
            (base + k * math.pi / 8 for k in range(16)), key=lambda a: abs(math.remainder(a - base, 2 * math.pi))
        )
        return angles[:4] + ring

    def _goal_near(
        self,
        target: Sequence[float],
        ctx: _Context,
        iid: Optional[int] = None,
        box: Optional[Box3D] = None,
        label: str = "",
        front: Optional[float] = None,
    ) -> Goal:
        """A free standing point facing ``target`` (xyz): ``standoff_m`` from a small object, or
        ``receptacle_standoff_m`` from ``box``'s footprint when a receptacle box is given."""
        tx, ty = float(target[0]), float(target[1])
        room = _room_of_xy(tx, ty, ctx.regions)
        dists = (0.0, 0.15, 0.3, -0.15, 0.4) if box is not None else (0.0, 0.2, 0.4, -0.15, 0.6, 0.9)
        for ang in self._directions((tx, ty), iid, ctx, front):
            ux, uy = math.cos(ang), math.sin(ang)
            if box is not None:
                # distance from the centre to the footprint edge along this direction
                hx = (box.max_xyz[0] - box.min_xyz[0]) / 2.0
                hy = (box.max_xyz[1] - box.min_xyz[1]) / 2.0
                edge = min(hx / abs(ux) if abs(ux) > 1e-9 else math.inf, hy / abs(uy) if abs(uy) > 1e-9 else math.inf)
                base = edge + self.config.receptacle_standoff_m
            else:
                base = self.config.standoff_m
            for extra in dists:
                d = base + extra
                x, y = tx + ux * d, ty + uy * d
                if self._free(x, y, ctx, room, ignore=None):
                    return Goal((x, y, 0.0), yaw=math.atan2(ty - y, tx - x), instance_id=iid, label=label)
        # nothing free found: stand where the robot saw it from (it stood there)
        if iid is not None and ctx.camera_positions(iid):
            cx, cy = min(ctx.camera_positions(iid), key=lambda c: _xy_dist(c, (tx, ty)))
            return Goal((cx, cy, 0.0), yaw=math.atan2(ty - cy, tx - cx), instance_id=iid, label=label)
        return Goal((tx, ty, 0.0), yaw=None, instance_id=iid, label=label)

    def _object_goal(self, inst: InstanceSummary, ctx: _Context) -> tuple[Goal, str, bool]:
        pos, rec, text, predicted = self._current(inst, ctx)
        if predicted and rec is not None:
            g = self._goal_near(
                ctx.rbox(rec).center,
                ctx,
                iid=rec.instance_id,
                box=ctx.rbox(rec),
                label=inst.label,
                front=self._front(rec, ctx),
            )
            return replace(g, instance_id=inst.instance_id), text, True
        support = rec if rec is not None else self._support(pos, ctx)
        goal = self._goal_near(pos, ctx, iid=inst.instance_id, label=inst.label, front=self._front(support, ctx))
        return goal, text, predicted

    @staticmethod
    def _support(pos: Sequence[float], ctx: _Context) -> Optional[InstanceSummary]:
        """The receptacle whose footprint holds ``pos`` (xy, 5 cm tolerance), if any."""
        best: Optional[tuple[float, int, InstanceSummary]] = None
        for r in ctx.receptacles():
            d = _footprint_distance(ctx.rbox(r), float(pos[0]), float(pos[1]))
            if d <= 0.05 and (best is None or (d, r.instance_id) < best[:2]):
                best = (d, r.instance_id, r)
        return best[2] if best else None

    def _receptacle_goal(self, rec: InstanceSummary, ctx: _Context) -> Goal:
        box = ctx.rbox(rec)
        return self._goal_near(
            box.center, ctx, iid=rec.instance_id, box=box, label=rec.label, front=self._front(rec, ctx)
        )

    def _room_goal(self, name: str, ctx: _Context) -> Goal:
        """A free point inside the room: the one nearest the robot (shortest path; the robot's own spot when it
        is in the room already), else the one nearest the room's centre."""
        region = next(r for r in ctx.regions if r.name == name)
        cx, cy, _ = region.box.center
        ref = ctx.robot_xy or (cx, cy)
        if self._free(ref[0], ref[1], ctx, region):
            return Goal((ref[0], ref[1], 0.0), label=name)
        lo, hi = region.box.min_xyz, region.box.max_xyz
        best: Optional[tuple[float, float, float]] = None
        step = 0.2
        nx = max(1, int((hi[0] - lo[0]) / step))
        ny = max(1, int((hi[1] - lo[1]) / step))
        for i in range(nx + 1):
            for j in range(ny + 1):
                x = lo[0] + (hi[0] - lo[0]) * i / nx
                y = lo[1] + (hi[1] - lo[1]) * j / ny
                if self._free(x, y, ctx, region):
                    d = math.hypot(x - ref[0], y - ref[1])
                    if best is None or d < best[0]:
                        best = (d, x, y)
        if best is None:
            return Goal((cx, cy, 0.0), label=name)
        return Goal((best[1], best[2], 0.0), label=name)

    def _nearest(self, items: Sequence[InstanceSummary], ctx: _Context) -> InstanceSummary:
        robot = ctx.robot_xy
        if robot is None:
            return sorted(items, key=lambda i: i.instance_id)[0]
        return sorted(items, key=lambda i: (_xy_dist(i.position, robot), i.instance_id))[0]

    def _nav_instance(self, inst: InstanceSummary, ctx: _Context, why: str = "") -> PlannerAnswer:
        goal, text, predicted = self._object_goal(inst, ctx)
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.INSTANCE,
            (why + text) if why else text,
            value=inst.label,
            instance_ids=(inst.instance_id,),
            goals=(goal,),
        )

    def _nav_receptacle(self, rec: InstanceSummary, ctx: _Context, why: str) -> PlannerAnswer:
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.RECEPTACLE,
            why,
            value=rec.label,
            instance_ids=(rec.instance_id,),
            goals=(self._receptacle_goal(rec, ctx),),
        )

    def _nav_list(
        self, insts: Sequence[InstanceSummary], ctx: _Context, ordered: bool, why: str, receptacles: bool = False
    ) -> PlannerAnswer:
        goals: list[Goal] = []
        notes: list[str] = []
        for inst in insts:
            if receptacles:
                goals.append(self._receptacle_goal(inst, ctx))
            else:
                g, text, predicted = self._object_goal(inst, ctx)
                goals.append(g)
                if predicted:
                    notes.append(text)
        if not ordered and len(goals) > 1 and ctx.robot_xy is not None:
            goals = order_goals(ctx.robot_xy, goals, fixed_order=False)
        ids = tuple(g.instance_id for g in goals if g.instance_id is not None)
        text = why + (" (" + "; ".join(notes) + ")" if notes else "")
        return PlannerAnswer(
            QueryStatus.OK, AnswerKind.LIST, text, value=len(goals), instance_ids=ids, goals=tuple(goals)
        )

    # ------------------------------------------------------------------------------------------ handlers
    def _filter_candidates(self, plan: QueryPlan, ctx: _Context) -> tuple[list[InstanceSummary], str]:
        """Objects satisfying the plan's slots, and a description of the constraints."""
        desc = [repr(plan.object_phrase) if plan.object_phrase else "object"]
        cands = self._resolve(plan.object_phrase, ctx) if plan.object_phrase else ctx.objects()
        if plan.object_phrase and not cands:
            raise _UnknownError(f"I never saw a {plan.object_phrase!r} (no instance in memory matches it)")
        picks = ctx.picks()
        if plan.interacted is not None:
            picked = {mv.instance_id for mv in picks}
            cands = [c for c in cands if (c.instance_id in picked) == plan.interacted]
            desc.append("that I picked up" if plan.interacted else "that I did not pick up")
        if plan.attribute:
            cands = [c for c in cands if self._has_attribute(c, plan.attribute, plan.attribute_kind)]
            desc.append(f"that is {plan.attribute}")
        if plan.receptacle:
            recs = {r.instance_id for r in self._receptacles_named(plan.receptacle, plan.room, ctx)}
            if not recs:
                where = f" in the {plan.room}" if plan.room else ""
                raise _UnknownError(f"I never saw a {plan.receptacle!r}{where}")
            if plan.relation == "placed":
                ok = {mv.instance_id for mv in picks if mv.after is not None and mv.after.receptacle_id in recs}
            elif plan.relation == "picked_from":
                ok = {mv.instance_id for mv in picks if mv.before.receptacle_id in recs}
            else:
                ok = {c.instance_id for c in cands if any(p.receptacle_id in recs for p in ctx.history(c.instance_id))}
            cands = [c for c in cands if c.instance_id in ok]
            desc.append(
                f"{plan.relation or 'seen'} on the {plan.receptacle}" + (f" in the {plan.room}" if plan.room else "")
            )
        if plan.t0_ns is not None or plan.at_ns is not None:
            lo, hi = self._time_bounds(plan)
            ok = {mv.instance_id for mv in picks if lo <= mv.pick_ns <= hi}
            cands = [c for c in cands if c.instance_id in ok]
            desc.append(f"picked between {_fmt_time(lo)} and {_fmt_time(hi)}")
        return cands, " ".join(desc)

    def _time_bounds(self, plan: QueryPlan) -> tuple[int, int]:
        if plan.at_ns is not None:
            tol = int(self.config.time_match_s * NS)
            return plan.at_ns - tol, plan.at_ns + tol
        assert plan.t0_ns is not None and plan.t1_ns is not None
        return plan.t0_ns, plan.t1_ns

    def _do_find_object(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        cands, desc = self._filter_candidates(plan, ctx)
        if not cands:
            raise _UnknownError(f"no {desc} in memory")
        if (
            plan.definite
            and len({c.label for c in cands}) > 1
            and plan.object_phrase
            and plan.interacted is None
            and not plan.receptacle
        ):
            # "the mug" with several mugs: the one seen most recently
            cands = sorted(cands, key=lambda c: (-c.last_seen_ns, c.instance_id))[:1]
        present = [c for c in cands if c.present]
        target = self._nearest(present or cands, ctx)
        return self._nav_instance(target, ctx)

    def _do_object_room(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        inst = self._resolve_one(plan.object_phrase, ctx)
        pos, rec, text, predicted = self._current(inst, ctx)
        room = (rec.room if rec is not None and rec.room else None) or self._room_name(pos, ctx)
        if not predicted and inst.room:
            room = inst.room
        if room is None:
            raise _UnknownError(f"the {inst.label} is not inside any room I know ({text})")
        return PlannerAnswer(
            QueryStatus.OK, AnswerKind.ROOM, f"{room}: {text}", value=room, instance_ids=(inst.instance_id,)
        )

    def _do_object_attribute(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        cands, desc = self._filter_candidates(plan, ctx)
        if not cands:
            raise _UnknownError(f"no {desc} in memory")
        inst = sorted(cands, key=lambda c: (-c.n_observations, c.instance_id))[0]
        colour, material, category = split_label(inst.label)
        value = {"color": colour, "material": material, "shape": self.shapes.get(category)}.get(plan.attribute_kind)
        if value is None:
            raise _UnknownError(f"I do not know the {plan.attribute_kind} of the {inst.label}")
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.TEXT,
            f"the {inst.label} is {value}",
            value=value,
            instance_ids=(inst.instance_id,),
        )

    def _do_did_pick(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        hits = self._resolve(plan.object_phrase, ctx)
        if not hits:
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.BOOLEAN,
                f"no: I never saw a {plan.object_phrase!r}, so I did not pick it up",
                value=False,
            )
        picked = {mv.instance_id for mv in ctx.picks()}
        yes = [h for h in hits if h.instance_id in picked]
        if yes:
            mv = next(mv for mv in ctx.picks() if mv.instance_id == yes[0].instance_id)
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.BOOLEAN,
                f"yes: I picked up the {yes[0].label} at {_fmt_time(mv.pick_ns)}",
                value=True,
                instance_ids=(yes[0].instance_id,),
            )
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.BOOLEAN,
            f"no: I saw the {hits[0].label} but never picked it up",
            value=False,
            instance_ids=(hits[0].instance_id,),
        )

    def _picks_of(self, phrase: str, ctx: _Context) -> tuple[InstanceSummary, list[DerivedMove]]:
        hits = self._resolve(phrase, ctx)
        if not hits:
            raise _UnknownError(f"I never saw a {phrase!r}")
        for h in sorted(hits, key=lambda c: (-c.n_observations, c.instance_id)):
            mvs = [mv for mv in ctx.picks() if mv.instance_id == h.instance_id]
            if mvs:
                return h, mvs
        raise _UnknownError(f"I saw the {hits[0].label} but never picked it up")

    def _do_pick_receptacle(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        inst, mvs = self._picks_of(plan.object_phrase, ctx)
        mv = mvs[0]
        rec = ctx.by_id(mv.before.receptacle_id)
        if rec is None:
            raise _UnknownError(
                f"I picked up the {inst.label} at {_fmt_time(mv.pick_ns)} but did not see what it was on"
            )
        return self._nav_receptacle(
            rec, ctx, f"I picked the {inst.label} up from the {rec.label} at {_fmt_time(mv.pick_ns)}"
        )

    def _do_place_receptacle(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        inst, mvs = self._picks_of(plan.object_phrase, ctx)
        mv = mvs[-1]
        rec = ctx.by_id(mv.after.receptacle_id if mv.after else None)
        if rec is None:
            raise _UnknownError(f"I do not know what I put the {inst.label} on")
        return self._nav_receptacle(rec, ctx, f"I placed the {inst.label} on the {rec.label}")

    def _do_receptacle_near_object(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        inst = self._resolve_one(plan.object_phrase, ctx)
        pos, on, _text, _pred = self._current(inst, ctx)
        # every receptacle but the one it is on (that one is trivially nearest)
        recs = [r for r in ctx.receptacles() if on is None or r.instance_id != on.instance_id]
        if not recs:
            raise _UnknownError("I have seen no other receptacle")
        sign = -1.0 if plan.superlative == "farthest" else 1.0
        best = sorted(recs, key=lambda r: (sign * _xy_dist(ctx.rbox(r).center, pos), r.instance_id))[0]
        return self._nav_receptacle(
            best, ctx, f"the {best.label} is the receptacle {plan.superlative} from the {inst.label}"
        )

    def _do_object_near_receptacle(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        recs = self._receptacles_named(plan.receptacle, plan.room, ctx)
        if not recs:
            raise _UnknownError(f"I never saw a {plan.receptacle!r}" + (f" in the {plan.room}" if plan.room else ""))
        rec = recs[0]
        objs = [o for o in ctx.objects() if o.present]
        if not objs:
            raise _UnknownError("I know of no object that is still where I saw it")
        sign = -1.0 if plan.superlative == "farthest" else 1.0
        centre = ctx.rbox(rec).center
        best = sorted(objs, key=lambda o: (sign * _xy_dist(o.position, centre), o.instance_id))[0]
        return self._nav_instance(best, ctx, f"{plan.superlative} object to the {rec.label}: ")

    # -- rooms
    def _visited(self, ctx: _Context) -> list[RoomVisit]:
        if not ctx.visits:
            raise _UnknownError("I have no record of my own room visits (no pose was inside a known room)")
        return list(ctx.visits)

    def _room_answer(self, room: str, why: str, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        goals = (self._room_goal(room, ctx),) if plan.navigate else ()
        return PlannerAnswer(QueryStatus.OK, AnswerKind.ROOM, why, value=room, goals=goals)

    def _do_room_not_visited(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        if not ctx.regions:
            raise _UnknownError("I was given no room layout")
        seen = {v.room for v in ctx.visits}
        left = [r for r in ctx.regions if r.name not in seen]
        if not left:
            raise _UnknownError(f"I visited every room I know ({', '.join(sorted(seen))})")
        robot = ctx.robot_xy
        pick = sorted(left, key=lambda r: (_xy_dist(r.box.center, robot) if robot else 0.0, r.name))[0]
        return self._room_answer(pick.name, f"I never entered the {pick.name}", plan, ctx)

    def _do_room_start(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        v = self._visited(ctx)[0]
        return self._room_answer(v.room, f"I started in the {v.room} at {_fmt_time(v.enter_ns)}", plan, ctx)

    def _do_room_end(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        v = self._visited(ctx)[-1]
        return self._room_answer(v.room, f"I ended the day in the {v.room}", plan, ctx)

    def _do_room_most_time(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        total: dict[str, int] = {}
        for v in self._visited(ctx):
            end = v.exit_ns if v.exit_ns is not None else ctx.now_ns
            total[v.room] = total.get(v.room, 0) + max(0, end - v.enter_ns)
        room, t = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return self._room_answer(room, f"I spent the most time in the {room} ({t / NS / 60:.1f} min)", plan, ctx)

    def _do_room_entries(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        room = self._canon_room(plan.room, ctx)
        n = 0
        prev: Optional[RoomVisit] = None
        for v in ctx.visits:
            # starting a day in a room is not entering it: the first visit, or one after a night without frames
            day_start = prev is None or (prev.exit_ns is not None and prev.exit_ns // DAY_NS < v.enter_ns // DAY_NS)
            if v.room == room and not day_start:
                n += 1
            prev = v
        return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER, f"I entered the {room} {n} time(s)", value=n)

    def _do_room_at_time(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        assert plan.at_ns is not None
        t = plan.at_ns
        for v in self._visited(ctx):
            end = v.exit_ns if v.exit_ns is not None else ctx.now_ns
            if v.enter_ns <= t <= end:
                return PlannerAnswer(
                    QueryStatus.OK, AnswerKind.ROOM, f"at {_fmt_time(t)} I was in the {v.room}", value=v.room
                )
        visits = self._visited(ctx)
        if t < visits[0].enter_ns:  # before the first frame the robot was idle where it started the day
            v = visits[0]
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.ROOM,
                f"at {_fmt_time(t)} I had not moved yet; I started in the {v.room}",
                value=v.room,
            )
        before = [v for v in visits if v.enter_ns <= t]
        if before:
            v = before[-1]
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.ROOM,
                f"at {_fmt_time(t)} I had last been in the {v.room} (between rooms or idle)",
                value=v.room,
            )
        raise _UnknownError(f"I have no record of where I was at {_fmt_time(t)}")

    # -- picks: order, time, duration
    def _do_pick_order(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        picks = ctx.picks()
        if not picks:
            raise _UnknownError("I did not see myself pick up any object")
        if plan.anchor_phrase:
            anchor, mvs = self._picks_of(plan.anchor_phrase, ctx)
            idx = picks.index(mvs[0])
            if idx + 1 >= len(picks):
                raise _UnknownError(f"I picked up nothing after the {anchor.label}")
            mv = picks[idx + 1]
            why = f"right after the {anchor.label} I picked up the {mv.label} at {_fmt_time(mv.pick_ns)}; "
        else:
            n = plan.ordinal or 1
            if n > len(picks):
                raise _UnknownError(f"I picked up only {len(picks)} object(s), not {n}")
            mv = picks[n - 1] if n > 0 else picks[n]
            why = f"pick #{picks.index(mv) + 1} of {len(picks)} was the {mv.label} at {_fmt_time(mv.pick_ns)}; "
        inst = ctx.by_id(mv.instance_id)
        assert inst is not None
        return self._nav_instance(inst, ctx, why)

    def _nearest_in_time(self, events: list[tuple[int, DerivedMove]], plan: QueryPlan, what: str) -> DerivedMove:
        lo, hi = self._time_bounds(plan)
        inside = [(t, mv) for t, mv in events if lo <= t <= hi]
        if not inside:
            raise _UnknownError(f"I did not {what} anything between {_fmt_time(lo)} and {_fmt_time(hi)}")
        ref = plan.at_ns if plan.at_ns is not None else lo
        return sorted(inside, key=lambda e: (abs(e[0] - ref), e[1].instance_id))[0][1]

    def _do_pick_at_time(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        mv = self._nearest_in_time([(m.pick_ns, m) for m in ctx.picks()], plan, "pick up")
        inst = ctx.by_id(mv.instance_id)
        assert inst is not None
        return self._nav_instance(inst, ctx, f"I picked up the {mv.label} at {_fmt_time(mv.pick_ns)}; ")

    def _do_place_at_time(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        mv = self._nearest_in_time([(m.place_ns, m) for m in ctx.picks() if m.place_ns is not None], plan, "place")
        rec = ctx.by_id(mv.after.receptacle_id if mv.after else None)
        if rec is None:
            raise _UnknownError(f"I placed the {mv.label} at {_fmt_time(mv.place_ns or 0)} but did not see on what")
        return self._nav_receptacle(
            rec, ctx, f"I placed the {mv.label} on the {rec.label} at {_fmt_time(mv.place_ns or 0)}"
        )

    def _do_pick_time(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        inst, mvs = self._picks_of(plan.object_phrase, ctx)
        mv = mvs[0]
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.TIME,
            f"I picked up the {inst.label} at {_fmt_time(mv.pick_ns)}",
            value=int(mv.pick_ns),
            instance_ids=(inst.instance_id,),
        )

    def _do_duration_of(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        inst, mvs = self._picks_of(plan.object_phrase, ctx)
        mv = mvs[0]
        if mv.duration_s is None:
            raise _UnknownError(f"I picked up the {inst.label} but did not see where I put it")
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.DURATION,
            f"rearranging the {inst.label} took {mv.duration_s:.0f} s",
            value=float(mv.duration_s),
            instance_ids=(inst.instance_id,),
        )

    def _do_duration_extreme(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        done = [mv for mv in ctx.picks() if mv.duration_s is not None]
        if not done:
            raise _UnknownError("I did not see myself complete any pick-and-place")
        sign = 1.0 if plan.superlative == "shortest" else -1.0
        mv = sorted(done, key=lambda m: (sign * (m.duration_s or 0.0), m.pick_ns))[0]
        inst = ctx.by_id(mv.instance_id)
        assert inst is not None
        return self._nav_instance(inst, ctx, f"the {mv.label} took the {plan.superlative} ({mv.duration_s:.0f} s); ")

    # -- multi-goal
    def _do_multi_picked(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        ids = ctx.picked_ids()
        if not ids:
            raise _UnknownError("I did not see myself pick up any object")
        insts = [i for i in (ctx.by_id(x) for x in ids) if i is not None]
        return self._nav_list(
            insts,
            ctx,
            plan.ordered,
            f"the {len(insts)} object(s) I picked up" + (" in pick order" if plan.ordered else ""),
        )

    def _do_multi_placed_receptacles(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        recs: list[InstanceSummary] = []
        for mv in ctx.picks():
            r = ctx.by_id(mv.after.receptacle_id if mv.after else None)
            # ordered: one goal per placement (the same receptacle twice is two goals); unordered: distinct
            if r is not None and (plan.ordered or all(x.instance_id != r.instance_id for x in recs)):
                recs.append(r)
        if not recs:
            raise _UnknownError("I did not see myself place any object on a receptacle")
        return self._nav_list(
            recs, ctx, plan.ordered, f"the {len(recs)} receptacle(s) I placed objects on", receptacles=True
        )

    def _do_multi_list(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        insts = []
        for phrase in plan.objects:
            insts.append(self._resolve_one(phrase, ctx))
        return self._nav_list(
            insts, ctx, plan.ordered, "the listed objects" + (" in the given order" if plan.ordered else "")
        )

    # -- changes
    def _do_changes(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        assert plan.t0_ns is not None and plan.t1_ns is not None
        room = self._canon_room(plan.room, ctx) if plan.room else None
        ctx.m.changes(plan.t0_ns, plan.t1_ns, region=room)  # recorded in the plan; the moves below refine it
        moved: dict[int, DerivedMove] = {}
        for mv in ctx.moves:
            t = mv.pick_ns
            if not plan.t0_ns <= t <= plan.t1_ns:
                continue
            src = mv.before.room or self._room_name(mv.before.position, ctx)
            dst = (mv.after.room or self._room_name(mv.after.position, ctx)) if mv.after else None
            if room is not None and room not in (src, dst):
                continue
            moved.setdefault(mv.instance_id, mv)
        where = f" into, out of or within the {room}" if room else ""
        span = f"between {_fmt_time(plan.t0_ns)} and {_fmt_time(plan.t1_ns)}"
        if plan.count:
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.NUMBER,
                f"{len(moved)} object(s) were moved{where} {span}",
                value=len(moved),
                instance_ids=tuple(moved),
            )
        if not moved:
            return PlannerAnswer(QueryStatus.OK, AnswerKind.LIST, f"nothing was moved{where} {span}")
        insts = [i for i in (ctx.by_id(x) for x in moved) if i is not None]
        names = ", ".join(i.label for i in insts)
        return self._nav_list(insts, ctx, False, f"moved{where} {span}: {names}")

    # -- counting
    def _do_count_category(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        phrase = plan.object_phrase
        if phrase in ("room", "rooms"):
            return self._do_count_rooms(plan, ctx)
        hits = self._resolve(phrase, ctx, (NodeKind.OBJECT,), semantic=False)
        if not hits:
            hits = self._resolve(phrase, ctx, (NodeKind.RECEPTACLE,), semantic=False)
        if not hits:
            res = ctx.m.count(phrase, min_score=self.config.semantic_min_score, include_vanished=True)
            n = res.count
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.NUMBER,
                f"I saw {n} {phrase}",
                value=n,
                instance_ids=tuple(i.instance_id for i in res.instances),
            )
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.NUMBER,
            f"I saw {len(hits)} {phrase}",
            value=len(hits),
            instance_ids=tuple(sorted(h.instance_id for h in hits)),
        )

    def _do_count_picked(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        ids = ctx.picked_ids()
        return PlannerAnswer(
            QueryStatus.OK,
            AnswerKind.NUMBER,
            f"I picked up {len(ids)} object(s)",
            value=len(ids),
            instance_ids=tuple(ids),
        )

    def _do_count_rooms(self, plan: QueryPlan, ctx: _Context) -> PlannerAnswer:
        rooms = sorted({v.room for v in ctx.visits})
        return PlannerAnswer(
            QueryStatus.OK, AnswerKind.NUMBER, f"I visited {len(rooms)} room(s): {', '.join(rooms)}", value=len(rooms)
        )


def _factory(config: Optional[RuleBasedConfig] = None, **kwargs: Any) -> RuleBasedPlanner:
    return RuleBasedPlanner(config=config, **kwargs)


register_planner("rule_based", _factory)
