"""Converters against the real generated message classes (rclpy), cross-checked by decoding the same CDR
bytes with rosbags; core result dataclasses round-trip through robomem_interfaces messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image

from robomem.core.query_types import (
    Change,
    ChangeKind,
    GraphEdge,
    InstanceSummary,
    KeyframeInfo,
    NodeRef,
    RoomVisit,
)
from robomem.core.types import Box3D, CameraIntrinsics, NodeKind, Placement, Region, Relation, TimeInterval
from robomem.errors import FrameError
from robomem.ros import converters as cv
from robomem.ros import msg_convert as mc
from robomem.ros.bags import typestore

STORE = typestore()
RNG = np.random.default_rng(0)


def rclpy_image(fields: cv.ImageFields) -> Image:
    return cv.fill_image(Image(), fields)


def via_rosbags(msg: object, msgtype: str) -> object:
    """Serialise with rclpy (real type support), decode with rosbags."""
    return STORE.deserialize_cdr(serialize_message(msg), msgtype)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_decode_identically_from_rclpy_and_rosbags(encoding: str) -> None:
    rgb = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    msg = rclpy_image(cv.rgb_to_image_fields(rgb, encoding))
    decoded = via_rosbags(msg, "sensor_msgs/msg/Image")
    assert decoded.encoding == encoding and decoded.step == msg.step  # type: ignore[attr-defined]
    np.testing.assert_array_equal(cv.image_to_rgb(msg), rgb)
    np.testing.assert_array_equal(cv.image_to_rgb(decoded), rgb)


def test_rgb8_is_a_view_of_the_message_buffer() -> None:
    rgb = RNG.integers(0, 256, (6, 4, 3), dtype=np.uint8)
    msg = rclpy_image(cv.rgb_to_image_fields(rgb))
    out = cv.image_to_rgb(msg)
    assert not out.flags.owndata and np.shares_memory(out, np.frombuffer(memoryview(msg.data), np.uint8))


def test_mono8_becomes_grey_rgb() -> None:
    grey = RNG.integers(0, 256, (3, 4), dtype=np.uint8)
    msg = Image(height=3, width=4, encoding="mono8", step=4, data=grey.tobytes())
    out = cv.image_to_rgb(msg)
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[:, :, 1], grey)


def test_padded_rows_are_respected() -> None:
    rgb = RNG.integers(0, 256, (3, 2, 3), dtype=np.uint8)
    padded = np.zeros((3, 8), np.uint8)
    padded[:, :6] = rgb.reshape(3, 6)
    padded[:, 6:] = 99
    msg = Image(height=3, width=2, encoding="rgb8", step=8, data=padded.tobytes())
    np.testing.assert_array_equal(cv.image_to_rgb(msg), rgb)
    np.testing.assert_array_equal(cv.image_to_rgb(via_rosbags(msg, "sensor_msgs/msg/Image")), rgb)


def test_depth_16uc1_and_32fc1_with_scale_and_endianness() -> None:
    mm = RNG.integers(0, 5000, (4, 3), dtype=np.uint16)
    msg = rclpy_image(cv.depth_to_image_fields(mm))
    d, scale = cv.image_to_depth(msg)
    assert scale == 0.001 and d.dtype == np.uint16
    np.testing.assert_array_equal(d, mm)
    d2, _ = cv.image_to_depth(via_rosbags(msg, "sensor_msgs/msg/Image"))
    np.testing.assert_array_equal(d2, mm)

    big = Image(height=4, width=3, encoding="16UC1", is_bigendian=1, step=6, data=mm.astype(">u2").tobytes())
    np.testing.assert_array_equal(cv.image_to_depth(big)[0], mm)

    m = RNG.random((4, 3), dtype=np.float32) * 4
    m[0, 0] = np.nan
    d3, scale3 = cv.image_to_depth(rclpy_image(cv.depth_to_image_fields(m)))
    assert scale3 == 1.0
    np.testing.assert_array_equal(d3, m)  # NaN kept: the memory drops it pixel by pixel


def test_instance_mask_encodings() -> None:
    ids = RNG.integers(-1, 7, (3, 5)).astype(np.int32)
    np.testing.assert_array_equal(cv.image_to_mask(rclpy_image(cv.mask_to_image_fields(ids))), ids)
    u16 = Image(height=3, width=5, encoding="16UC1", step=10, data=(ids + 1).astype("<u2").tobytes())
    np.testing.assert_array_equal(cv.image_to_mask(u16, background_id=0), np.where(ids < 0, -1, ids + 1))


@pytest.mark.parametrize(
    "msg, match",
    [
        (Image(height=2, width=2, encoding="yuv422", step=4, data=b"\0" * 8), "unsupported colour encoding"),
        (Image(height=2, width=2, encoding="rgb8", step=6, data=b"\0" * 7), "truncated"),
        (Image(height=2, width=2, encoding="rgb8", step=3, data=b"\0" * 12), "step 3 is smaller"),
        (Image(height=0, width=2, encoding="rgb8", step=6, data=b""), "empty"),
    ],
)
def test_malformed_colour_images_are_rejected_with_reason(msg: Image, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        cv.image_to_rgb(msg)


def test_unknown_depth_encoding_says_what_to_publish() -> None:
    with pytest.raises(FrameError, match="16UC1"):
        cv.image_to_depth(Image(height=1, width=1, encoding="8UC1", step=1, data=b"\0"))


def test_camera_info_to_intrinsics_both_decoders() -> None:
    intr = CameraIntrinsics(fx=500.0, fy=510.0, cx=319.5, cy=239.5, width=640, height=480)
    msg = CameraInfo(width=640, height=480, k=cv.intrinsics_k(intr), p=cv.intrinsics_p(intr))
    assert cv.camera_info_to_intrinsics(msg) == intr
    assert cv.camera_info_to_intrinsics(via_rosbags(msg, "sensor_msgs/msg/CameraInfo")) == intr
    with pytest.raises(FrameError, match="calibrated"):
        cv.camera_info_to_intrinsics(CameraInfo(width=640, height=480))


def test_quaternion_matrix_round_trip_and_transform() -> None:
    from geometry_msgs.msg import Transform

    for _ in range(20):
        q = RNG.normal(size=4)
        q /= np.linalg.norm(q)
        R = cv.quaternion_to_matrix(*q)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(cv.quaternion_to_matrix(*cv.matrix_to_quaternion(R)), R, atol=1e-9)
    m = np.eye(4)
    m[:3, :3] = cv.quaternion_to_matrix(0.1, 0.2, 0.3, 0.9)
    m[:3, 3] = (1.0, -2.0, 0.5)
    t = cv.fill_transform(Transform(), m)
    np.testing.assert_allclose(cv.transform_to_matrix(t), m, atol=1e-12)
    np.testing.assert_allclose(cv.transform_to_matrix(via_rosbags(t, "geometry_msgs/msg/Transform")), m, atol=1e-12)


def test_stamps() -> None:
    from builtin_interfaces.msg import Time

    t = cv.set_stamp(Time(), 1_767_254_400_123_456_789)
    assert (t.sec, t.nanosec) == (1_767_254_400, 123_456_789)
    assert cv.stamp_to_ns(via_rosbags(t, "builtin_interfaces/msg/Time")) == 1_767_254_400_123_456_789


def test_pointcloud_payload_round_trip() -> None:
    pts = RNG.normal(size=(50, 3)).astype(np.float32)
    col = RNG.integers(0, 256, (50, 3), dtype=np.uint8)
    p2, c2 = cv.cloud_bytes_to_xyzrgb(cv.xyzrgb_cloud_bytes(pts, col), 50)
    np.testing.assert_array_equal(p2, pts)
    np.testing.assert_array_equal(c2, col)


# ------------------------------------------------------------------------------------------------ interfaces

BOX = Box3D((0.9, -0.1, 0.75), (1.1, 0.1, 0.95))
INST = InstanceSummary(3, "red mug", NodeKind.OBJECT, (1.0, 0.0, 0.85), BOX, 0.875, 10, 20, True, 4,
                       receptacle_id=1, receptacle_label="table", room="kitchen")


def roundtrip(msg: object) -> object:
    return deserialize_message(serialize_message(msg), type(msg))


def test_core_results_round_trip_through_messages() -> None:
    assert mc.instance_from_msg(roundtrip(mc.instance_to_msg(INST))) == INST
    bare = InstanceSummary(5, "", NodeKind.RECEPTACLE, (0, 0, 0), BOX, 1.0, 1, 2, False, 1)
    assert mc.instance_from_msg(roundtrip(mc.instance_to_msg(bare))) == bare
    for p in (Placement((1, 2, 3), BOX, 5, 6), Placement((1, 2, 3), BOX, 5, 6, 9, 1, "kitchen")):
        assert mc.placement_from_msg(roundtrip(mc.placement_to_msg(p))) == p
    e = GraphEdge(NodeRef(NodeKind.OBJECT, 3), Relation.ON, NodeRef(NodeKind.RECEPTACLE, 1),
                  (TimeInterval(5, 9), TimeInterval(12, None)))
    assert mc.edge_from_msg(roundtrip(mc.edge_to_msg(e))) == e
    e2 = GraphEdge(NodeRef(NodeKind.RECEPTACLE, 1), Relation.PART_OF, NodeRef(NodeKind.ROOM, name="kitchen"),
                   (TimeInterval(5, None),))
    assert mc.edge_from_msg(roundtrip(mc.edge_to_msg(e2))) == e2
    for c in (Change(ChangeKind.MOVED, 3, "red mug", 7, (1, 2, 3), (4, 5, 6), "table", None, "kitchen", "hall"),
              Change(ChangeKind.APPEARED, 4, "book", 8)):
        assert mc.change_from_msg(roundtrip(mc.change_to_msg(c))) == c
    for v in (RoomVisit("kitchen", 1, 5), RoomVisit("hall", 6, None)):
        assert mc.room_visit_from_msg(roundtrip(mc.room_visit_to_msg(v))) == v
    r = Region("kitchen", Box3D((0, 0, 0), (3, 4, 2.5)))
    assert mc.region_from_msg(roundtrip(mc.region_to_msg(r))) == r


def test_keyframe_with_thumbnail_round_trip() -> None:
    pose = np.eye(4)
    pose[:3, :3] = cv.quaternion_to_matrix(0.0, 0.0, 0.38268343, 0.92387953)
    pose[:3, 3] = (1, 2, 1.5)
    thumb = RNG.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    k = KeyframeInfo(7, 100, pose, (1, 3), 0.5, thumb, 150)
    out = mc.keyframe_from_msg(roundtrip(mc.keyframe_to_msg(k, True, "map")))
    assert (out.keyframe_id, out.stamp_ns, out.visible_instance_ids, out.score, out.last_confirmed_ns) == (
        7, 100, (1, 3), 0.5, 150)
    np.testing.assert_allclose(out.world_T_camera, pose, atol=1e-9)
    np.testing.assert_array_equal(out.thumbnail, thumb)
    assert mc.keyframe_from_msg(roundtrip(mc.keyframe_to_msg(k, False))).thumbnail is None


def test_interfaces_decode_with_rosbags_from_the_msg_definitions() -> None:
    """The .msg files in msg/ (what rosbags registers) describe the same wire format rclpy produces."""
    msg = mc.instance_to_msg(INST)
    dec = via_rosbags(msg, "robomem_interfaces/msg/MemoryObject")
    assert (dec.id, dec.label, dec.kind, dec.present, dec.room) == (3, "red mug", 0, True, "kitchen")  # type: ignore
    assert dec.pose.position.z == pytest.approx(0.85) and dec.box_max.x == pytest.approx(1.1)  # type: ignore


def test_vendored_tf2_msgs_matches_upstream_jazzy(tmp_path: object) -> None:
    """tf2_msgs/TFMessage built here has upstream's type hash, and its CDR decodes as upstream's type."""
    from pathlib import Path

    import tf2_msgs.msg

    from robomem.ros.tf_buffer import TfBuffer

    share = Path(tf2_msgs.msg.__file__).resolve().parents[5] / "share" / "tf2_msgs" / "msg" / "TFMessage.json"
    hashes = {h["type_name"]: h["hash_string"] for h in json.loads(share.read_text())["type_hashes"]}
    assert hashes["tf2_msgs/msg/TFMessage"] == STORE.hash_rihs01("tf2_msgs/msg/TFMessage")

    import bagtools

    b = bagtools.Builder("rclpy")
    m = np.eye(4)
    m[:3, 3] = (1.0, 2.0, 3.0)
    msg = b.tf([b.transform("map", "base_link", 5_000_000_000, m)])
    buf = TfBuffer()
    buf.add_message(via_rosbags(msg, "tf2_msgs/msg/TFMessage"))
    np.testing.assert_allclose(buf.lookup("map", "base_link", 5_000_000_000), m)
