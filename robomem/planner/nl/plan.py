"""The typed query plan every planner produces: what a question asks (:class:`Intent`) and its slots.

The rule-based parser (:mod:`robomem.planner.nl.parser`) and the model planners (:mod:`robomem.planner.llm`)
both produce a :class:`QueryPlan`; the same handlers (:mod:`robomem.planner.handlers`) execute it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["AttributeKind", "EntityKind", "EntityRef", "Intent", "QueryPlan", "Relation", "TimeSpec"]


class Intent(enum.Enum):
    """What a question asks for. Navigation intents return goals (``navigate``); the others a typed value."""

    FIND_OBJECT = "find_object"  # where is X / go to X (constraints in the slots)
    OBJECT_ROOM = "object_room"  # which room is X in (now)
    OBJECT_ATTRIBUTE = "object_attribute"  # what colour / material / shape is X
    DID_PICK = "did_pick"  # did you pick up X
    PICK_RECEPTACLE = "pick_receptacle"  # the receptacle X was picked up from
    PLACE_RECEPTACLE = "place_receptacle"  # the receptacle X was put on
    RECEPTACLE_NEAR_OBJECT = "receptacle_near_object"  # nearest / farthest receptacle from X
    OBJECT_NEAR_RECEPTACLE = "object_near_receptacle"  # nearest / farthest object to receptacle R
    ROOM_NOT_VISITED = "room_not_visited"
    ROOM_START = "room_start"
    ROOM_END = "room_end"
    ROOM_MOST_TIME = "room_most_time"
    ROOM_ENTRIES = "room_entries"  # how many times did you enter R
    ROOM_AT_TIME = "room_at_time"
    PICK_ORDER = "pick_order"  # the n-th / last thing picked up, or the one right after/before X
    PICK_AT_TIME = "pick_at_time"  # the object picked up at T
    PLACE_AT_TIME = "place_at_time"  # the receptacle something was put on at T
    PICK_TIME = "pick_time"  # when did you pick up X
    PLACE_TIME = "place_time"  # when did you put X down
    DURATION_EXTREME = "duration_extreme"  # the object whose pick-and-place took longest / shortest
    DURATION_OF = "duration_of"  # how long did moving X take
    MULTI_PICKED = "multi_picked"  # everything picked up (ordered or not); as a list or as goals
    MULTI_PLACED_RECEPTACLES = "multi_placed_receptacles"  # every receptacle something was put on
    MULTI_LIST = "multi_list"  # the listed objects
    CHANGES = "changes"  # objects moved into / out of / within a room (since T)
    COUNT_CATEGORY = "count_category"  # how many X
    COUNT_PICKED = "count_picked"  # how many things were picked up
    PICK_COUNT = "pick_count"  # how many times was X picked up
    COUNT_ROOMS = "count_rooms"  # how many rooms were visited
    NOT_UNDERSTOOD = "not_understood"  # no intent fits (a model planner may say so too)


class EntityKind(enum.Enum):
    OBJECT = "object"  # a small movable thing
    RECEPTACLE = "receptacle"  # furniture / a fixture things are put on or in
    ANY = "any"


class Relation(enum.Enum):
    """How a receptacle slot constrains the target: the robot put it there, it was seen there, or it was picked
    up from there."""

    NONE = "none"
    PLACED = "placed"
    SEEN = "seen"
    PICKED_FROM = "picked_from"


class AttributeKind(enum.Enum):
    COLOR = "color"
    MATERIAL = "material"
    SHAPE = "shape"
    ANY = "any"


@dataclass(frozen=True)
class EntityRef:
    """A thing the question names, as said.

    ``text``: the words ("red mugs"); ``head``: the noun, singular ("mug"; "" for "thing", "object", "something":
    ``generic``); ``attributes``: adjectives the thing must have ("red", "ceramic", "cylindrical");
    ``quantifier``: "the" (one definite thing), "any" (one of several), "all" (every one).
    """

    text: str
    head: str = ""
    attributes: tuple[str, ...] = ()
    kind: EntityKind = EntityKind.OBJECT
    generic: bool = False
    quantifier: str = "the"

    def describe(self) -> str:
        """ "red mug", "object", "thing that is glass"."""
        words = [*self.attributes, self.head or ("object" if self.kind is EntityKind.OBJECT else "thing")]
        if self.kind is EntityKind.RECEPTACLE and self.generic:
            words[-1] = "receptacle"
        return " ".join(words)


@dataclass(frozen=True)
class TimeSpec:
    """A time the question names: a point ``at_ns`` (matched within ``tolerance_s``) or a window
    ``[t0_ns, t1_ns]`` (ns since the epoch). ``text``: the words as said ("half past two", "this morning")."""

    text: str
    at_ns: Optional[int] = None
    t0_ns: Optional[int] = None
    t1_ns: Optional[int] = None
    tolerance_s: float = 300.0

    @property
    def is_point(self) -> bool:
        return self.at_ns is not None

    def bounds(self) -> tuple[int, int]:
        """[lo, hi] ns: the window, or the point +- tolerance."""
        if self.at_ns is not None:
            tol = int(self.tolerance_s * 1e9)
            return self.at_ns - tol, self.at_ns + tol
        assert self.t0_ns is not None and self.t1_ns is not None
        return self.t0_ns, self.t1_ns


@dataclass(frozen=True)
class QueryPlan:
    """A parsed question.

    target: the thing asked about; objects: several things (MULTI_LIST); receptacle / room: where the target
    is or was (``relation`` says how); interacted: True - the robot picked it up, False - it did not;
    time: when; ordinal: 1-based position in the robot's picks (-1 the last); anchor: "right after X"
    (``anchor_offset`` +1) / "right before X" (-1); superlative: "nearest", "farthest", "longest", "shortest";
    attribute_kind: the attribute asked for (OBJECT_ATTRIBUTE); ordered: multi-goal order matters; navigate:
    the answer is a place to go (else a typed value); count: the answer is a number. confidence: how sure
    the parser is that it understood (0..1); text: the normalised question; notes: what was read, for logs.
    """

    intent: Intent
    target: Optional[EntityRef] = None
    objects: tuple[EntityRef, ...] = ()
    receptacle: Optional[EntityRef] = None
    room: str = ""
    relation: Relation = Relation.NONE
    interacted: Optional[bool] = None
    time: Optional[TimeSpec] = None
    ordinal: Optional[int] = None
    anchor: Optional[EntityRef] = None
    anchor_offset: int = 1
    superlative: str = ""
    attribute_kind: AttributeKind = AttributeKind.ANY
    ordered: bool = False
    navigate: bool = True
    count: bool = False
    confidence: float = 1.0
    text: str = ""
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """What was understood, in words ("find: the red mug that I picked up, between 14:00 and 15:00")."""
        parts = [self.intent.value.replace("_", " ")]
        if self.target is not None:
            parts.append(f"the {self.target.describe()}")
        if self.objects:
            parts.append(", ".join(f"the {o.describe()}" for o in self.objects))
        if self.interacted is not None:
            parts.append("that I picked up" if self.interacted else "that I did not pick up")
        if self.receptacle is not None:
            rel = {Relation.PLACED: "put on", Relation.PICKED_FROM: "picked up from"}.get(self.relation, "on")
            parts.append(f"{rel} the {self.receptacle.describe()}")
        if self.room:
            parts.append(f"in the {self.room}")
        if self.ordinal is not None:
            parts.append(f"pick #{self.ordinal}" if self.ordinal > 0 else f"pick #{self.ordinal} from the end")
        if self.anchor is not None:
            parts.append(f"{'after' if self.anchor_offset > 0 else 'before'} the {self.anchor.describe()}")
        if self.superlative:
            parts.append(self.superlative)
        if self.attribute_kind is not AttributeKind.ANY:
            parts.append(f"asking its {self.attribute_kind.value}")
        if self.time is not None:
            parts.append(f"time: {self.time.text}")
        if self.count:
            parts.append("(a count)")
        return ": ".join(parts[:1]) + (" " + ", ".join(parts[1:]) if len(parts) > 1 else "")
