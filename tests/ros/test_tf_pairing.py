"""TF buffer, stamp pairing and the message -> Frame pipeline (pure Python over real rclpy messages)."""

from __future__ import annotations

import bagtools
import numpy as np
import pytest
import scene

from robomem.core.types import Frame
from robomem.errors import ConfigError, FrameError
from robomem.ros.converters import quaternion_to_matrix
from robomem.ros.pairing import OutOfOrderError, StampPairer
from robomem.ros.pipeline import FramePipeline, PipelineConfig, Rejection, RejectReason
from robomem.ros.tf_buffer import TfBuffer, TfLookupError

S = 1_000_000_000


def pose(x: float = 0.0, y: float = 0.0, z: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quaternion_to_matrix(0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2))
    m[:3, 3] = (x, y, z)
    return m


def test_chain_lookup_static_and_dynamic() -> None:
    tf = TfBuffer()
    tf.set_transform("map", "odom", 0, pose(1, 0, 0), static=True)
    tf.set_transform("odom", "base", 10 * S, pose(0, 2, 0, yaw=np.pi / 2))
    tf.set_transform("base", "cam", 0, pose(0.5, 0, 1), static=True)
    got = tf.lookup("map", "cam", 10 * S)
    np.testing.assert_allclose(got, pose(1, 0, 0) @ pose(0, 2, 0, yaw=np.pi / 2) @ pose(0.5, 0, 1), atol=1e-12)
    np.testing.assert_allclose(tf.lookup("cam", "map", 10 * S), np.linalg.inv(got), atol=1e-12)
    # sibling branches: base -> cam and base -> lidar
    tf.set_transform("base", "lidar", 0, pose(0, 0, 2), static=True)
    np.testing.assert_allclose(tf.lookup("cam", "lidar", 10 * S), np.linalg.inv(pose(0.5, 0, 1)) @ pose(0, 0, 2),
                               atol=1e-12)


def test_interpolation_between_samples() -> None:
    tf = TfBuffer()
    tf.set_transform("map", "base", 10 * S, pose(0, 0, 0, yaw=0.0))
    tf.set_transform("map", "base", 12 * S, pose(2, 4, 0, yaw=1.0))
    np.testing.assert_allclose(tf.lookup("map", "base", 11 * S), pose(1, 2, 0, yaw=0.5), atol=1e-9)
    np.testing.assert_allclose(tf.lookup("map", "base", 0), pose(2, 4, 0, yaw=1.0), atol=1e-12)  # 0 = latest


def test_extrapolation_is_refused_unless_within_tolerance() -> None:
    tf = TfBuffer(tolerance_ns=S // 10)
    tf.set_transform("map", "base", 10 * S, pose(1, 0, 0))
    tf.set_transform("map", "base", 11 * S, pose(2, 0, 0))
    np.testing.assert_allclose(tf.lookup("map", "base", 11 * S + S // 20), pose(2, 0, 0))
    with pytest.raises(TfLookupError, match="has not arrived yet") as future:
        tf.lookup("map", "base", 12 * S)
    assert future.value.retry
    with pytest.raises(TfLookupError, match="older than the TF cache") as past:
        tf.lookup("map", "base", 5 * S)
    assert not past.value.retry


def test_unknown_and_disconnected_frames_are_named() -> None:
    tf = TfBuffer()
    tf.set_transform("map", "base", S, pose())
    tf.set_transform("world", "other", S, pose())
    with pytest.raises(TfLookupError, match=r"frame\(s\) \['cam'\] never received"):
        tf.lookup("map", "cam", S)
    with pytest.raises(TfLookupError, match="not connected"):
        tf.lookup("map", "other", S)


def test_loops_and_bad_matrices_rejected_and_cache_pruned() -> None:
    tf = TfBuffer(cache_ns=2 * S)
    tf.set_transform("a", "b", S, pose())
    with pytest.raises(FrameError, match="loop"):
        tf.set_transform("b", "a", S, pose())
    with pytest.raises(FrameError, match="finite"):
        tf.set_transform("a", "c", S, np.full((4, 4), np.nan))
    for i in range(10):
        tf.set_transform("a", "b", (i + 1) * S, pose(i))
    with pytest.raises(TfLookupError):
        tf.lookup("a", "b", 2 * S)  # pruned: older than newest - cache
    np.testing.assert_allclose(tf.lookup("a", "b", 9 * S), pose(8))


def test_pairer_matches_within_tolerance_and_counts_drops() -> None:
    p: StampPairer[str] = StampPairer(("rgb", "depth", "info"), tolerance_ns=10, queue_size=3)
    assert p.add(0, 100, "rgb100") == []
    assert p.add(1, 105, "d105") == []
    (s,) = p.add(2, 98, "i98")
    assert s.stamp_ns == 100 and s.items == ("rgb100", "d105", "i98")
    # depth for 200 never comes: rgb 200 is dropped once 300 pairs
    p.add(0, 200, "rgb200")
    p.add(2, 200, "i200")
    p.add(0, 300, "rgb300")
    p.add(1, 301, "d301")
    (s2,) = p.add(2, 299, "i299")
    assert s2.items == ("rgb300", "d301", "i299")
    assert p.counters.dropped_unpaired == 2  # rgb200 and i200
    with pytest.raises(OutOfOrderError, match="not newer"):
        p.add(1, 250, "late")
    for t in (400, 410, 420, 430):
        p.add(0, t, f"r{t}")
    assert p.counters.dropped_overflow == 1 and p.pending()["rgb"] == 3


def _pipeline_events(n: int = 3, mutate=None, segmentation: bool = False) -> list[tuple[str, object]]:
    b = bagtools.Builder("rclpy")
    frames = bagtools.scene_frames(n)
    role = {"/tf_static": "tf_static", "/tf": "tf", bagtools.TOPICS["info"]: "info",
            bagtools.TOPICS["depth"]: "depth", bagtools.TOPICS["rgb"]: "rgb", bagtools.TOPICS["seg"]: "seg"}
    return [(role[topic], msg) for _, topic, msg in
            bagtools.scene_events(b, frames, segmentation=segmentation, mutate=mutate)]


def _run(pipe: FramePipeline, events: list[tuple[str, object]]) -> list[object]:
    feed = {"rgb": pipe.add_rgb, "depth": pipe.add_depth, "info": pipe.add_camera_info,
            "seg": pipe.add_segmentation, "tf": lambda m: pipe.add_tf(m), "tf_static": lambda m: pipe.add_tf(m, True)}
    out: list[object] = []
    for role, msg in events:
        out += feed[role](msg)
    return out + pipe.flush()


def test_pipeline_builds_frames_with_the_chained_camera_pose() -> None:
    frames = bagtools.scene_frames(3)
    out = _run(FramePipeline(PipelineConfig(use_segmentation=True)), _pipeline_events(3, segmentation=True))
    assert [type(o) for o in out] == [Frame] * 3
    for f, ref in zip(out, frames):
        assert isinstance(f, Frame)
        assert f.stamp_ns == ref.stamp_ns and f.depth.dtype == np.uint16 and f.depth_scale == 0.001
        np.testing.assert_allclose(f.world_T_camera, ref.world_T_camera, atol=1e-9)
        assert f.intrinsics == scene.INTRINSICS
        assert f.instance_labels == scene.labels() and f.receptacle_ids == frozenset(scene.receptacle_ids())
        assert f.instance_mask is not None and (f.instance_mask == 2).any()


def test_pipeline_waits_for_late_tf() -> None:
    """TF published after the images (common on robots) still places the frame."""
    events = _pipeline_events(2)
    tf = [e for e in events if e[0] == "tf"]
    rest = [e for e in events if e[0] != "tf"]
    out = _run(FramePipeline(PipelineConfig()), rest[:1] + rest[1:] + tf)
    assert [type(o) for o in out] == [Frame, Frame]


def test_pipeline_rejections_have_reasons() -> None:
    def mutate(i: int, role: str, msg):
        if i == 0 and role == "tf":
            return None  # frame 0: no TF at all -> missing_tf
        if i == 1 and role == "rgb":
            msg.encoding = "yuv422"  # unknown encoding
        if i == 2 and role == "depth":
            msg.data = bytes(msg.data)[:10]  # truncated
        if i == 3 and role == "info":
            msg.width = 10  # size mismatch
        return msg

    pipe = FramePipeline(PipelineConfig(tf_wait_s=0.05))
    out = _run(pipe, _pipeline_events(5, mutate=mutate))
    reasons = [o.reason for o in out if isinstance(o, Rejection)]
    assert reasons == [RejectReason.MISSING_TF, RejectReason.BAD_ENCODING, RejectReason.BAD_IMAGE,
                       RejectReason.SIZE_MISMATCH]
    assert sum(isinstance(o, Frame) for o in out) == 1
    msgs = " | ".join(o.message for o in out if isinstance(o, Rejection))
    assert "camera_color_optical_frame" in msgs and "yuv422" in msgs and "truncated" in msgs
    c = pipe.counters()
    assert c["rejected_missing_tf"] == 1 and c["frames"] == 1 and c["received_rgb"] == 5


def test_pipeline_out_of_order_and_config_validation() -> None:
    events = _pipeline_events(2)
    pipe = FramePipeline(PipelineConfig())
    out = _run(pipe, events)
    assert sum(isinstance(o, Frame) for o in out) == 2
    late = [m for r, m in events if r == "rgb"][0]
    (rej,) = pipe.add_rgb(late)
    assert isinstance(rej, Rejection) and rej.reason is RejectReason.OUT_OF_ORDER
    with pytest.raises(ConfigError, match="world_frame"):
        PipelineConfig(world_frame="").validate()
