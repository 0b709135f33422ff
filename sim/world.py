"""Procedurally generated houses (seeded): rooms, doors, walls, receptacles (furniture) and objects.

Model (Scene Graph Memory's "Dynamic House Simulator", simplified to axis-aligned boxes):

* Floor plan: a 1-row (<= 3 rooms) or 2-row grid of rooms with random column widths / row depths; with an odd
  number of rooms on 2 rows the last column is one tall room. Adjacent rooms share a wall; a random spanning
  tree of adjacent pairs (plus extra pairs) gets a door gap. Rooms are named uniquely ("kitchen",
  "living room", "bedroom", "bedroom 2", ...).
* Receptacles are placed against the walls (back to the wall, a walkway kept free in front of each and in
  front of every door), drawn without repetition from the room -> receptacle prior :data:`ROOM_RECEPTACLES`.
* Objects rest ON receptacle tops or IN open-front cabinets/shelves, in fixed slots (a 0.3 m grid on each
  support surface; a receptacle with no free slot is *full*). Categories come from the receptacle -> object
  prior :data:`RECEPTACLE_OBJECTS`, perturbed per house (log-normal noise ``prior_noise``, random zeroing
  ``prior_sparsity``), and only ~70 % of the categories exist in a given house (the others are what absence
  tasks ask about). Distractors: extra objects of an existing object's category in another colour.
* Labels (``label``) are "<colour> <material> <category>" and unique within a house.

Sim ids: rooms 1.., receptacles 100.., objects 1000.. (walls, floors and ceilings render as -1).
The world frame is z-up with the floor at z = 0; the house spans x, y >= 0.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, NamedTuple, Optional

import numpy as np
from robomem_sim.config import HouseConfig

from robomem.core.types import Box3D, Region, Relation
from robomem.errors import SimError

_LOG = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]
RGB = tuple[int, int, int]

ROOM_ID_BASE = 1
RECEPTACLE_ID_BASE = 100
OBJECT_ID_BASE = 1000

SLOT_PITCH = 0.3
"""Edge of the square slot cells on support surfaces, m (objects are at most 0.28 m wide)."""

WALKWAY_DEPTH = 1.0
"""Free depth kept in front of every receptacle (the robot's viewpoint lies inside it), m."""

# ------------------------------------------------------------------------------------------------ catalogue

COLOURS: dict[str, RGB] = {
    "red": (200, 35, 35),
    "green": (40, 160, 60),
    "blue": (40, 75, 205),
    "yellow": (235, 205, 40),
    "orange": (240, 135, 30),
    "purple": (130, 55, 165),
    "pink": (240, 125, 175),
    "white": (240, 240, 240),
    "black": (30, 30, 30),
    "grey": (130, 130, 130),
    "brown": (125, 80, 40),
    "teal": (25, 145, 145),
    "beige": (215, 195, 160),
    "silver": (185, 190, 195),
}
"""Colour attribute -> RGB used by the renderer."""

WALL_RGB: RGB = (228, 222, 208)
CEILING_RGB: RGB = (245, 245, 242)
FLOOR_RGB: dict[str, RGB] = {
    "kitchen": (175, 175, 185),
    "bathroom": (190, 200, 205),
    "laundry room": (170, 170, 160),
}
DEFAULT_FLOOR_RGB: RGB = (150, 112, 75)


@dataclass(frozen=True)
class ObjectCategory:
    """A kind of small object. ``size`` (x, y, z) m; ``move_frequency`` in [0, 1] (Scene Graph Memory)."""

    name: str
    plural: str
    size: Vec3
    move_frequency: float
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    shape: str


_ALL_COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "black", "grey", "teal")

OBJECT_CATEGORIES: dict[str, ObjectCategory] = {
    c.name: c
    for c in (
        ObjectCategory("mug", "mugs", (0.10, 0.10, 0.12), 0.3, _ALL_COLOURS, ("ceramic", "plastic", "metal"),
                       "cylindrical"),
        ObjectCategory("keychain", "keychains", (0.12, 0.10, 0.04), 0.35, ("silver", "black", "red", "blue"),
                       ("metal", "plastic"), "irregular"),
        ObjectCategory("book", "books", (0.22, 0.16, 0.05), 0.2, _ALL_COLOURS, ("paper",), "rectangular"),
        ObjectCategory("apple", "apples", (0.10, 0.10, 0.10), 0.4, ("red", "green", "yellow"), ("organic",),
                       "spherical"),
        ObjectCategory("remote", "remotes", (0.18, 0.07, 0.04), 0.3, ("black", "grey", "white", "silver"),
                       ("plastic",), "rectangular"),
        ObjectCategory("alarm clock", "alarm clocks", (0.14, 0.09, 0.12), 0.01, _ALL_COLOURS,
                       ("plastic", "metal", "wooden"), "rectangular"),
        ObjectCategory("plate", "plates", (0.24, 0.24, 0.03), 0.2, ("white", "blue", "green", "yellow", "black"),
                       ("ceramic", "plastic"), "flat"),
        ObjectCategory("bowl", "bowls", (0.16, 0.16, 0.08), 0.2, _ALL_COLOURS,
                       ("ceramic", "plastic", "wooden", "glass"), "round"),
        ObjectCategory("vase", "vases", (0.12, 0.12, 0.25), 0.05, _ALL_COLOURS, ("glass", "ceramic"),
                       "cylindrical"),
        ObjectCategory("laptop", "laptops", (0.26, 0.20, 0.03), 0.15, ("silver", "black", "grey", "white"),
                       ("metal", "plastic"), "flat"),
        ObjectCategory("phone", "phones", (0.15, 0.08, 0.02), 0.35, ("black", "white", "silver", "blue", "pink"),
                       ("plastic", "glass"), "flat"),
        ObjectCategory("toy", "toys", (0.15, 0.15, 0.15), 0.3, _ALL_COLOURS, ("plastic", "wooden", "fabric"),
                       "irregular"),
        ObjectCategory("towel", "towels", (0.25, 0.20, 0.06), 0.25, _ALL_COLOURS, ("cotton",), "flat"),
        ObjectCategory("bottle", "bottles", (0.08, 0.08, 0.25), 0.25, ("green", "blue", "white", "orange"),
                       ("glass", "plastic"), "cylindrical"),
        ObjectCategory("candle", "candles", (0.10, 0.10, 0.15), 0.05, ("white", "red", "yellow", "purple", "pink"),
                       ("wax",), "cylindrical"),
        ObjectCategory("shoe", "shoes", (0.26, 0.10, 0.10), 0.2, ("black", "brown", "white", "red", "blue"),
                       ("leather", "fabric"), "irregular"),
        ObjectCategory("plant", "plants", (0.20, 0.20, 0.30), 0.02, ("green",), ("ceramic", "plastic"),
                       "irregular"),
        ObjectCategory("box", "boxes", (0.20, 0.15, 0.12), 0.1, ("brown", "white", "red", "blue", "black"),
                       ("cardboard", "wooden", "plastic"), "rectangular"),
        ObjectCategory("pillow", "pillows", (0.26, 0.26, 0.12), 0.15, _ALL_COLOURS, ("fabric",), "rectangular"),
        ObjectCategory("hat", "hats", (0.24, 0.24, 0.12), 0.15, _ALL_COLOURS, ("wool", "straw", "fabric"),
                       "round"),
        ObjectCategory("basket", "baskets", (0.25, 0.20, 0.15), 0.1, ("brown", "white", "black"),
                       ("wicker", "plastic"), "round"),
        ObjectCategory("wallet", "wallets", (0.12, 0.10, 0.03), 0.3, ("black", "brown", "red"), ("leather",),
                       "rectangular"),
        ObjectCategory("can", "cans", (0.07, 0.07, 0.12), 0.3, ("red", "silver", "green", "blue"), ("metal",),
                       "cylindrical"),
    )
}
"""Object categories (sizes in m, move frequencies: apple 0.4 ... alarm clock 0.01)."""


class Style:
    """How a receptacle is built from boxes (and where its support surfaces are)."""

    SOLID = "solid"  # one box; ON its top
    OPEN = "open"  # open-front cabinet: ON its top, IN on its bottom board
    SHELF = "shelf"  # open shelf: ON its top, IN on its middle board
    SOFA = "sofa"  # seat + backrest; ON the seat


@dataclass(frozen=True)
class ReceptacleCategory:
    """A kind of furniture. ``size`` = (width along the wall, depth from the wall, height), m."""

    name: str
    size: Vec3
    style: str
    colours: tuple[str, ...]
    materials: tuple[str, ...]


_WOODS = ("brown", "white", "black", "grey", "beige")

RECEPTACLE_CATEGORIES: dict[str, ReceptacleCategory] = {
    c.name: c
    for c in (
        ReceptacleCategory("table", (1.2, 0.8, 0.75), Style.SOLID, _WOODS, ("wooden", "metal")),
        ReceptacleCategory("counter", (1.8, 0.6, 0.9), Style.SOLID, ("white", "grey", "black", "beige"),
                           ("stone", "wooden")),
        ReceptacleCategory("shelf", (1.0, 0.4, 1.1), Style.SHELF, _WOODS, ("wooden", "metal")),
        ReceptacleCategory("cabinet", (0.9, 0.5, 0.85), Style.OPEN, _WOODS, ("wooden",)),
        ReceptacleCategory("sofa", (2.0, 0.9, 0.45), Style.SOFA, ("grey", "blue", "beige", "green", "brown"),
                           ("fabric", "leather")),
        ReceptacleCategory("bed", (2.0, 1.0, 0.55), Style.SOLID, ("white", "blue", "grey", "beige"), ("fabric",)),
        ReceptacleCategory("desk", (1.2, 0.6, 0.75), Style.SOLID, _WOODS, ("wooden", "metal")),
        ReceptacleCategory("nightstand", (0.5, 0.4, 0.55), Style.SOLID, _WOODS, ("wooden",)),
        ReceptacleCategory("coffee table", (1.0, 0.6, 0.45), Style.SOLID, _WOODS, ("wooden", "glass")),
        ReceptacleCategory("tv stand", (1.4, 0.45, 0.5), Style.SOLID, ("black", "brown", "white"), ("wooden",)),
        ReceptacleCategory("dresser", (1.2, 0.5, 0.9), Style.SOLID, _WOODS, ("wooden",)),
        ReceptacleCategory("dining table", (1.6, 0.9, 0.75), Style.SOLID, _WOODS, ("wooden", "glass")),
        ReceptacleCategory("vanity", (0.9, 0.5, 0.85), Style.SOLID, ("white", "grey", "beige"), ("stone",)),
        ReceptacleCategory("washing machine", (0.6, 0.6, 0.85), Style.SOLID, ("white", "silver"), ("metal",)),
        ReceptacleCategory("bench", (1.2, 0.4, 0.45), Style.SOLID, _WOODS, ("wooden", "metal")),
    )
}

ROOM_RECEPTACLES: dict[str, dict[str, float]] = {
    "kitchen": {"counter": 1.0, "cabinet": 0.7, "table": 0.6, "shelf": 0.4, "dining table": 0.3},
    "living room": {"sofa": 1.0, "coffee table": 0.9, "tv stand": 0.8, "shelf": 0.6, "cabinet": 0.3, "table": 0.3},
    "bedroom": {"bed": 1.0, "nightstand": 0.9, "dresser": 0.7, "desk": 0.3, "shelf": 0.3},
    "bathroom": {"vanity": 1.0, "cabinet": 0.8, "shelf": 0.5},
    "office": {"desk": 1.0, "shelf": 0.8, "cabinet": 0.6, "table": 0.3},
    "dining room": {"dining table": 1.0, "cabinet": 0.6, "shelf": 0.4, "counter": 0.2},
    "laundry room": {"washing machine": 1.0, "shelf": 0.8, "cabinet": 0.5, "bench": 0.3},
    "hallway": {"bench": 0.8, "shelf": 0.6, "dresser": 0.3, "table": 0.3},
}
"""Room type -> {receptacle category: prior weight}."""

RECEPTACLE_OBJECTS: dict[str, dict[str, float]] = {
    "table": {"mug": 0.8, "book": 0.6, "apple": 0.5, "bowl": 0.5, "plate": 0.5, "laptop": 0.4, "phone": 0.4,
              "keychain": 0.3, "vase": 0.3, "can": 0.3, "bottle": 0.3},
    "counter": {"mug": 0.9, "apple": 0.8, "bowl": 0.8, "plate": 0.8, "bottle": 0.7, "can": 0.6, "phone": 0.2,
                "keychain": 0.3, "vase": 0.2},
    "shelf": {"book": 1.0, "vase": 0.6, "box": 0.6, "plant": 0.5, "candle": 0.5, "toy": 0.4, "basket": 0.4,
              "alarm clock": 0.2},
    "cabinet": {"plate": 0.7, "bowl": 0.7, "mug": 0.6, "box": 0.6, "towel": 0.5, "bottle": 0.4, "basket": 0.4},
    "sofa": {"pillow": 1.0, "remote": 0.8, "book": 0.4, "toy": 0.4, "phone": 0.4, "laptop": 0.3, "hat": 0.2},
    "bed": {"pillow": 1.0, "book": 0.4, "phone": 0.4, "laptop": 0.3, "towel": 0.3, "toy": 0.3, "hat": 0.3},
    "desk": {"laptop": 1.0, "book": 0.8, "mug": 0.6, "phone": 0.5, "alarm clock": 0.3, "plant": 0.3,
             "keychain": 0.3, "wallet": 0.3, "can": 0.3},
    "nightstand": {"alarm clock": 1.0, "book": 0.6, "phone": 0.6, "candle": 0.4, "wallet": 0.3, "keychain": 0.3},
    "coffee table": {"remote": 1.0, "book": 0.6, "mug": 0.6, "vase": 0.4, "candle": 0.4, "bowl": 0.4,
                     "phone": 0.4, "can": 0.3},
    "tv stand": {"remote": 0.8, "box": 0.5, "plant": 0.5, "vase": 0.4, "toy": 0.3, "candle": 0.3},
    "dresser": {"wallet": 0.7, "keychain": 0.7, "hat": 0.6, "box": 0.5, "candle": 0.4, "alarm clock": 0.3,
                "towel": 0.3},
    "dining table": {"plate": 1.0, "bowl": 0.8, "mug": 0.6, "apple": 0.6, "vase": 0.5, "bottle": 0.4, "candle": 0.3},
    "vanity": {"towel": 1.0, "bottle": 0.8, "candle": 0.4, "basket": 0.3, "mug": 0.2},
    "washing machine": {"towel": 1.0, "basket": 0.8, "bottle": 0.5, "shoe": 0.3},
    "bench": {"shoe": 1.0, "hat": 0.8, "keychain": 0.6, "basket": 0.5, "wallet": 0.4, "box": 0.3},
}
"""Receptacle category -> {object category: prior weight}."""

_ROOM_ORDER = ("kitchen", "living room", "bedroom", "bathroom", "office", "dining room", "laundry room",
               "hallway")


# ------------------------------------------------------------------------------------------------ entities


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


# ------------------------------------------------------------------------------------------------ generation


def generate_house(config: Optional[HouseConfig] = None, seed: int = 0) -> House:
    """Generate a house deterministically from ``seed`` (same seed + config -> identical house)."""
    cfg = config or HouseConfig()
    cfg.validate()
    rng = np.random.default_rng([int(seed), 0x40E5E])
    rooms, cells = _floor_plan(cfg, rng)
    doors = _doors(cfg, rooms, cells, rng)
    walls = _walls(cfg, rooms, cells, doors)
    floors = tuple(
        (Box3D((r.box.min_xyz[0] - cfg.wall_thickness / 2, r.box.min_xyz[1] - cfg.wall_thickness / 2, -0.05),
               (r.box.max_xyz[0] + cfg.wall_thickness / 2, r.box.max_xyz[1] + cfg.wall_thickness / 2, 0.0)),
         FLOOR_RGB.get(r.room_type, DEFAULT_FLOOR_RGB))
        for r in rooms
    )
    receptacles = _furnish(cfg, rooms, doors, rng)
    categories, prior = _house_priors(cfg, rng)
    objects, slots = _populate(cfg, receptacles, categories, prior, rng)
    xmax = max(r.box.max_xyz[0] for r in rooms) + cfg.wall_thickness / 2
    ymax = max(r.box.max_xyz[1] for r in rooms) + cfg.wall_thickness / 2
    bounds = Box3D((0.0, 0.0, 0.0), (xmax, ymax, cfg.ceiling_height))
    return House(seed=int(seed), config=cfg, rooms=rooms, doors=doors, walls=walls, floors=floors,
                 receptacles=receptacles, objects=objects, initial_slots=slots, receptacle_object_prior=prior,
                 categories=frozenset(categories), bounds=bounds)


def _floor_plan(cfg: HouseConfig, rng: np.random.Generator) -> tuple[tuple[Room, ...], list[tuple[int, int, int]]]:
    """Rooms on a grid. Returns rooms and, per room, its (row0, row1_exclusive, col) cell span."""
    n = cfg.n_rooms
    rows = 1 if n <= 3 else 2
    cols = math.ceil(n / rows)
    widths = rng.uniform(cfg.room_min_size, cfg.room_max_size, size=cols)
    depths = rng.uniform(cfg.room_min_size, cfg.room_max_size, size=rows)
    xs = np.concatenate([[0.0], np.cumsum(widths)])
    ys = np.concatenate([[0.0], np.cumsum(depths)])
    spans: list[tuple[int, int, int]] = []
    for c in range(cols):
        if rows == 2 and c == cols - 1 and rows * cols > n:
            spans.append((0, 2, c))
        else:
            spans.extend((r, r + 1, c) for r in range(rows))
    types = _room_types(n, rng)
    t = cfg.wall_thickness / 2
    rooms = []
    for i, ((r0, r1, c), (rtype, name)) in enumerate(zip(spans, types)):
        box = Box3D((float(xs[c] + t), float(ys[r0] + t), 0.0),
                    (float(xs[c + 1] - t), float(ys[r1] - t), cfg.ceiling_height))
        rooms.append(Room(ROOM_ID_BASE + i, name, rtype, box))
    return tuple(rooms), spans


def _room_types(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    base = ["kitchen", "living room"]
    others = [t for t in _ROOM_ORDER if t not in base]
    extra = list(rng.permutation(others))
    chosen = base + [str(x) for x in extra[: max(0, n - 2)]]
    while len(chosen) < n:  # more rooms than types: extra bedrooms
        chosen.append("bedroom")
    chosen = [chosen[int(i)] for i in rng.permutation(len(chosen))]
    out = []
    count: dict[str, int] = {}
    for t in chosen:
        count[t] = count.get(t, 0) + 1
        out.append((t, t if count[t] == 1 else f"{t} {count[t]}"))
    return out


def _doors(cfg: HouseConfig, rooms: tuple[Room, ...], spans: list[tuple[int, int, int]],
           rng: np.random.Generator) -> tuple[Door, ...]:
    pairs: list[tuple[int, int, str, float, float, float]] = []  # a, b, axis, line, lo, hi
    t = cfg.wall_thickness / 2
    for i, a in enumerate(rooms):
        for j in range(i + 1, len(rooms)):
            b = rooms[j]
            # shared wall of constant x
            if abs(a.box.max_xyz[0] + t - (b.box.min_xyz[0] - t)) < 1e-6 or abs(
                    b.box.max_xyz[0] + t - (a.box.min_xyz[0] - t)) < 1e-6:
                line = a.box.max_xyz[0] + t if a.box.max_xyz[0] < b.box.min_xyz[0] else a.box.min_xyz[0] - t
                lo = max(a.box.min_xyz[1], b.box.min_xyz[1])
                hi = min(a.box.max_xyz[1], b.box.max_xyz[1])
                if hi - lo > cfg.door_width + 1.6:
                    pairs.append((i, j, "x", line, lo, hi))
            elif abs(a.box.max_xyz[1] + t - (b.box.min_xyz[1] - t)) < 1e-6 or abs(
                    b.box.max_xyz[1] + t - (a.box.min_xyz[1] - t)) < 1e-6:
                line = a.box.max_xyz[1] + t if a.box.max_xyz[1] < b.box.min_xyz[1] else a.box.min_xyz[1] - t
                lo = max(a.box.min_xyz[0], b.box.min_xyz[0])
                hi = min(a.box.max_xyz[0], b.box.max_xyz[0])
                if hi - lo > cfg.door_width + 1.6:
                    pairs.append((i, j, "y", line, lo, hi))
    order = [pairs[int(k)] for k in rng.permutation(len(pairs))]
    parent = list(range(len(rooms)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    doors = []
    for i, j, axis, line, lo, hi in order:
        ri, rj = find(i), find(j)
        if ri != rj or rng.random() < cfg.extra_door_prob:
            parent[ri] = rj
            margin = 0.8 + cfg.door_width / 2
            center = float(rng.uniform(lo + margin, hi - margin))
            doors.append(Door(rooms[i].name, rooms[j].name, axis, float(line), center, cfg.door_width))
    if len({find(k) for k in range(len(rooms))}) != 1:
        raise SimError("generated floor plan is not connected; use other room sizes (house.room_min_size)")
    return tuple(doors)


def _walls(cfg: HouseConfig, rooms: tuple[Room, ...], spans: list[tuple[int, int, int]],
           doors: tuple[Door, ...]) -> tuple[Box3D, ...]:
    """Wall boxes: every room's north/east side, plus south/west sides on the outer boundary; door gaps cut
    out with a lintel above each gap."""
    t = cfg.wall_thickness
    h = cfg.ceiling_height
    walls: list[Box3D] = []
    for room, (r0, _r1, c) in zip(rooms, spans):
        x0, y0 = room.box.min_xyz[0] - t / 2, room.box.min_xyz[1] - t / 2
        x1, y1 = room.box.max_xyz[0] + t / 2, room.box.max_xyz[1] + t / 2
        sides = [("y", y1, x0, x1), ("x", x1, y0, y1)]
        if r0 == 0:
            sides.append(("y", y0, x0, x1))
        if c == 0:
            sides.append(("x", x0, y0, y1))
        for axis, line, lo, hi in sides:
            gaps = sorted((d.center - d.width / 2, d.center + d.width / 2) for d in doors
                          if d.axis == axis and abs(d.line - line) < 1e-6 and lo < d.center < hi)
            cur = lo - t / 2
            pieces = []
            for g0, g1 in gaps:
                pieces.append((cur, g0, 0.0, h))
                pieces.append((g0, g1, cfg.door_height, h))
                cur = g1
            pieces.append((cur, hi + t / 2, 0.0, h))
            for a0, a1, z0, z1 in pieces:
                if a1 - a0 <= 1e-6:
                    continue
                if axis == "y":
                    walls.append(Box3D((a0, line - t / 2, z0), (a1, line + t / 2, z1)))
                else:
                    walls.append(Box3D((line - t / 2, a0, z0), (line + t / 2, a1, z1)))
    return tuple(walls)


def _rects_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float],
                   gap: float = 0.0) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _furnish(cfg: HouseConfig, rooms: tuple[Room, ...], doors: tuple[Door, ...],
             rng: np.random.Generator) -> dict[int, Receptacle]:
    out: dict[int, Receptacle] = {}
    next_id = RECEPTACLE_ID_BASE
    for room in rooms:
        x0, y0 = room.box.min_xyz[0], room.box.min_xyz[1]
        x1, y1 = room.box.max_xyz[0], room.box.max_xyz[1]
        keep_out: list[tuple[float, float, float, float]] = []  # door zones
        for door in doors:
            if room.name not in (door.room_a, door.room_b):
                continue
            half = door.width / 2 + 0.2
            if door.axis == "x":
                keep_out.append((door.line - 1.3, door.center - half, door.line + 1.3, door.center + half))
            else:
                keep_out.append((door.center - half, door.line - 1.3, door.center + half, door.line + 1.3))
        prior = _noisy(ROOM_RECEPTACLES[room.room_type], cfg.prior_noise, 0.0, rng)
        k = int(rng.integers(cfg.min_receptacles_per_room, cfg.max_receptacles_per_room + 1))
        names = list(prior)
        p = np.array([prior[n] for n in names])
        k = min(k, len(names))
        picked = [names[int(i)] for i in rng.choice(len(names), size=k, replace=False, p=p / p.sum())]
        bodies: list[tuple[float, float, float, float]] = []
        clear: list[tuple[float, float, float, float]] = []
        for cat_name in picked:
            cat = RECEPTACLE_CATEGORIES[cat_name]
            w, d, _h = cat.size
            placed = None
            for _ in range(80):
                side = int(rng.integers(4))  # 0 south (normal +y), 1 north, 2 west (normal +x), 3 east
                along_lo, along_hi = (x0, x1) if side < 2 else (y0, y1)
                if along_hi - along_lo < w + 0.1:
                    continue
                a = float(rng.uniform(along_lo + 0.05 + w / 2, along_hi - 0.05 - w / 2))
                wd = WALKWAY_DEPTH
                normal: tuple[float, float]
                if side == 0:
                    body = (a - w / 2, y0, a + w / 2, y0 + d)
                    cl, normal = (a - w / 2, y0 + d, a + w / 2, y0 + d + wd), (0.0, 1.0)
                elif side == 1:
                    body = (a - w / 2, y1 - d, a + w / 2, y1)
                    cl, normal = (a - w / 2, y1 - d - wd, a + w / 2, y1 - d), (0.0, -1.0)
                elif side == 2:
                    body = (x0, a - w / 2, x0 + d, a + w / 2)
                    cl, normal = (x0 + d, a - w / 2, x0 + d + wd, a + w / 2), (1.0, 0.0)
                else:
                    body = (x1 - d, a - w / 2, x1, a + w / 2)
                    cl, normal = (x1 - d - wd, a - w / 2, x1 - d, a + w / 2), (-1.0, 0.0)
                if any(_rects_overlap(body, o, 0.1) for o in bodies) or any(
                        _rects_overlap(body, o) for o in clear + keep_out) or any(
                        _rects_overlap(cl, o) for o in bodies + keep_out):
                    continue
                placed = (body, cl, normal)
                break
            if placed is None:
                _LOG.debug("no room for a %s in the %s; skipped", cat_name, room.name)
                continue
            body, cl, normal = placed
            bodies.append(body)
            clear.append(cl)
            colour = str(rng.choice(cat.colours))
            material = str(rng.choice(cat.materials))
            out[next_id] = _build_receptacle(next_id, cat, room.name, colour, material, body, normal)
            next_id += 1
    return out


def _build_receptacle(sim_id: int, cat: ReceptacleCategory, room: str, colour: str, material: str,
                      body: tuple[float, float, float, float], normal: tuple[float, float]) -> Receptacle:
    bx0, by0, bx1, by1 = body
    h = cat.size[2]
    nx, ny = normal

    def slab(d0: float, d1: float, z0: float, z1: float, w0: float = 0.0, w1: float = 1.0) -> Box3D:
        """Sub-box at depth fractions [d0, d1] (0 = back, 1 = front) and width fractions [w0, w1]."""
        if nx != 0.0:  # depth along x
            xa, xb = (bx0, bx1) if nx > 0 else (bx1, bx0)
            px0, px1 = sorted((xa + (xb - xa) * d0, xa + (xb - xa) * d1))
            py0, py1 = by0 + (by1 - by0) * w0, by0 + (by1 - by0) * w1
        else:
            ya, yb = (by0, by1) if ny > 0 else (by1, by0)
            py0, py1 = sorted((ya + (yb - ya) * d0, ya + (yb - ya) * d1))
            px0, px1 = bx0 + (bx1 - bx0) * w0, bx0 + (bx1 - bx0) * w1
        return Box3D((px0, py0, z0), (px1, py1, z1))

    depth = abs(bx1 - bx0) if nx != 0.0 else abs(by1 - by0)
    width = abs(by1 - by0) if nx != 0.0 else abs(bx1 - bx0)
    surfaces: list[tuple[Box3D, float, Relation, float]] = []  # area box (z ignored), z, relation, free height
    board = 0.04
    parts: tuple[Box3D, ...]
    if cat.style == Style.SOLID:
        parts = (Box3D((bx0, by0, 0.0), (bx1, by1, h)),)
        surfaces.append((parts[0], h, Relation.ON, 0.4))
    elif cat.style == Style.SOFA:
        back_f = 0.22 / depth
        parts = (slab(0.0, 1.0, 0.0, h), slab(0.0, back_f, h, h + 0.4))
        surfaces.append((slab(back_f, 1.0, 0.0, h), h, Relation.ON, 0.4))
    else:
        side = 0.04 / width
        back = 0.03 / depth
        mid = 0.1 if cat.style == Style.OPEN else h / 2
        parts = (
            slab(0.0, 1.0, 0.0, mid),  # plinth / lower block
            slab(0.0, 1.0, h - board, h),  # top board
            slab(0.0, 1.0, mid, h - board, 0.0, side),  # left side
            slab(0.0, 1.0, mid, h - board, 1.0 - side, 1.0),  # right side
            slab(0.0, back, mid, h - board),  # back
        )
        surfaces.append((slab(back, 1.0, 0.0, h, side, 1.0 - side), mid, Relation.IN, h - board - mid - 0.02))
        surfaces.append((parts[1], h, Relation.ON, 0.4))
    slots: list[Slot] = []
    for area, z, rel, free in surfaces:
        ax0, ay0, _ = area.min_xyz
        ax1, ay1, _ = area.max_xyz
        nxs = max(1, int((ax1 - ax0 - 0.04) // SLOT_PITCH))
        nys = max(1, int((ay1 - ay0 - 0.04) // SLOT_PITCH))
        for i in range(nxs):
            for j in range(nys):
                x = ax0 + (ax1 - ax0) * (i + 0.5) / nxs
                y = ay0 + (ay1 - ay0) * (j + 0.5) / nys
                slots.append(Slot(len(slots), float(x), float(y), float(z), rel, float(free)))
    box = Box3D((bx0, by0, 0.0), (bx1, by1, max(p.max_xyz[2] for p in parts)))
    return Receptacle(sim_id, cat.name, room, colour, material, box, parts, normal, tuple(slots))


def _noisy(weights: Mapping[str, float], noise: float, sparsity: float,
           rng: np.random.Generator) -> dict[str, float]:
    """Per-house prior: log-normal noise and random zeroing (never the dominant entry); normalised."""
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=float)
    w = w * np.exp(rng.normal(0.0, noise, size=len(w))) if noise > 0 else w
    top = int(np.argmax(w))
    if sparsity > 0:
        drop = rng.random(len(w)) < sparsity
        drop[top] = False
        w[drop] = 0.0
    return {n: float(v / w.sum()) for n, v in zip(names, w) if v > 0}


def _house_priors(cfg: HouseConfig, rng: np.random.Generator) -> tuple[list[str], dict[str, dict[str, float]]]:
    names = sorted(OBJECT_CATEGORIES)
    k = max(4, int(round(0.7 * len(names))))
    categories = sorted(str(names[int(i)]) for i in rng.choice(len(names), size=k, replace=False))
    prior: dict[str, dict[str, float]] = {}
    for rcat in sorted(RECEPTACLE_OBJECTS):
        row = {o: p for o, p in RECEPTACLE_OBJECTS[rcat].items() if o in categories}
        prior[rcat] = _noisy(row, cfg.prior_noise, cfg.prior_sparsity, rng) if row else {}
    return categories, prior


def receptacle_weights(house: House, category: str) -> dict[int, float]:
    """P(receptacle | object category) over this house's receptacles from its noisy prior (unnormalised)."""
    return _weights_for(house.receptacles, house.receptacle_object_prior, category)


def _populate(cfg: HouseConfig, receptacles: Mapping[int, Receptacle], categories: list[str],
              prior: Mapping[str, Mapping[str, float]],
              rng: np.random.Generator) -> tuple[dict[int, SimObject], dict[int, SlotRef]]:
    objects: dict[int, SimObject] = {}
    slots: dict[int, SlotRef] = {}
    used: set[SlotRef] = set()
    labels: set[str] = set()
    rec_ids = sorted(receptacles)
    next_id = OBJECT_ID_BASE

    def free(rid: int, height: float) -> list[SlotRef]:
        return [SlotRef(rid, s.index) for s in receptacles[rid].slots
                if SlotRef(rid, s.index) not in used and s.max_height >= height]

    def new_object(cat: ObjectCategory, colour: str, material: str, ref: SlotRef,
                   distractor_of: Optional[int]) -> None:
        nonlocal next_id
        size = cat.size
        if receptacles[ref.receptacle_id].normal[0] != 0.0:  # long side along the wall
            size = (size[1], size[0], size[2])
        objects[next_id] = SimObject(next_id, cat.name, colour, material, cat.shape, size, cat.move_frequency,
                                     distractor_of)
        slots[next_id] = ref
        used.add(ref)
        labels.add(f"{colour} {material} {cat.name}")
        next_id += 1

    attempts = 0
    while len(objects) < cfg.n_objects:
        attempts += 1
        if attempts > 50 * cfg.n_objects:
            raise SimError(
                f"could not place {cfg.n_objects} objects (placed {len(objects)}); lower house.n_objects or "
                "raise house.n_rooms / receptacles per room"
            )
        rid = rec_ids[int(rng.integers(len(rec_ids)))]
        row = prior.get(receptacles[rid].category, {})
        if not row:
            continue
        names = list(row)
        p = np.array([row[n] for n in names])
        cat = OBJECT_CATEGORIES[names[int(rng.choice(len(names), p=p / p.sum()))]]
        options = free(rid, cat.size[2])
        if not options:
            continue
        colour, material = str(rng.choice(cat.colours)), str(rng.choice(cat.materials))
        if f"{colour} {material} {cat.name}" in labels:
            continue
        new_object(cat, colour, material, options[int(rng.integers(len(options)))], None)
    originals = [o for o in sorted(objects) if objects[o].distractor_of is None]
    made = 0
    attempts = 0
    while made < cfg.n_distractors and attempts < 50 * max(1, cfg.n_distractors):
        attempts += 1
        orig = objects[originals[int(rng.integers(len(originals)))]]
        cat = OBJECT_CATEGORIES[orig.category]
        colours = [c for c in cat.colours if f"{c} {orig.material} {cat.name}" not in labels]
        if not colours:
            continue
        weights = {rid: w for rid, w in _weights_for(receptacles, prior, cat.name).items()
                   if free(rid, cat.size[2])}
        if not weights:
            continue
        ids = sorted(weights)
        p = np.array([weights[i] for i in ids])
        rid = ids[int(rng.choice(len(ids), p=p / p.sum()))]
        options = free(rid, cat.size[2])
        colour = colours[int(rng.integers(len(colours)))]
        new_object(cat, colour, orig.material, options[int(rng.integers(len(options)))], orig.sim_id)
        made += 1
    if made < cfg.n_distractors:
        _LOG.warning("placed only %d of %d distractors (no free slot / colour left)", made, cfg.n_distractors)
    return objects, slots


def _weights_for(receptacles: Mapping[int, Receptacle], prior: Mapping[str, Mapping[str, float]],
                 category: str) -> dict[int, float]:
    return {rid: prior.get(r.category, {}).get(category, 0.0) for rid, r in receptacles.items()
            if prior.get(r.category, {}).get(category, 0.0) > 0}
