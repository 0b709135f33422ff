"""Simulated clock and household dynamics (move frequencies, priors, no overfilling, in-room moves)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from robomem_sim.config import EPOCH_NS, HouseConfig, SimConfig
from robomem_sim.dynamics import NS, SimClock, household_moves, sample_destination
from robomem_sim.world import House, WorldState, generate_house, receptacle_weights

from robomem.errors import SimError


@pytest.fixture(scope="module")
def house() -> House:
    return generate_house(HouseConfig(n_rooms=4, n_objects=16, n_distractors=2), seed=21)


def test_clock_maps_steps_to_the_day() -> None:
    c = SimClock(days=2, steps_per_day=960)  # 60 s steps
    assert c.step_ns == 60 * NS and c.total_steps == 1920
    assert c.stamp_ns(0) == EPOCH_NS + 6 * 3600 * NS
    assert c.format_time(c.stamp_ns(0)) == "06:00 on day 1"
    assert c.format_time(c.stamp_ns(959)) == "21:59 on day 1"
    assert c.stamp_ns(960) == c.day_start_ns(1) == EPOCH_NS + 86400 * NS + 6 * 3600 * NS
    assert c.stamp_ns(1920) == c.day_end_ns(1)
    stamps = [c.stamp_ns(k) for k in range(0, 1921, 7)]
    assert stamps == sorted(stamps)
    assert c.day_of(c.stamp_ns(1000)) == 1
    with pytest.raises(SimError, match="outside"):
        c.stamp_ns(1921)


def test_time_text_round_trips() -> None:
    one = SimClock(days=1, steps_per_day=57600)
    t = one.stamp_ns(4 * 3600 + 32 * 60 + 17)  # 10:32:17
    assert one.format_time(t) == "10:32"
    assert one.parse_time("10:32") == t - 17 * NS
    two = SimClock(days=2)
    t2 = two.stamp_ns(57600 + 3600)
    assert two.format_time(t2) == "07:00 on day 2"
    assert two.parse_time("07:00 on day 2") == t2
    with pytest.raises(SimError, match="HH:MM"):
        one.parse_time("half past ten")
    with pytest.raises(SimError, match="out of range"):
        one.parse_time("25:00")


def test_move_choice_is_proportional_to_move_frequency(house: House) -> None:
    """With one move per event, P(object) = f / sum(f): check each object's rate within 4.5 sigma."""
    n_obj = len(house.objects)
    rng = np.random.default_rng(0)
    base = WorldState(house)
    counts = {o: 0 for o in house.objects}
    n = 3000
    for _ in range(n):
        moves = household_moves(house, base.copy(), 1.0 / n_obj, rng)
        assert len(moves) <= 1
        for m in moves:
            counts[m.object_id] += 1
    total = sum(counts.values())
    assert total > 0.95 * n  # a move is skipped only when no slot fits
    f = {o: house.objects[o].move_frequency for o in house.objects}
    fs = sum(f.values())
    for o, k in counts.items():
        p = f[o] / fs
        sigma = math.sqrt(total * p * (1 - p))
        assert abs(k - total * p) <= 4.5 * sigma + 1, (house.objects[o].category, k, total * p)
    # and the extremes differ as the model says
    frequent = [o for o in f if f[o] >= 0.3]
    rare = [o for o in f if f[o] <= 0.05]
    if frequent and rare:
        assert np.mean([counts[o] for o in frequent]) > 5 * np.mean([counts[o] for o in rare])


def test_household_moves_never_overfill_and_follow_the_prior(house: House) -> None:
    rng = np.random.default_rng(1)
    state = WorldState(house)
    excluded = house.rooms[0].name
    in_prior = total = 0
    for _ in range(200):
        before = state.copy()
        moves = household_moves(house, state, 0.3, rng, exclude_rooms=[excluded])
        # WorldState's own invariant: no slot holds two objects (its constructor re-checks)
        WorldState(house, state.slots())
        for rid, rec in house.receptacles.items():
            assert len(state.objects_on(rid)) <= len(rec.slots)
        replay = before.copy()
        for m in moves:
            src = replay.slot_of(m.object_id)
            assert src is not None
            assert house.receptacle(src.receptacle_id).room != excluded, "moved an object out of the robot's room"
            assert house.receptacle(m.to_slot.receptacle_id).room != excluded, "moved an object into it"
            assert m.to_slot.receptacle_id != src.receptacle_id
            assert m.to_slot in replay.free_slots(m.to_slot.receptacle_id), "moved onto an occupied slot"
            prior = receptacle_weights(house, house.objects[m.object_id].category)
            if m.to_slot.receptacle_id in prior:
                in_prior += 1
            else:  # outside the prior only when no prior receptacle had a fitting free slot
                assert not any(
                    rid != src.receptacle_id and house.receptacle(rid).room != excluded
                    and any(replay.fits(m.object_id, s) for s in replay.free_slots(rid))
                    for rid in prior
                )
            replay.move(m.object_id, m.to_slot)
            total += 1
        assert replay.slots() == state.slots()
    assert total > 100 and in_prior > total / 2


def test_carried_and_excluded_objects_stay_put(house: House) -> None:
    rng = np.random.default_rng(2)
    state = WorldState(house)
    carried = min(house.objects)
    state.pick(carried)
    keep = sorted(house.objects)[1]
    for _ in range(50):
        for m in household_moves(house, state, 0.5, rng, exclude_objects=[keep]):
            assert m.object_id not in (carried, keep)
    assert state.slot_of(carried) is None
    assert state.slot_of(keep) == house.initial_slots[keep]


def test_in_room_moves_take_objects_of_that_room_and_avoid_reserved_slots(house: House) -> None:
    rng = np.random.default_rng(4)
    state = WorldState(house)
    room = next(r.name for r in house.rooms if any(state.room_of(o) == r.name for o in house.objects))
    reserved = [s for rid in house.receptacles for s in state.free_slots(rid)][:5]
    for _ in range(40):
        before = state.copy()
        moves = household_moves(house, state, 0.0, rng, only_rooms=[room], exclude_slots=reserved, n_moves=1)
        assert len(moves) <= 1
        for m in moves:
            assert before.room_of(m.object_id) == room
            assert m.to_slot not in reserved
        if not any(state.room_of(o) == room for o in house.objects):
            break


def test_sample_destination_none_when_everything_is_full(house: House) -> None:
    rng = np.random.default_rng(3)
    state = WorldState(house)
    oid = min(house.objects)
    dest = sample_destination(house, state, oid, rng)
    assert dest is not None and state.fits(oid, dest) and dest not in set(state.slots().values())
    assert sample_destination(house, state, oid, rng, exclude_rooms=house.room_names()) is None


def test_episode_config_validation() -> None:
    from robomem.errors import ConfigError

    with pytest.raises(ConfigError, match="steps_per_day"):
        SimConfig.from_dict({"dynamics": {"steps_per_day": 100}})  # 9.6 min steps
    with pytest.raises(ConfigError, match="max_interactions_per_day"):
        SimConfig.from_dict({"dynamics": {"min_interactions_per_day": 5, "max_interactions_per_day": 2}})
    with pytest.raises(ConfigError, match="move_rate"):
        SimConfig.from_dict({"dynamics": {"move_rate": 1.5}})
