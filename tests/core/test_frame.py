"""Frame admission (robomem.core.frame): hostile stamps, ids and intrinsics are clean, counted FrameErrors that
leave the memory unchanged; a far-future stamp cannot block later frames; oversized frames are downscaled.

Each probe was a defect of the first version: stamp 2^63-1 blocked every later frame (and was saved), stamp 2^70
and fx=1e-6 / cx=-1e30 escaped as raw OverflowError/ValueError without being counted, uint64 mask ids >= 2^63
wrapped to negative instance ids, and non-int receptacle ids were accepted.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from robomem.config import EncoderConfig, IngestConfig, MemoryConfig
from robomem.core.frame import check_frame, check_stamp, downscale_factor
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.types import CameraIntrinsics, Frame
from robomem.encoders.base import create_encoder
from robomem.errors import FrameError

SEC = 1_000_000_000
T0 = 1_767_254_400 * SEC  # 2026-01-01 08:00 UTC (in the past of the machines running this)


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def wall(w: int = 32, h: int = 24, stamp: int = T0, mask_dtype=np.int32, seg: int = 1) -> Frame:
    """A labelled box in front of a wall at 1.5 m, camera at the origin looking along +z."""
    f = 30.0 * w / 32
    mask = np.full((h, w), 0 if np.dtype(mask_dtype).kind == "u" else -1, dtype=mask_dtype)
    mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = seg
    return Frame(rgb=np.full((h, w, 3), 128, np.uint8), depth=np.full((h, w), 1.5, np.float32),
                 intrinsics=CameraIntrinsics(f, f, w / 2 - 0.5, h / 2 - 0.5, w, h), world_T_camera=np.eye(4),
                 stamp_ns=stamp, instance_mask=mask, instance_labels={seg: "red mug"})


def rejected(mem: SpatioSemanticMemory, frame: Frame, match: str) -> None:
    before = mem.stats()
    with pytest.raises(FrameError, match=match):
        mem.ingest(frame)
    after = mem.stats()
    assert after["frames_rejected"] == before["frames_rejected"] + 1
    assert {k: v for k, v in after.items() if k != "frames_rejected"} == \
        {k: v for k, v in before.items() if k != "frames_rejected"}


def test_a_far_future_stamp_is_rejected_counted_not_saved_and_does_not_block_later_frames(encoder, tmp_path):
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    mem.ingest(wall(stamp=T0))
    rejected(mem, wall(stamp=2**63 - 1), "ahead of the newest frame and of the clock")
    mem.ingest(wall(stamp=T0 + SEC))  # real frames keep coming in
    assert mem.time_range() == (T0, T0 + SEC)
    mem.save(tmp_path / "m")
    assert SpatioSemanticMemory.load(tmp_path / "m", encoder).time_range() == (T0, T0 + SEC)


def test_a_far_future_first_frame_is_rejected_against_the_clock(encoder):
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    rejected(mem, wall(stamp=time.time_ns() + 3600 * SEC), "ahead of the newest frame and of the clock")
    mem.ingest(wall(stamp=T0))


def test_a_big_jump_that_is_not_ahead_of_the_clock_is_accepted(encoder):
    """A robot switched off overnight resumes 12 h later: ahead of its newest frame, not of the clock."""
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    mem.ingest(wall(stamp=T0))
    mem.ingest(wall(stamp=T0 + 12 * 3600 * SEC))
    assert mem.stats()["frames_ingested"] == 2


def test_the_horizon_is_configurable_and_can_be_switched_off(encoder):
    assert check_stamp(T0 + 100 * SEC, newest_ns=T0, now_ns=T0, max_future_ns=0) == T0 + 100 * SEC
    with pytest.raises(FrameError, match="limit 60 s"):
        check_stamp(T0 + 100 * SEC, newest_ns=T0, now_ns=T0, max_future_ns=60 * SEC)
    # a clock reading 0 (ROS sim time before /clock) is unknown, not "1970"
    assert check_stamp(T0 + 10 * SEC, newest_ns=T0, now_ns=0, max_future_ns=60 * SEC)
    off = dataclasses.replace(MemoryConfig(), ingest=IngestConfig(max_future_s=0.0))
    mem = SpatioSemanticMemory(off, encoder)
    mem.ingest(wall(stamp=T0))
    mem.ingest(wall(stamp=2**63 - 1))  # the user asked for no check


@pytest.mark.parametrize(
    "stamp, match",
    [(2**70, r"must be in \(0, 2\^63\)"), (-5, r"must be in \(0, 2\^63\)"), (0, r"must be in"),
     (1.5e18, "must be an integer"), (True, "must be an integer"), ("123", "must be an integer")],
)
def test_stamps_are_range_checked_before_any_arithmetic(encoder, stamp, match):
    rejected(SpatioSemanticMemory(MemoryConfig(), encoder), wall(stamp=stamp), match)


@pytest.mark.parametrize(
    "fx, cx, match",
    [(1e-6, -1e30, "field of view"), (30.0, -1e30, "principal point"), (1e12, 15.5, "field of view"),
     (float("nan"), 15.5, "finite"), (-30.0, 15.5, "fx, fy > 0"), (30.0, float("inf"), "finite")],
)
def test_impossible_intrinsics_are_frame_errors(encoder, fx, cx, match):
    f = wall()
    bad = dataclasses.replace(f, intrinsics=dataclasses.replace(f.intrinsics, fx=fx, cx=cx))
    rejected(SpatioSemanticMemory(MemoryConfig(), encoder), bad, match)


def test_uint64_mask_ids_beyond_int64_are_rejected_not_wrapped(encoder):
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    rejected(mem, wall(mask_dtype=np.uint64, seg=2**63), r"ids must be in \[-1, 2\^63 - 1\]")
    big = wall(mask_dtype=np.uint64, seg=2**63 - 1)  # the largest id that fits is fine
    mem.ingest(dataclasses.replace(big, instance_labels={2**63 - 1: "red mug"}))
    assert all(i.instance_id >= 0 for i in mem.instances())


@pytest.mark.parametrize("receptacles", [frozenset({"1"}), frozenset({1.0}), frozenset({2**64}), frozenset({None})])
def test_receptacle_ids_must_be_int64_ints(encoder, receptacles):
    rejected(SpatioSemanticMemory(MemoryConfig(), encoder), dataclasses.replace(wall(), receptacle_ids=receptacles),
             "receptacle_ids must be")


def test_label_keys_must_be_int64_ints(encoder):
    rejected(SpatioSemanticMemory(MemoryConfig(), encoder),
             dataclasses.replace(wall(), instance_labels={2**64: "mug"}), "instance_labels must map")


def test_far_away_pose_is_rejected(encoder):
    pose = np.eye(4)
    pose[0, 3] = 5e6  # UTM-sized coordinates: float32 voxels cannot hold them
    rejected(SpatioSemanticMemory(MemoryConfig(), encoder), dataclasses.replace(wall(), world_T_camera=pose),
             "local map frame")


def test_oversized_frames_are_downscaled_with_matching_intrinsics(encoder):
    """A 4000x3000 frame is ingested at a fraction of its pixels; the object lands where the full frame puts it."""
    assert downscale_factor(4000, 3000, 1_310_720) == 4 and downscale_factor(640, 480, 1_310_720) == 1
    big = wall(w=4000, h=3000)
    checked = check_frame(big)
    assert checked.downscale_factor == 4 and checked.frame.rgb.shape == (750, 1000, 3)
    assert checked.frame.intrinsics.width == 1000 and checked.frame.instance_mask.shape == (750, 1000)
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    mem.ingest(big)
    full_cfg = dataclasses.replace(MemoryConfig(), ingest=IngestConfig(max_pixels=0))
    small = SpatioSemanticMemory(full_cfg, encoder)
    small.ingest(wall(w=1000, h=750))
    a = mem.locate("red mug").matches[0]
    b = small.locate("red mug").matches[0]
    assert np.allclose(a.position, b.position, atol=0.05)
    assert mem.stats()["frames_downscaled"] == 1 and small.stats().get("frames_downscaled", 0) == 0
