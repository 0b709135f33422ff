"""Perception modes: one ground-truth render converted per mode; seeded, per-(episode, frame, mode) noise."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from robomem_sim.config import NoiseConfig, SimConfig
from robomem_sim.episode import Episode, generate_episode, iter_frames
from robomem_sim.perception import (
    CATEGORY_CONFUSIONS,
    COLOUR_CONFUSIONS,
    MATERIAL_CONFUSIONS,
    Perceiver,
    PerceptionMode,
    parse_modes,
)

from robomem.core.types import NO_INSTANCE, Frame
from robomem.errors import SimError

M = PerceptionMode


@pytest.fixture(scope="module")
def episode() -> Episode:
    return generate_episode(SimConfig.small(96, 72), seed=4)


@pytest.fixture(scope="module")
def frames(episode: Episode) -> list[Frame]:
    return list(iter_frames(episode))


def _perceiver(ep: Episode, mode: PerceptionMode, noise: NoiseConfig | None = None, seed: int = 0) -> Perceiver:
    return Perceiver(mode, ep.seed, ep.house.labels(), frozenset(ep.house.receptacles),
                     [f.stamp_ns for f in ep.frames], noise, seed=seed)


def _same(a: Frame, b: Frame) -> bool:
    return (np.array_equal(a.instance_mask, b.instance_mask) and np.array_equal(a.depth, b.depth)
            and np.array_equal(a.world_T_camera, b.world_T_camera)
            and dict(a.instance_labels) == dict(b.instance_labels) and a.receptacle_ids == b.receptacle_ids)


def test_gt_ids_is_the_render_itself(episode, frames) -> None:
    p = _perceiver(episode, M.GT_IDS)
    for i, f in enumerate(frames[:20]):
        pf = p.convert(i, f)
        assert pf.frame is f
        assert set(pf.segment_of) == set(np.unique(f.instance_mask).tolist()) - {NO_INSTANCE}


def test_gt_segments_relabels_ids_every_frame_and_keeps_everything_else(episode, frames) -> None:
    p = _perceiver(episode, M.GT_SEGMENTS)
    prev: set[int] = set()
    for i, f in enumerate(frames[:40]):
        pf = p.convert(i, f)
        out = pf.frame
        assert np.array_equal(out.depth, f.depth) and np.array_equal(out.world_T_camera, f.world_T_camera)
        # the same pixels form each segment, under a fresh id that is not a simulator id
        for sid, seg in pf.segment_of.items():
            assert np.array_equal(out.instance_mask == seg, f.instance_mask == sid)
            assert out.instance_labels[seg] == f.instance_labels[sid]
            assert (seg in out.receptacle_ids) == (sid in f.receptacle_ids)
        ids = set(pf.segment_of.values())
        assert len(ids) == len(pf.segment_of) and all(x > 0 for x in ids)
        assert not ids & prev, "per-frame ids are re-drawn every frame"
        assert not ids & set(episode.house.labels()), "no simulator id leaks through"
        prev = ids


def test_conversion_depends_only_on_seed_episode_frame_and_mode(episode, frames) -> None:
    a = _perceiver(episode, M.NOISY)
    b = _perceiver(episode, M.NOISY)
    other = _perceiver(episode, M.NOISY, seed=1)
    order = list(range(30))
    first = {i: a.convert(i, frames[i]).frame for i in order}
    _perceiver(episode, M.UNLABELLED).convert(3, frames[3])  # other modes in between change nothing
    for i in reversed(order):  # another order, a fresh converter: the same frames
        assert _same(b.convert(i, frames[i]).frame, first[i])
    assert not all(_same(other.convert(i, frames[i]).frame, first[i]) for i in order)


def test_noisy_mode_models_detector_sensor_and_localisation_errors(episode, frames) -> None:
    harsh = NoiseConfig.harsh()
    p = _perceiver(episode, M.NOISY, harsh)
    labels = episode.house.labels()
    missed = spurious = confused = flipped = 0
    z_err: dict[str, list[float]] = {"near": [], "far": []}
    drifts = []
    for i, f in enumerate(frames):
        pf = p.convert(i, f)
        out = pf.frame
        truth = set(np.unique(f.instance_mask).tolist()) - {NO_INSTANCE}
        missed += len(truth - set(pf.segment_of))
        spurious += len(set(out.instance_labels) - set(pf.segment_of.values()))
        for sid, seg in pf.segment_of.items():
            got, want = out.instance_labels[seg], labels[sid]
            if got != want:
                confused += 1
                gw, ww = got.split(" ", 2), want.split(" ", 2)
                for k, table in ((0, COLOUR_CONFUSIONS), (1, MATERIAL_CONFUSIONS), (2, CATEGORY_CONFUSIONS)):
                    assert gw[k] == ww[k] or gw[k] in table[ww[k]], (got, want)
            same = out.instance_mask == seg
            flipped += int(np.count_nonzero(same != (f.instance_mask == sid)))
        valid = (out.depth > 0) & (f.depth > 0)
        err = (out.depth - f.depth)[valid]
        z = f.depth[valid]
        z_err["near"] += err[z < 1.5].tolist()
        z_err["far"] += err[z > 3.0].tolist()
        drifts.append(pf.drift)
        moved = np.linalg.norm(out.world_T_camera[:2, 3] - f.world_T_camera[:2, 3])
        assert moved == pytest.approx(math.hypot(pf.drift[0], pf.drift[1]), abs=1e-9)
    assert missed and spurious and confused and flipped
    assert np.std(z_err["far"]) > 2 * np.std(z_err["near"]) > 0, "depth noise grows with distance"
    d = np.array(drifts)
    assert 0 < np.abs(d[:, :2]).max() < 6 * harsh.pose_drift_m
    steps = np.abs(np.diff(d[:, 0]))
    assert np.median(steps) < 0.2 * harsh.pose_drift_m, "the pose drifts slowly"


def test_clean_noise_differs_from_gt_segments_only_by_its_ids(episode, frames) -> None:
    clean = _perceiver(episode, M.NOISY, NoiseConfig.clean())
    seg = _perceiver(episode, M.GT_SEGMENTS)
    for i, f in enumerate(frames[:15]):
        a, b = clean.convert(i, f), seg.convert(i, f)
        assert set(a.segment_of) == set(b.segment_of)
        assert np.array_equal(a.frame.depth, f.depth) and np.array_equal(a.frame.world_T_camera, f.world_T_camera)
        for sid in a.segment_of:
            same = a.frame.instance_mask == a.segment_of[sid]
            assert np.array_equal(same, b.frame.instance_mask == b.segment_of[sid])


def test_unlabelled_has_masks_without_labels(episode, frames) -> None:
    p = _perceiver(episode, M.UNLABELLED)
    n_segments = 0
    for i, f in enumerate(frames[:20]):
        out = p.convert(i, f).frame
        assert out.instance_labels == {} and out.receptacle_ids == frozenset()
        n_segments += len(set(np.unique(out.instance_mask).tolist()) - {NO_INSTANCE})
    assert n_segments > 0


def test_mode_names_are_validated() -> None:
    assert parse_modes(["noisy", "gt_ids"]) == (M.NOISY, M.GT_IDS)
    with pytest.raises(SimError, match="unknown perception mode 'xray'"):
        parse_modes(["xray"])
    with pytest.raises(SimError, match="twice"):
        parse_modes(["noisy", "noisy"])
    with pytest.raises(Exception, match="miss_prob"):
        NoiseConfig(miss_prob=1.5).validate()
    assert dataclasses.asdict(NoiseConfig.clean())["miss_prob"] == 0.0
