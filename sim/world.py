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

This module is the public entry point; the code lives in :mod:`robomem_sim.catalog` (ids, colours, categories,
priors), :mod:`robomem_sim.layout` (entities, :class:`House`, :class:`WorldState`) and
:mod:`robomem_sim.house_gen` (generation).
"""

from __future__ import annotations

from robomem_sim.catalog import (
    CEILING_RGB,
    COLOURS,
    DEFAULT_FLOOR_RGB,
    FLOOR_RGB,
    OBJECT_CATEGORIES,
    OBJECT_ID_BASE,
    RECEPTACLE_CATEGORIES,
    RECEPTACLE_ID_BASE,
    RECEPTACLE_OBJECTS,
    RGB,
    ROOM_ID_BASE,
    ROOM_RECEPTACLES,
    SLOT_PITCH,
    WALKWAY_DEPTH,
    WALL_RGB,
    ObjectCategory,
    ReceptacleCategory,
    Style,
    Vec3,
)
from robomem_sim.house_gen import generate_house, receptacle_weights
from robomem_sim.layout import Door, House, Receptacle, Room, SimObject, Slot, SlotRef, WorldState

__all__ = [
    "CEILING_RGB", "COLOURS", "DEFAULT_FLOOR_RGB", "FLOOR_RGB", "OBJECT_CATEGORIES", "OBJECT_ID_BASE",
    "RECEPTACLE_CATEGORIES", "RECEPTACLE_ID_BASE", "RECEPTACLE_OBJECTS", "RGB", "ROOM_ID_BASE", "ROOM_RECEPTACLES",
    "SLOT_PITCH", "WALKWAY_DEPTH", "WALL_RGB", "Door", "House", "ObjectCategory", "Receptacle", "ReceptacleCategory",
    "Room", "SimObject", "Slot", "SlotRef", "Style", "Vec3", "WorldState", "generate_house", "receptacle_weights",
]
