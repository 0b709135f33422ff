"""Message <-> numpy converters for the ROS edge, duck-typed over message attributes.

The decoders here read only attributes (``msg.height``, ``msg.encoding``, ``msg.data``, ...), so the same
function converts an rclpy message (``data`` is an ``array.array``), a message decoded by ``rosbags``
(``data`` is an ``np.ndarray``) or any object with the same fields. Image payloads are wrapped with
``np.frombuffer`` (no copy) whenever the row stride allows it.

Conventions: stamps are ``builtin_interfaces/Time`` (``sec``, ``nanosec``) <-> int ns since the epoch; the
camera frame of an image is its optical frame (x right, y down, z forward, REP 103 ``*_optical_frame``);
``parent_T_child`` 4x4 matrices map points in ``child`` into ``parent`` (a ``TransformStamped`` with
``header.frame_id = parent`` and ``child_frame_id = child`` is exactly ``parent_T_child``).
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np

from robomem.core.rotation import matrix_to_quaternion, quaternion_to_matrix
from robomem.core.types import CameraIntrinsics
from robomem.errors import FrameError

RGB_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
MASK_ENCODINGS = ("32SC1", "16UC1", "mono16", "8UC1", "mono8")
_NS = 1_000_000_000


class EncodingError(FrameError):
    """An image uses an encoding robomem does not decode (the message says which ones it does)."""


# ----------------------------------------------------------------------------------------------- time


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> int ns since the epoch."""
    return int(stamp.sec) * _NS + int(stamp.nanosec)


def ns_to_sec_nanosec(t_ns: int) -> tuple[int, int]:
    """int ns -> (sec, nanosec) with 0 <= nanosec < 1e9 (what ``builtin_interfaces/Time`` holds)."""
    sec, nanosec = divmod(int(t_ns), _NS)
    return sec, nanosec


def set_stamp(stamp: Any, t_ns: int) -> Any:
    """Write ``t_ns`` into a mutable Time message in place and return it."""
    stamp.sec, stamp.nanosec = ns_to_sec_nanosec(t_ns)
    return stamp


# ----------------------------------------------------------------------------------------------- images


def _payload(msg: Any) -> np.ndarray:
    """The image bytes as a uint8 array, without copying when the buffer protocol allows it."""
    data = msg.data
    try:
        return np.frombuffer(memoryview(data), dtype=np.uint8) if len(data) else np.zeros(0, np.uint8)
    except (TypeError, ValueError):  # a list of ints, a non-contiguous buffer
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _image_view(msg: Any, channels: int, dtype: Any, what: str) -> np.ndarray:
    """``msg.data`` as an (H, W[, C]) array of ``dtype``; validates size and stride. No copy when possible."""
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    itemsize = np.dtype(dtype).itemsize
    row = w * channels * itemsize
    if h <= 0 or w <= 0:
        raise FrameError(f"{what} image is empty ({w}x{h}); check the camera driver")
    if step < row:
        raise FrameError(
            f"{what} image step {step} is smaller than width*channels*bytes = {row} "
            f"({w}x{h} {msg.encoding}); the message is malformed"
        )
    buf = _payload(msg)
    if buf.size < step * (h - 1) + row:
        raise FrameError(
            f"{what} image data holds {buf.size} bytes but {w}x{h} {msg.encoding} with step {step} needs "
            f"{step * h}; the message is truncated or its header is wrong"
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row), strides=(step, 1), writeable=False)
    if step == row:
        rows = buf[: h * row].reshape(h, row)
    big_endian = bool(getattr(msg, "is_bigendian", False))
    dt = np.dtype(dtype).newbyteorder(">" if big_endian else "<") if itemsize > 1 else np.dtype(dtype)
    if step % itemsize or (rows.ctypes.data % itemsize):
        rows = np.ascontiguousarray(rows)  # unaligned: one copy
    out = rows.view(dt)
    if big_endian != (sys.byteorder == "big") and itemsize > 1:
        out = out.astype(np.dtype(dtype).newbyteorder("="))
    return out.reshape(h, w, channels) if channels > 1 else out.reshape(h, w)


def image_to_rgb(msg: Any) -> np.ndarray:
    """``sensor_msgs/Image`` (rgb8, bgr8, rgba8, bgra8, mono8) -> HxWx3 uint8 RGB.

    rgb8 with a tight stride is returned as a read-only view of the message buffer (no copy); the others
    are channel-swizzled views where numpy allows it.
    """
    enc = str(msg.encoding).lower()
    if enc not in RGB_ENCODINGS:
        raise EncodingError(
            f"unsupported colour encoding {msg.encoding!r}; publish one of {list(RGB_ENCODINGS)} "
            "(e.g. set the camera driver's colour format to RGB8)"
        )
    if enc == "mono8":
        gray = _image_view(msg, 1, np.uint8, "colour")
        return np.repeat(gray[:, :, None], 3, axis=2)
    channels = 4 if enc in ("rgba8", "bgra8") else 3
    img = _image_view(msg, channels, np.uint8, "colour")
    if enc == "rgb8":
        return img
    if enc == "rgba8":
        return img[:, :, :3]
    return img[:, :, 2::-1]  # bgr8 / bgra8 -> RGB


def image_to_depth(msg: Any) -> tuple[np.ndarray, float]:
    """``sensor_msgs/Image`` depth -> (HxW array, metres per unit).

    16UC1/mono16: uint16 millimetres (scale 0.001, REP 118); 32FC1: float32 metres (scale 1.0).
    0 / NaN / inf pixels are kept: the memory drops them pixel by pixel and counts them.
    """
    enc = str(msg.encoding)
    if enc in ("16UC1", "mono16"):
        return _image_view(msg, 1, np.uint16, "depth"), 0.001
    if enc == "32FC1":
        return _image_view(msg, 1, np.float32, "depth"), 1.0
    raise EncodingError(
        f"unsupported depth encoding {enc!r}; publish 16UC1 (uint16 mm) or 32FC1 (float32 m) depth (REP 118)"
    )


def image_to_mask(msg: Any, background_id: int = -1) -> np.ndarray:
    """Instance-id image (32SC1, 16UC1/mono16, 8UC1/mono8) -> HxW int32 with -1 for "no segment".

    For unsigned encodings, pixels equal to ``background_id`` become -1.
    """
    enc = str(msg.encoding)
    if enc == "32SC1":
        mask = _image_view(msg, 1, np.int32, "mask").astype(np.int32, copy=True)
    elif enc in ("16UC1", "mono16"):
        mask = _image_view(msg, 1, np.uint16, "mask").astype(np.int32)
    elif enc in ("8UC1", "mono8"):
        mask = _image_view(msg, 1, np.uint8, "mask").astype(np.int32)
    else:
        raise EncodingError(f"unsupported instance-mask encoding {enc!r}; publish one of {list(MASK_ENCODINGS)}")
    if background_id != -1:
        mask[mask == background_id] = -1
    if mask.size and int(mask.min()) < -1:
        raise FrameError("instance mask holds ids < -1; use -1 (or background_id) for 'no segment'")
    return mask


class ImageFields(NamedTuple):
    """The fields of a ``sensor_msgs/Image`` for an array (assign them to a message; ``data`` is bytes)."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


def rgb_to_image_fields(rgb: np.ndarray, encoding: str = "rgb8") -> ImageFields:
    """HxWx3 uint8 RGB -> Image fields in ``encoding`` (rgb8, bgr8, rgba8, bgra8 or mono8)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise FrameError(f"expected an HxWx3 uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    if encoding == "rgb8":
        out = rgb
    elif encoding == "bgr8":
        out = rgb[:, :, ::-1]
    elif encoding in ("rgba8", "bgra8"):
        c = rgb if encoding == "rgba8" else rgb[:, :, ::-1]
        out = np.concatenate([c, np.full((h, w, 1), 255, np.uint8)], axis=2)
    elif encoding == "mono8":
        out = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
    else:
        raise FrameError(f"cannot encode colour as {encoding!r}; use one of {list(RGB_ENCODINGS)}")
    out = np.ascontiguousarray(out)
    return ImageFields(h, w, encoding, 0, out.strides[0], out.tobytes())


def depth_to_image_fields(depth: np.ndarray) -> ImageFields:
    """HxW uint16 mm -> 16UC1 fields; HxW float32 m -> 32FC1 fields (little endian)."""
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise FrameError(f"expected an HxW depth array, got shape {depth.shape}")
    if depth.dtype == np.uint16:
        enc = "16UC1"
    elif depth.dtype in (np.float32, np.float64):
        enc, depth = "32FC1", depth.astype(np.float32)
    else:
        raise FrameError(f"depth must be uint16 mm or float32 m, got {depth.dtype}")
    out = np.ascontiguousarray(depth.astype(depth.dtype.newbyteorder("<")))
    return ImageFields(depth.shape[0], depth.shape[1], enc, 0, out.strides[0], out.tobytes())


def mask_to_image_fields(mask: np.ndarray) -> ImageFields:
    """HxW integer segment ids (-1 = none) -> 32SC1 fields (little endian)."""
    m = np.ascontiguousarray(np.asarray(mask).astype("<i4"))
    if m.ndim != 2:
        raise FrameError(f"expected an HxW mask, got shape {m.shape}")
    return ImageFields(m.shape[0], m.shape[1], "32SC1", 0, m.strides[0], m.tobytes())


def fill_image(msg: Any, fields: ImageFields) -> Any:
    """Assign ``fields`` to an rclpy ``sensor_msgs/Image`` in place (``data`` as bytes: fast path)."""
    msg.height, msg.width, msg.encoding = fields.height, fields.width, fields.encoding
    msg.is_bigendian, msg.step, msg.data = fields.is_bigendian, fields.step, fields.data
    return msg


# ----------------------------------------------------------------------------------------------- camera


def camera_info_to_intrinsics(msg: Any) -> CameraIntrinsics:
    """``sensor_msgs/CameraInfo`` -> pinhole intrinsics from ``k`` (row-major 3x3).

    The images must be undistorted/rectified (e.g. RealSense colour, Habitat); distortion coefficients
    are not applied. Binning and ROI must be off.
    """
    k = [float(v) for v in msg.k]
    if len(k) != 9:
        raise FrameError(f"camera_info.k must have 9 elements, got {len(k)}")
    w, h = int(msg.width), int(msg.height)
    fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise FrameError(
            f"camera_info has no usable camera matrix (fx={fx}, fy={fy}); is the camera calibrated?"
        )
    if w <= 0 or h <= 0:
        raise FrameError(f"camera_info size is {w}x{h}; the driver must fill width/height")
    bx, by = int(getattr(msg, "binning_x", 0)), int(getattr(msg, "binning_y", 0))
    if bx > 1 or by > 1:
        raise FrameError(f"camera_info binning {bx}x{by} is not supported; disable binning")
    return CameraIntrinsics(fx=fx, fy=fy, cx=cx, cy=cy, width=w, height=h)


def intrinsics_k(intr: CameraIntrinsics) -> list[float]:
    """Row-major 3x3 K of ``intr`` (for ``CameraInfo.k``)."""
    return [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]


def intrinsics_p(intr: CameraIntrinsics) -> list[float]:
    """Row-major 3x4 P = [K | 0] of ``intr`` (for ``CameraInfo.p``)."""
    return [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]


# ----------------------------------------------------------------------------------------------- poses


def transform_to_matrix(transform: Any) -> np.ndarray:
    """``geometry_msgs/Transform`` (translation + rotation) -> 4x4 float64."""
    t, r = transform.translation, transform.rotation
    m = np.eye(4)
    m[:3, :3] = quaternion_to_matrix(r.x, r.y, r.z, r.w)
    m[:3, 3] = (float(t.x), float(t.y), float(t.z))
    if not np.isfinite(m).all():
        raise FrameError("transform contains NaN or inf")
    return m


def pose_to_matrix(pose: Any) -> np.ndarray:
    """``geometry_msgs/Pose`` (position + orientation) -> 4x4 float64."""
    p, r = pose.position, pose.orientation
    m = np.eye(4)
    m[:3, :3] = quaternion_to_matrix(r.x, r.y, r.z, r.w)
    m[:3, 3] = (float(p.x), float(p.y), float(p.z))
    return m


def fill_pose(pose: Any, matrix: np.ndarray) -> Any:
    """Write a rigid 4x4 into a ``geometry_msgs/Pose`` in place."""
    m = np.asarray(matrix, dtype=np.float64)
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in m[:3, 3])
    q = matrix_to_quaternion(m[:3, :3])
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = q
    return pose


def fill_transform(transform: Any, matrix: np.ndarray) -> Any:
    """Write a rigid 4x4 into a ``geometry_msgs/Transform`` in place."""
    m = np.asarray(matrix, dtype=np.float64)
    transform.translation.x, transform.translation.y, transform.translation.z = (float(v) for v in m[:3, 3])
    q = matrix_to_quaternion(m[:3, :3])
    transform.rotation.x, transform.rotation.y, transform.rotation.z, transform.rotation.w = q
    return transform


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """Rotation by ``yaw`` rad about +z as (x, y, z, w)."""
    return 0.0, 0.0, float(np.sin(yaw / 2.0)), float(np.cos(yaw / 2.0))


# ----------------------------------------------------------------------------------------------- clouds

POINTCLOUD_FIELDS = (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))
"""(name, byte offset) of the xyz+rgb PointCloud2 layout (all FLOAT32 = datatype 7, count 1, 16 B/point)."""


def xyzrgb_cloud_bytes(points_world: np.ndarray, colors: np.ndarray) -> bytes:
    """(N,3) float32 points and (N,3) uint8 RGB -> packed PointCloud2 payload, 16 bytes a point.

    ``rgb`` is the RViz convention: the float32 whose bits are 0x00RRGGBB (little endian).
    """
    pts = np.asarray(points_world, dtype=np.float32).reshape(-1, 3)
    col = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    if len(pts) != len(col):
        raise ValueError(f"{len(pts)} points but {len(col)} colours")
    packed = (col[:, 0].astype(np.uint32) << 16) | (col[:, 1].astype(np.uint32) << 8) | col[:, 2]
    buf = np.empty((len(pts), 4), dtype="<f4")
    buf[:, :3] = pts
    buf[:, 3] = packed.astype("<u4").view("<f4")
    return buf.tobytes()


def cloud_bytes_to_xyzrgb(data: Any, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`xyzrgb_cloud_bytes`: -> ((N,3) float32, (N,3) uint8)."""
    buf = np.frombuffer(memoryview(data), dtype="<f4").reshape(n_points, 4) if n_points else np.zeros((0, 4))
    packed = buf[:, 3].astype("<f4").view("<u4")
    colors = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1).astype(np.uint8)
    return buf[:, :3].astype(np.float32), colors
