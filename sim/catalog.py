"""Catalogue of the simulated houses: ids, colours, object / receptacle categories and the room -> receptacle
and receptacle -> object priors (see :mod:`robomem_sim.world`).
"""

from __future__ import annotations

from dataclasses import dataclass

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
