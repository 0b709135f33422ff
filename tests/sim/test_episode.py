"""Episodes: deterministic generation, a consistent ground-truth log, lazy ground-truth-perception frames."""

from __future__ import annotations

import dataclasses
import inspect
import itertools

import numpy as np
import pytest
from robomem_sim.agent_script import Activity
from robomem_sim.config import AgentConfig, DynamicsConfig, SimConfig
from robomem_sim.episode import (
    Episode,
    EventKind,
    frame_at,
    generate_episode,
    iter_frames,
    sighting_min_pixels,
)

from robomem.core.types import NO_INSTANCE, Frame
from robomem.errors import SimError

CFG = SimConfig.small()


@pytest.fixture(scope="module")
def episode() -> Episode:
    return generate_episode(CFG, seed=3)


@pytest.fixture(scope="module")
def frames(episode: Episode) -> list[Frame]:
    return list(iter_frames(episode))


def test_same_seed_same_episode_different_seed_different(episode: Episode) -> None:
    again = generate_episode(CFG, seed=3)
    assert again.log == episode.log
    assert [f.stamp_ns for f in again.frames] == [f.stamp_ns for f in episode.frames]
    assert all(np.array_equal(a.world_T_camera, b.world_T_camera) for a, b in zip(again.frames, episode.frames))
    other = generate_episode(CFG, seed=4)
    assert other.log != episode.log


def test_interactions_are_consistent(episode: Episode) -> None:
    log, house, clock = episode.log, episode.house, episode.clock
    assert len(log.interactions) == 3  # SimConfig.small(): exactly 3 per day
    prev_end = clock.day_start_ns(0)
    for it in log.interactions:
        assert prev_end <= it.start_ns < it.pick_ns < it.place_ns < it.end_ns <= episode.now_ns
        assert house.receptacle(it.from_receptacle).room == it.from_room
        assert house.receptacle(it.to_receptacle).room == it.to_room
        assert it.from_receptacle != it.to_receptacle
        assert it.duration_s == (it.place_ns - it.pick_ns) / 1e9
        prev_end = it.end_ns
        before, after = episode.state_at(it.pick_ns - 1), episode.state_at(it.place_ns)
        assert before.receptacle_of(it.object_id) == it.from_receptacle
        assert before.position(it.object_id) == pytest.approx(it.from_position)
        assert episode.state_at(it.pick_ns).slot_of(it.object_id) is None  # carried
        assert after.receptacle_of(it.object_id) == it.to_receptacle
        assert after.position(it.object_id) == pytest.approx(it.to_position)
    kinds = [e.kind for e in log.events if e.kind is not EventKind.HOUSEHOLD_MOVE]
    assert kinds == [EventKind.PICK, EventKind.PLACE] * 3
    assert [e.t_ns for e in log.events] == sorted(e.t_ns for e in log.events)


def test_visits_cover_the_day_and_match_frames(episode: Episode) -> None:
    visits = episode.log.visits
    assert visits[0].enter_ns == episode.clock.day_start_ns(0)
    assert visits[-1].exit_ns == episode.clock.day_end_ns(0)
    for a, b in zip(visits, visits[1:]):
        assert a.exit_ns == b.enter_ns and a.room != b.room
    for f in episode.frames:
        assert episode.room_at(f.stamp_ns) == f.room
        in_room = episode.house.room_at(f.robot.x, f.robot.y)
        assert in_room in (f.room, None)  # None: in a doorway
    interaction_rooms = {r for it in episode.log.interactions for r in (it.from_room, it.to_room)}
    assert interaction_rooms <= {v.room for v in visits}


def test_household_moves_are_logged_where_and_when_they_happen(episode: Episode) -> None:
    log = episode.log
    assert log.household_moves, "SimConfig.small() moves ~15 % of the objects 3 times a day"
    for mv in log.household_moves:
        assert episode.state_at(mv.t_ns).receptacle_of(mv.object_id) == mv.to_receptacle
        assert episode.state_at(mv.t_ns - 1).receptacle_of(mv.object_id) == mv.from_receptacle
        busy = any(it.start_ns <= mv.t_ns < it.end_ns for it in log.interactions)
        assert mv.robot_active == busy
        if mv.robot_active:  # a person tidied up the room the robot was working in
            assert mv.from_room == mv.robot_room
            handled = next(it for it in log.interactions if it.start_ns <= mv.t_ns < it.end_ns)
            assert mv.object_id != handled.object_id


def test_long_episodes_have_repeated_picks_moves_in_view_and_observed_vacancies() -> None:
    cfg = SimConfig.small(days=3)
    cfg = dataclasses.replace(cfg, dynamics=dataclasses.replace(cfg.dynamics, watched_move_prob=0.8,
                                                                repick_prob=0.6))
    ep = generate_episode(cfg, seed=5)
    log = ep.log
    days = {ep.clock.day_of(it.pick_ns) for it in log.interactions}
    assert days == {0, 1, 2}
    picks = [it.object_id for it in log.interactions]
    assert len(set(picks)) < len(picks), "some object is picked more than once"
    assert any(m.robot_active for m in log.household_moves), "people also move things while the robot works"
    assert log.vacancy_seen_ns, "the robot saw some moved object's old place empty"
    moves = {(m.object_id, m.t_ns): m for m in log.household_moves}
    for (obj, t_move), t_seen in log.vacancy_seen_ns.items():
        assert (obj, t_move) in moves and t_seen > t_move
        assert episode_frame(ep, t_seen) is not None


def episode_frame(ep: Episode, t_ns: int):
    return next((f for f in ep.frames if f.stamp_ns == t_ns), None)


def test_robot_stays_in_free_space_at_camera_height(episode: Episode) -> None:
    house = episode.house
    for f in episode.frames:
        assert house.is_navigable(f.robot.x, f.robot.y), f"frame {f.index} is inside an obstacle"
        assert f.world_T_camera[2, 3] == pytest.approx(CFG.camera.height_m)
    acts = {f.activity for f in episode.frames}
    assert {Activity.NAVIGATE, Activity.PICK, Activity.PLACE, Activity.LOOK, Activity.SCAN} <= acts


def test_iter_frames_is_lazy_and_well_formed(episode: Episode, frames: list[Frame]) -> None:
    gen = iter_frames(episode)
    assert inspect.isgenerator(gen)
    assert len(list(itertools.islice(gen, 2))) == 2
    assert len(frames) == len(episode.frames)
    K = CFG.camera.intrinsics()
    labels = episode.house.labels()
    for meta, fr in zip(episode.frames, frames):
        assert fr.rgb.shape == (K.height, K.width, 3) and fr.rgb.dtype == np.uint8
        assert fr.depth.shape == (K.height, K.width) and fr.depth.dtype == np.float32
        assert fr.instance_mask is not None and fr.instance_mask.dtype == np.int32
        assert fr.intrinsics == K and fr.stamp_ns == meta.stamp_ns
        assert np.array_equal(fr.world_T_camera, meta.world_T_camera)
        visible = set(np.unique(fr.instance_mask).tolist()) - {NO_INSTANCE}
        assert set(fr.instance_labels) == visible
        assert all(fr.instance_labels[i] == labels[i] for i in visible)
        assert fr.receptacle_ids == frozenset(visible & set(episode.house.receptacles))
        assert (fr.depth > 0).all(), "closed house: every ray hits something"
    stamps = [f.stamp_ns for f in frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    single = frame_at(episode, 5)
    assert np.array_equal(single.rgb, frames[5].rgb) and np.array_equal(single.instance_mask, frames[5].instance_mask)
    with pytest.raises(SimError, match="outside"):
        next(iter_frames(episode, 0, len(episode.frames) + 1))


def test_sightings_match_the_frames(episode: Episode, frames: list[Frame]) -> None:
    min_px = sighting_min_pixels(CFG.camera.intrinsics())
    recorded = {(sid, s.frame_index) for sid, ss in episode.log.sightings.items() for s in ss}
    rendered = set()
    for k, fr in enumerate(frames):
        assert fr.instance_mask is not None
        ids, counts = np.unique(fr.instance_mask, return_counts=True)
        rendered |= {(int(i), k) for i, c in zip(ids, counts) if i != NO_INSTANCE and c >= min_px}
    assert recorded == rendered
    assert episode.log.seen_ids(), "the robot saw something"


def test_picked_object_is_invisible_while_carried(episode: Episode, frames: list[Frame]) -> None:
    for it in episode.log.interactions:
        carried = [fr for fr in frames if it.pick_ns <= fr.stamp_ns < it.place_ns]
        assert carried
        assert not any((fr.instance_mask == it.object_id).any() for fr in carried)  # type: ignore[union-attr]
        looking = [fr for m, fr in zip(episode.frames, frames) if m.interaction == it.index
                   and m.activity is Activity.PLACE]
        assert any((fr.instance_mask == it.object_id).any() for fr in looking), "robot looks at what it placed"


def test_frame_every_and_multiple_days() -> None:
    cfg = dataclasses.replace(CFG, agent=AgentConfig(frame_every=2),
                              dynamics=dataclasses.replace(CFG.dynamics, days=2))
    ep = generate_episode(cfg, seed=1)
    clock = ep.clock
    steps = [(f.stamp_ns - clock.day_start_ns(clock.day_of(f.stamp_ns))) // clock.step_ns for f in ep.frames]
    assert all(s % 2 == 0 for s in steps)  # steps_per_day is even, so global parity = in-day parity
    assert {clock.day_of(it.pick_ns) for it in ep.log.interactions} == {0, 1}
    assert len(ep.log.interactions) == 6
    assert ep.now_ns == clock.day_end_ns(1)
    day_bounds = {(v.enter_ns, v.exit_ns) for v in ep.log.visits}
    assert any(e == clock.day_end_ns(0) for _, e in day_bounds) and any(
        s == clock.day_start_ns(1) for s, _ in day_bounds)
    assert ep.frame_index_at(ep.frames[3].stamp_ns) == 3 and ep.frame_index_at(0) is None


def test_short_days_drop_interactions_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    cfg = dataclasses.replace(CFG, dynamics=DynamicsConfig(days=1, steps_per_day=960, min_interactions_per_day=11,
                                                           max_interactions_per_day=11))
    with caplog.at_level("WARNING"):
        ep = generate_episode(cfg, seed=2)
    assert len(ep.log.interactions) <= 11


def test_frames_feed_the_memory(episode: Episode, frames: list[Frame]) -> None:
    memory_mod = pytest.importorskip("robomem.core.memory")
    from robomem.config import MaskIdMode, MemoryConfig, ObjectConfig
    from robomem.encoders.hashing import HashEncoder

    cfg = MemoryConfig(objects=ObjectConfig(mask_ids=MaskIdMode.PERSISTENT, min_points=3))
    mem = memory_mod.SpatioSemanticMemory(cfg, HashEncoder(), regions=episode.house.regions())
    for fr in frames[:12]:  # a dozen frames: the memory's own tests cover the rest
        mem.ingest(fr)
    labels = {inst.label for inst in mem.instances()}
    assert labels and labels <= set(episode.house.labels().values())
    assert {v.room for v in mem.room_visits().visits} <= set(episode.house.room_names())
