"""The robot's own picks and places as ActionEvents, per perception mode (segment hints, delivery order, drift)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from robomem_sim.actions import ActionFeed
from robomem_sim.agents import AgentsConfig, EpisodeInfo, create_agent
from robomem_sim.config import NoiseConfig, SimConfig
from robomem_sim.episode import Episode, generate_episode, iter_frames, robot_actions
from robomem_sim.perception import Perceiver, PerceptionMode

from robomem.core.types import ActionEvent, ActionKind

M = PerceptionMode


@pytest.fixture(scope="module")
def episode() -> Episode:
    return generate_episode(SimConfig.small(96, 72, days=2), seed=6)


def _stream(ep: Episode, mode: PerceptionMode, noise: NoiseConfig | None = None):
    """Frames and events in delivery order: [(frame index, perceived frame, events after it)]."""
    stamps = [f.stamp_ns for f in ep.frames]
    p = Perceiver(mode, ep.seed, ep.house.labels(), frozenset(ep.house.receptacles), stamps, noise)
    feed = ActionFeed(robot_actions(ep), p, stamps)
    out = []
    for i, f in enumerate(iter_frames(ep)):
        pf = p.convert(i, f)
        out.append((i, pf, feed.after_frame(i, pf)))
    return out, feed.finish()


def test_every_pick_and_place_is_reported_once_with_the_grasped_segment(episode: Episode) -> None:
    for mode in (M.GT_IDS, M.GT_SEGMENTS):
        stream, rest = _stream(episode, mode)
        events = [e for _, _, evs in stream for e in evs] + rest
        its = episode.log.interactions
        assert [(e.kind, e.stamp_ns) for e in events] == [
            (k, t) for it in its for k, t in ((ActionKind.PICK, it.pick_ns), (ActionKind.PLACE, it.place_ns))]
        frames = {pf.frame.stamp_ns: pf for _, pf, _ in stream}
        for (_i, pf, evs) in stream:
            for e in evs:
                if e.kind is ActionKind.PICK:
                    assert e.segment_id is not None, "the robot looks at what it grasps: a frame shows it"
                if e.segment_id is None:
                    continue
                ref = frames[e.frame_stamp_ns]
                assert e.frame_stamp_ns <= pf.frame.stamp_ns, "handed out after the frame its hint refers to"
                obj = next(it.object_id for it in its if e.stamp_ns in (it.pick_ns, it.place_ns))
                assert ref.segment_of[obj] == e.segment_id
                assert e.label == ref.frame.instance_labels[e.segment_id]
                if e.kind is ActionKind.PICK:
                    assert e.frame_stamp_ns < e.stamp_ns  # the object is still in place in that frame
                else:
                    assert e.frame_stamp_ns == e.stamp_ns  # the frame of the moment it was put down
                pos = next(it.from_position if e.kind is ActionKind.PICK else it.to_position for it in its
                           if e.stamp_ns in (it.pick_ns, it.place_ns))
                np.testing.assert_allclose(e.world_T_gripper[:3, 3], pos)


def test_noisy_events_carry_the_pose_drift_and_may_lack_a_hint(episode: Episode) -> None:
    harsh = dataclasses.replace(NoiseConfig.harsh(), miss_prob=0.9, miss_small_pixels=0)
    stream, rest = _stream(episode, M.NOISY, harsh)
    events = [e for _, _, evs in stream for e in evs] + rest
    assert any(e.segment_id is None for e in events), "missed detections leave some events without a hint"
    its = episode.log.interactions
    truth = {it.pick_ns: it.from_position for it in its} | {it.place_ns: it.to_position for it in its}
    offsets = [np.linalg.norm(e.world_T_gripper[:2, 3] - np.array(truth[e.stamp_ns][:2])) for e in events]
    assert max(offsets) > 0.0 and max(offsets) < 1.0


class _Recorder:
    """Stands in for a memory that has the action API (only what MemoryAgent calls)."""

    def __init__(self) -> None:
        self.actions: list[ActionEvent] = []

    def ingest(self, frame) -> None:
        return None

    def record_action(self, event: ActionEvent) -> None:
        self.actions.append(event)


def _feed(agent, ep: Episode) -> set[int]:
    agent.reset(EpisodeInfo("x", ep.seed, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns,
                            ep.now_ns))
    agent.memory = _Recorder()
    stream, rest = _stream(ep, M.GT_IDS)
    kept: set[int] = set()
    for _i, pf, evs in stream:
        agent.observe(pf.frame)
        if agent.frames_ingested > len(kept):
            kept.add(pf.frame.stamp_ns)
        for e in evs:
            agent.observe_action(e)
    for e in rest:
        agent.observe_action(e)
    return kept


def test_full_memories_record_every_action(episode: Episode) -> None:
    agent = create_agent("robomem", AgentsConfig(encoder="hash"), M.GT_IDS)
    _feed(agent, episode)
    assert len(agent.memory.actions) == 2 * len(episode.log.interactions)


def test_frame_selecting_baselines_keep_only_actions_of_their_frames(episode: Episode) -> None:
    agent = create_agent("uniform_keyframes", AgentsConfig(encoder="hash", uniform_k=5), M.GT_IDS)
    kept = _feed(agent, episode)
    got = agent.memory.actions
    assert all(e.segment_id is not None and e.frame_stamp_ns in kept for e in got)
    assert len(got) + agent.actions_skipped == 2 * len(episode.log.interactions)
    assert agent.actions_skipped > 0
