"""Seeded procedural house generation: floor plan, doors, walls, furniture and object placement
(see :mod:`robomem_sim.world` for the model).
"""

from __future__ import annotations

import logging
import math
from typing import Mapping, Optional

import numpy as np
from robomem_sim.catalog import (
    _ROOM_ORDER,
    DEFAULT_FLOOR_RGB,
    FLOOR_RGB,
    OBJECT_CATEGORIES,
    OBJECT_ID_BASE,
    RECEPTACLE_CATEGORIES,
    RECEPTACLE_ID_BASE,
    RECEPTACLE_OBJECTS,
    ROOM_ID_BASE,
    ROOM_RECEPTACLES,
    SLOT_PITCH,
    WALKWAY_DEPTH,
    ObjectCategory,
    ReceptacleCategory,
    Style,
)
from robomem_sim.config import HouseConfig
from robomem_sim.layout import Door, House, Receptacle, Room, SimObject, Slot, SlotRef

from robomem.core.types import Box3D, Relation
from robomem.errors import SimError

_LOG = logging.getLogger(__name__)


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
