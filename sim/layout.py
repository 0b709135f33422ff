"""House entities (rooms, doors, slots, receptacles, objects), the :class:`House` and the mutable
:class:`WorldState` (see :mod:`robomem_sim.world`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, NamedTuple, Optional

from robomem_sim.catalog import RGB, Vec3
from robomem_sim.config import HouseConfig

from robomem.core.types import Box3D, Region, Relation
from robomem.errors import SimError


@dataclass(frozen=True)
class Room:
    """A room: interior floor rectangle (wall faces) from the floor to the ceiling."""

    sim_id: int
    name: str
    room_type: str
    box: Box3D

    def contains_xy(self, x: float, y: float, margin: float = 0.0) -> bool:
        return (self.box.min_xyz[0] - margin <= x <= self.box.max_xyz[0] + margin
                and self.box.min_xyz[1] - margin <= y <= self.box.max_xyz[1] + margin)

    @property
    def center_xy(self) -> tuple[float, float]:
        c = self.box.center
        return (c[0], c[1])


@dataclass(frozen=True)
class Door:
    """A door gap in the wall between ``room_a`` and ``room_b``.

    The wall lies on ``axis`` = "x" (a wall of constant x, door spans y) or "y"; ``line`` is that constant
    coordinate, ``center`` the gap centre along the wall, ``width`` the gap width (m).
    """

    room_a: str
    room_b: str
    axis: str
    line: float
    center: float
    width: float

    @property
    def center_xy(self) -> tuple[float, float]:
        return (self.line, self.center) if self.axis == "x" else (self.center, self.line)


@dataclass(frozen=True)
class Slot:
    """A place for one object on a support surface: centre ``(x, y)`` and surface height ``z`` (m);
    ``relation`` ON (a top) or IN (inside an open cabinet/shelf); ``max_height`` free height above it, m."""

    index: int
    x: float
    y: float
    z: float
    relation: Relation
    max_height: float


class SlotRef(NamedTuple):
    """A slot of a receptacle."""

    receptacle_id: int
    slot_index: int


@dataclass(frozen=True)
class Receptacle:
    """A piece of furniture against a wall.

    ``box``: bounding box; ``parts``: the boxes it is rendered from; ``normal``: unit xy vector from its back to
    its front (into the room); ``slots``: support slots.
    """

    sim_id: int
    category: str
    room: str
    colour: str
    material: str
    box: Box3D
    parts: tuple[Box3D, ...]
    normal: tuple[float, float]
    slots: tuple[Slot, ...]

    @property
    def label(self) -> str:
        return f"{self.colour} {self.material} {self.category}"

    @property
    def center(self) -> Vec3:
        return self.box.center

    def footprint_distance(self, x: float, y: float) -> float:
        """xy distance from (x, y) to the footprint rectangle (0 inside), m."""
        dx = max(self.box.min_xyz[0] - x, 0.0, x - self.box.max_xyz[0])
        dy = max(self.box.min_xyz[1] - y, 0.0, y - self.box.max_xyz[1])
        return math.hypot(dx, dy)


@dataclass(frozen=True)
class SimObject:
    """A small movable object. ``size`` (x, y, z) m as placed (axis-aligned)."""

    sim_id: int
    category: str
    colour: str
    material: str
    shape: str
    size: Vec3
    move_frequency: float
    distractor_of: Optional[int] = None

    @property
    def label(self) -> str:
        return f"{self.colour} {self.material} {self.category}"


@dataclass(frozen=True, eq=False)
class House:
    """A generated house (static layout + the objects' initial slots).

    ``object_receptacle_prior``: this house's noisy prior {receptacle category: {object category: p}};
    ``categories``: the object categories that exist in this house.
    """

    seed: int
    config: HouseConfig
    rooms: tuple[Room, ...]
    doors: tuple[Door, ...]
    walls: tuple[Box3D, ...]
    floors: tuple[tuple[Box3D, RGB], ...]
    receptacles: Mapping[int, Receptacle]
    objects: Mapping[int, SimObject]
    initial_slots: Mapping[int, SlotRef]
    receptacle_object_prior: Mapping[str, Mapping[str, float]]
    categories: frozenset[str]
    bounds: Box3D
    _room_by_name: dict[str, Room] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._room_by_name.update({r.name: r for r in self.rooms})

    # -- lookups
    def regions(self) -> list[Region]:
        """Rooms as :class:`~robomem.core.types.Region` boxes (interior, floor to ceiling) for the memory."""
        return [Region(r.name, r.box) for r in self.rooms]

    def room(self, name: str) -> Room:
        try:
            return self._room_by_name[name]
        except KeyError:
            raise SimError(f"unknown room {name!r}; rooms are {[r.name for r in self.rooms]}") from None

    def room_names(self) -> list[str]:
        return [r.name for r in self.rooms]

    def room_at(self, x: float, y: float) -> Optional[str]:
        """Name of the room whose interior contains (x, y), or None (inside a wall or a doorway, outside)."""
        for r in self.rooms:
            if r.contains_xy(x, y):
                return r.name
        return None

    def receptacle(self, sim_id: int) -> Receptacle:
        try:
            return self.receptacles[sim_id]
        except KeyError:
            raise SimError(f"{sim_id} is not a receptacle id of this house") from None

    def object(self, sim_id: int) -> SimObject:
        try:
            return self.objects[sim_id]
        except KeyError:
            raise SimError(f"{sim_id} is not an object id of this house") from None

    def label(self, sim_id: int) -> str:
        """Perception label of an object or receptacle."""
        if sim_id in self.objects:
            return self.objects[sim_id].label
        if sim_id in self.receptacles:
            return self.receptacles[sim_id].label
        raise SimError(f"{sim_id} is neither an object nor a receptacle id of this house")

    def labels(self) -> dict[int, str]:
        out = {k: v.label for k, v in self.receptacles.items()}
        out.update({k: v.label for k, v in self.objects.items()})
        return out

    def receptacles_in(self, room: str) -> list[Receptacle]:
        return [r for r in self.receptacles.values() if r.room == room]

    def slot(self, ref: SlotRef) -> Slot:
        return self.receptacle(ref.receptacle_id).slots[ref.slot_index]

    def object_box(self, object_id: int, ref: SlotRef) -> Box3D:
        """Box of object ``object_id`` resting in slot ``ref``."""
        o = self.object(object_id)
        s = self.slot(ref)
        sx, sy, sz = o.size
        return Box3D((s.x - sx / 2, s.y - sy / 2, s.z), (s.x + sx / 2, s.y + sy / 2, s.z + sz))

    def is_navigable(self, x: float, y: float) -> bool:
        """True when a robot base centre may stand at (x, y): inside a room or a door gap and not inside
        a receptacle's footprint."""
        inside = self.room_at(x, y) is not None or self.in_doorway(x, y)
        if not inside:
            return False
        return all(r.footprint_distance(x, y) > 0.0 for r in self.receptacles.values())

    def in_doorway(self, x: float, y: float) -> bool:
        t = self.config.wall_thickness
        for d in self.doors:
            along, across = (y, x) if d.axis == "x" else (x, y)
            if abs(across - d.line) <= t / 2 + 1e-9 and abs(along - d.center) <= d.width / 2:
                return True
        return False

    def entities(self) -> Iterator[int]:
        yield from self.receptacles
        yield from self.objects


# ------------------------------------------------------------------------------------------------ state


class WorldState:
    """Where every object is: a slot, or ``None`` while the robot carries it. Mutable; ``copy()`` is cheap."""

    def __init__(self, house: House, slots: Optional[Mapping[int, Optional[SlotRef]]] = None) -> None:
        self.house = house
        self._slot: dict[int, Optional[SlotRef]] = dict(house.initial_slots if slots is None else slots)
        self._occupant: dict[SlotRef, int] = {}
        for obj, ref in self._slot.items():
            if ref is None:
                continue
            if ref in self._occupant:
                raise SimError(f"objects {self._occupant[ref]} and {obj} are both in slot {ref}")
            self._occupant[ref] = obj

    def copy(self) -> WorldState:
        return WorldState(self.house, self._slot)

    def slots(self) -> dict[int, Optional[SlotRef]]:
        return dict(self._slot)

    def slot_of(self, object_id: int) -> Optional[SlotRef]:
        if object_id not in self._slot:
            raise SimError(f"{object_id} is not an object id of this house")
        return self._slot[object_id]

    def receptacle_of(self, object_id: int) -> Optional[int]:
        ref = self.slot_of(object_id)
        return None if ref is None else ref.receptacle_id

    def room_of(self, object_id: int) -> Optional[str]:
        rec = self.receptacle_of(object_id)
        return None if rec is None else self.house.receptacle(rec).room

    def box(self, object_id: int) -> Optional[Box3D]:
        ref = self.slot_of(object_id)
        return None if ref is None else self.house.object_box(object_id, ref)

    def position(self, object_id: int) -> Optional[Vec3]:
        b = self.box(object_id)
        return None if b is None else b.center

    def objects_on(self, receptacle_id: int) -> list[int]:
        return sorted(o for ref, o in self._occupant.items() if ref.receptacle_id == receptacle_id)

    def free_slots(self, receptacle_id: int) -> list[SlotRef]:
        rec = self.house.receptacle(receptacle_id)
        return [SlotRef(receptacle_id, s.index) for s in rec.slots
                if SlotRef(receptacle_id, s.index) not in self._occupant]

    def is_full(self, receptacle_id: int) -> bool:
        return not self.free_slots(receptacle_id)

    def fits(self, object_id: int, ref: SlotRef) -> bool:
        return self.house.object(object_id).size[2] <= self.house.slot(ref).max_height

    def pick(self, object_id: int) -> SlotRef:
        """Take the object out of its slot (the robot carries it). Returns the slot it left."""
        ref = self.slot_of(object_id)
        if ref is None:
            raise SimError(f"object {object_id} is already being carried")
        del self._occupant[ref]
        self._slot[object_id] = None
        return ref

    def place(self, object_id: int, ref: SlotRef) -> None:
        """Put a carried object into a free slot."""
        if self.slot_of(object_id) is not None:
            raise SimError(f"object {object_id} is not being carried; pick it before placing it")
        if ref in self._occupant:
            raise SimError(f"slot {ref} is occupied by object {self._occupant[ref]}")
        self.house.slot(ref)  # validates the reference
        self._slot[object_id] = ref
        self._occupant[ref] = object_id

    def move(self, object_id: int, ref: Optional[SlotRef]) -> None:
        """Move an object to ``ref`` (None: carried), whatever its current state."""
        if self.slot_of(object_id) is not None:
            self.pick(object_id)
        if ref is not None:
            self.place(object_id, ref)
