"""Procedural houses: determinism, layout sanity, objects resting on receptacles, labels, priors, state."""

from __future__ import annotations

import dataclasses
import math
from collections import deque

import pytest
from robomem_sim.config import HouseConfig, SimConfig
from robomem_sim.world import (
    OBJECT_CATEGORIES,
    RECEPTACLE_CATEGORIES,
    House,
    SlotRef,
    WorldState,
    generate_house,
)

from robomem.core.types import Box3D, Relation
from robomem.errors import ConfigError, SimError

SMALL = SimConfig.small().house


def _signature(h: House) -> tuple:
    return (
        tuple(h.rooms), h.doors, h.walls,
        tuple(sorted((k, v) for k, v in h.receptacles.items())),
        tuple(sorted((k, v) for k, v in h.objects.items())),
        tuple(sorted(h.initial_slots.items())),
        tuple(sorted((k, tuple(sorted(v.items()))) for k, v in h.receptacle_object_prior.items())),
    )


def _overlap(a: Box3D, b: Box3D, eps: float = 1e-9) -> bool:
    return all(a.min_xyz[i] < b.max_xyz[i] - eps and b.min_xyz[i] < a.max_xyz[i] - eps for i in range(3))


@pytest.fixture(scope="module")
def house() -> House:
    return generate_house(HouseConfig(), seed=11)


def test_same_seed_same_house_different_seed_different() -> None:
    a, b, c = generate_house(SMALL, 5), generate_house(SMALL, 5), generate_house(SMALL, 6)
    assert _signature(a) == _signature(b)
    assert _signature(a) != _signature(c)


def test_rooms_are_named_uniquely_disjoint_and_connected(house: House) -> None:
    names = [r.name for r in house.rooms]
    assert len(names) == len(set(names)) == HouseConfig().n_rooms
    assert "kitchen" in names and "living room" in names
    for i, a in enumerate(house.rooms):
        assert a.box.min_xyz[2] == 0.0 and a.box.max_xyz[2] == house.config.ceiling_height
        for b in house.rooms[i + 1:]:
            assert not _overlap(a.box, b.box)
    regions = house.regions()
    assert [r.name for r in regions] == names and [r.box for r in regions] == [r.box for r in house.rooms]
    # every room reachable through doors
    adj: dict[str, set[str]] = {n: set() for n in names}
    for d in house.doors:
        adj[d.room_a].add(d.room_b)
        adj[d.room_b].add(d.room_a)
    seen, todo = {names[0]}, deque([names[0]])
    while todo:
        for n in adj[todo.popleft()] - seen:
            seen.add(n)
            todo.append(n)
    assert seen == set(names)


def test_door_gaps_are_open_and_walls_closed(house: House) -> None:
    for d in house.doors:
        x, y = d.center_xy
        assert house.in_doorway(x, y)
        mid = (x, y, 1.0)
        assert not any(w.contains(mid) for w in house.walls), "a wall blocks the door gap"
        # the same wall 0.2 m beyond the gap edge is solid
        off = d.width / 2 + 0.2
        beside = (x, y + off, 1.0) if d.axis == "x" else (x + off, y, 1.0)
        assert any(w.contains(beside) for w in house.walls)


def test_receptacles_inside_their_room_and_disjoint(house: House) -> None:
    recs = list(house.receptacles.values())
    assert recs
    for r in recs:
        room = house.room(r.room)
        assert room.box.contains(r.box.min_xyz, margin=1e-6) and room.box.contains(
            (r.box.max_xyz[0], r.box.max_xyz[1], 0.0), margin=1e-6)
        assert r.category in RECEPTACLE_CATEGORIES
        assert r.slots, f"{r.label} has no slot"
        for p in r.parts:
            assert all(p.min_xyz[i] >= r.box.min_xyz[i] - 1e-9 and p.max_xyz[i] <= r.box.max_xyz[i] + 1e-9
                       for i in range(3))
    for i, a in enumerate(recs):
        for b in recs[i + 1:]:
            assert not _overlap(a.box, b.box)
    # receptacle categories are unique within a room (task texts name "the <category> in the <room>")
    for room in house.room_names():
        cats = [r.category for r in house.receptacles_in(room)]
        assert len(cats) == len(set(cats))


def test_objects_rest_on_or_in_receptacles(house: House) -> None:
    boxes = {}
    for oid, ref in house.initial_slots.items():
        rec = house.receptacle(ref.receptacle_id)
        slot = rec.slots[ref.slot_index]
        box = house.object_box(oid, ref)
        boxes[oid] = box
        assert box.min_xyz[2] == pytest.approx(slot.z)  # resting on the support surface
        cx, cy, _ = box.center
        assert rec.box.min_xyz[0] <= cx <= rec.box.max_xyz[0] and rec.box.min_xyz[1] <= cy <= rec.box.max_xyz[1]
        if slot.relation is Relation.ON:
            assert slot.z == pytest.approx(rec.box.max_xyz[2]) or rec.category == "sofa"
        else:
            assert slot.z < rec.box.max_xyz[2] and box.max_xyz[2] <= rec.box.max_xyz[2] - 0.04 + 1e-9
        # resting on a part: some part's top is at slot height under the object's centre
        assert any(abs(p.max_xyz[2] - slot.z) < 1e-6 and p.min_xyz[0] <= cx <= p.max_xyz[0]
                   and p.min_xyz[1] <= cy <= p.max_xyz[1] for p in rec.parts)
        # no object intersects furniture
        for other in house.receptacles.values():
            for p in other.parts:
                assert not _overlap(box, p)
    ids = sorted(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            assert not _overlap(boxes[a], boxes[b])
    assert len(set(house.initial_slots.values())) == len(house.initial_slots)


def test_labels_attributes_and_distractors(house: House) -> None:
    labels = [o.label for o in house.objects.values()]
    assert len(labels) == len(set(labels)), "labels must be unique within a house"
    assert len(house.objects) == HouseConfig().n_objects + HouseConfig().n_distractors
    for o in house.objects.values():
        cat = OBJECT_CATEGORIES[o.category]
        assert o.label == f"{o.colour} {o.material} {o.category}"
        assert o.colour in cat.colours and o.material in cat.materials and o.shape == cat.shape
        assert o.move_frequency == cat.move_frequency
        assert o.category in house.categories
        assert house.label(o.sim_id) == o.label
    distractors = [o for o in house.objects.values() if o.distractor_of is not None]
    assert len(distractors) == HouseConfig().n_distractors
    for d in distractors:
        orig = house.object(d.distractor_of)  # type: ignore[arg-type]
        assert d.category == orig.category and d.colour != orig.colour
    assert set(OBJECT_CATEGORIES) - house.categories, "some categories must be absent (absence tasks)"


def test_priors_are_noisy_per_house_and_normalised() -> None:
    a, b = generate_house(SMALL, 1), generate_house(SMALL, 2)
    for h in (a, b):
        for row in h.receptacle_object_prior.values():
            if row:
                assert math.isclose(sum(row.values()), 1.0)
                assert set(row) <= h.categories
    assert a.receptacle_object_prior != b.receptacle_object_prior


def test_world_state_pick_place_and_full(house: House) -> None:
    state = WorldState(house)
    oid = min(house.objects)
    ref = state.slot_of(oid)
    assert ref is not None
    with pytest.raises(SimError, match="not being carried"):
        state.place(oid, ref)
    assert state.pick(oid) == ref and state.position(oid) is None and state.room_of(oid) is None
    with pytest.raises(SimError, match="already being carried"):
        state.pick(oid)
    other = next(o for o in house.objects if o != oid)
    with pytest.raises(SimError, match="occupied"):
        state.place(oid, state.slot_of(other))  # type: ignore[arg-type]
    rid = ref.receptacle_id
    free = state.free_slots(rid)
    assert ref in free
    state.place(oid, ref)
    # fill the receptacle completely with carried objects from elsewhere
    movers = [o for o in sorted(house.objects) if state.receptacle_of(o) != rid]
    for slot in state.free_slots(rid):
        o = movers.pop()
        state.move(o, slot)
    assert state.is_full(rid) and state.free_slots(rid) == []
    assert len(state.objects_on(rid)) == len(house.receptacle(rid).slots)
    with pytest.raises(SimError, match="receptacle"):
        state.move(oid, SlotRef(99999, 0))


def test_config_validation_names_the_key() -> None:
    with pytest.raises(ConfigError, match="house.n_rooms"):
        HouseConfig(n_rooms=1).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        SimConfig.from_dict({"house": {"n_room": 3}})
    with pytest.raises(ConfigError, match="camera.width"):
        SimConfig.from_dict({"camera": {"width": 1000}})
    cfg = SimConfig.from_dict({"house": {"n_rooms": 3}, "dynamics": {"days": 2}})
    assert cfg.house.n_rooms == 3 and cfg.dynamics.days == 2


def test_yaml_defaults_match_dataclasses() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "config" / "sim.yaml"
    assert SimConfig.load(path, section="sim") == SimConfig()


def test_too_many_objects_is_a_clear_error() -> None:
    cfg = dataclasses.replace(SMALL, n_objects=500)
    with pytest.raises(SimError, match="lower house.n_objects"):
        generate_house(cfg, 0)
