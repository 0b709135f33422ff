"""Record the synthetic scene (scene.py) as ROS messages: into rosbag2 files with rosbags, or as rclpy
messages for live publishing. Both use the same robomem converters for the image payloads.

TF tree: map -> base_link (dynamic, /tf at every image stamp), base_link -> camera_link and
camera_link -> camera_color_optical_frame (static, /tf_static), so the camera pose needs a chain lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import scene

from robomem.ros.bags import typestore
from robomem.ros.converters import (
    ImageFields,
    depth_to_image_fields,
    intrinsics_k,
    intrinsics_p,
    mask_to_image_fields,
    matrix_to_quaternion,
    ns_to_sec_nanosec,
    rgb_to_image_fields,
)

TOPICS = {
    "rgb": "/camera/color/image_raw",
    "depth": "/camera/depth/image_raw",
    "info": "/camera/color/camera_info",
    "seg": "/camera/segmentation",
}
OPTICAL = "camera_color_optical_frame"
BASE_T_LINK = np.array([[1, 0, 0, 0.1], [0, 1, 0, 0.0], [0, 0, 1, 1.2], [0, 0, 0, 1.0]])
LINK_T_OPTICAL = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1.0]])  # REP 103 optical


@dataclass(frozen=True)
class SceneFrame:
    """One recorded view: everything a camera driver + TF would publish at ``stamp_ns``."""

    stamp_ns: int
    world_T_camera: np.ndarray
    rgb: ImageFields
    depth: ImageFields
    mask: ImageFields
    map_T_base: np.ndarray
    intrinsics: scene.CameraIntrinsics = scene.INTRINSICS


def scene_frames(n: int, depth_mm: bool = True, rgb_encoding: str = "rgb8",
                 intrinsics: scene.CameraIntrinsics = scene.INTRINSICS) -> list[SceneFrame]:
    r = scene.Renderer(intrinsics=intrinsics)
    out = []
    for i, pose in enumerate(scene.trajectory(n)):
        rgb, depth, ids = r.render(pose)
        d = np.round(depth * 1000).astype(np.uint16) if depth_mm else depth
        map_T_base = pose @ np.linalg.inv(BASE_T_LINK @ LINK_T_OPTICAL)
        out.append(SceneFrame(scene.T0_NS + (i + 1) * scene.DT_NS, pose, rgb_to_image_fields(rgb, rgb_encoding),
                              depth_to_image_fields(d), mask_to_image_fields(ids), map_T_base, intrinsics))
    return out


# ------------------------------------------------------------------------------------------------ generic builders


def _fill(obj: Any, **fields: Any) -> Any:
    for k, v in fields.items():
        setattr(obj, k, v)
    return obj


class Builder:
    """Builds messages with either rosbags dataclasses (``kind='rosbags'``) or rclpy classes (``'rclpy'``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "rosbags":
            self.store = typestore()

    def _cls(self, name: str) -> Any:
        if self.kind == "rosbags":
            return self.store.types[name]
        import importlib

        pkg, sub, typ = name.split("/")
        return getattr(importlib.import_module(f"{pkg}.{sub}"), typ)

    def time(self, t_ns: int) -> Any:
        sec, nsec = ns_to_sec_nanosec(t_ns)
        return self._cls("builtin_interfaces/msg/Time")(sec=sec, nanosec=nsec)

    def header(self, t_ns: int, frame_id: str) -> Any:
        return self._cls("std_msgs/msg/Header")(stamp=self.time(t_ns), frame_id=frame_id)

    def image(self, f: ImageFields, t_ns: int, frame_id: str = OPTICAL) -> Any:
        data: Any = np.frombuffer(f.data, np.uint8) if self.kind == "rosbags" else f.data
        return self._cls("sensor_msgs/msg/Image")(
            header=self.header(t_ns, frame_id), height=f.height, width=f.width, encoding=f.encoding,
            is_bigendian=f.is_bigendian, step=f.step, data=data)

    def camera_info(self, t_ns: int, frame_id: str = OPTICAL,
                    intr: scene.CameraIntrinsics = scene.INTRINSICS) -> Any:
        roi = self._cls("sensor_msgs/msg/RegionOfInterest")(x_offset=0, y_offset=0, height=0, width=0,
                                                              do_rectify=False)
        arr = (lambda v: np.array(v, dtype=np.float64)) if self.kind == "rosbags" else list
        return self._cls("sensor_msgs/msg/CameraInfo")(
            header=self.header(t_ns, frame_id), height=intr.height, width=intr.width,
            distortion_model="plumb_bob", d=arr([0.0] * 5), k=arr(intrinsics_k(intr)),
            r=arr([1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]), p=arr(intrinsics_p(intr)), binning_x=0, binning_y=0, roi=roi)

    def transform(self, parent: str, child: str, t_ns: int, m: np.ndarray) -> Any:
        q = matrix_to_quaternion(m[:3, :3])
        vec = self._cls("geometry_msgs/msg/Vector3")(x=float(m[0, 3]), y=float(m[1, 3]), z=float(m[2, 3]))
        quat = self._cls("geometry_msgs/msg/Quaternion")(x=q[0], y=q[1], z=q[2], w=q[3])
        tr = self._cls("geometry_msgs/msg/Transform")(translation=vec, rotation=quat)
        return self._cls("geometry_msgs/msg/TransformStamped")(header=self.header(t_ns, parent),
                                                               child_frame_id=child, transform=tr)

    def tf(self, transforms: list[Any]) -> Any:
        return self._cls("tf2_msgs/msg/TFMessage")(transforms=transforms)

    def segmentation(self, f: ImageFields, t_ns: int) -> Any:
        ids = sorted(scene.labels())
        arr_i = (lambda v: np.array(v, dtype=np.int32)) if self.kind == "rosbags" else list
        return self._cls("robomem_interfaces/msg/InstanceSegmentation")(
            header=self.header(t_ns, OPTICAL), mask=self.image(f, t_ns), background_id=-1, ids=arr_i(ids),
            labels=[scene.labels()[i] for i in ids], receptacle_ids=arr_i(scene.receptacle_ids()))


Event = tuple[int, str, Any]  # (log time ns, topic, message)


def scene_events(b: Builder, frames: list[SceneFrame], segmentation: bool = True,
                 mutate: Optional[Callable[[int, str, Any], Optional[Any]]] = None) -> Iterator[Event]:
    """Messages in publish order: /tf_static first, then per frame TF, camera_info, depth, rgb[, seg].

    ``mutate(i, role, msg)`` may replace (or drop, returning None) the message of role ``role`` of frame i.
    """
    t_static = frames[0].stamp_ns - scene.DT_NS
    yield t_static, "/tf_static", b.tf([b.transform("base_link", "camera_link", t_static, BASE_T_LINK),
                                        b.transform("camera_link", OPTICAL, t_static, LINK_T_OPTICAL)])
    for i, f in enumerate(frames):
        msgs = [("tf", "/tf", b.tf([b.transform("map", "base_link", f.stamp_ns, f.map_T_base)])),
                ("info", TOPICS["info"], b.camera_info(f.stamp_ns, intr=f.intrinsics)),
                ("depth", TOPICS["depth"], b.image(f.depth, f.stamp_ns)),
                ("rgb", TOPICS["rgb"], b.image(f.rgb, f.stamp_ns))]
        if segmentation:
            msgs.append(("seg", TOPICS["seg"], b.segmentation(f.mask, f.stamp_ns)))
        for role, topic, msg in msgs:
            if mutate is not None:
                msg = mutate(i, role, msg)
                if msg is None:
                    continue
            yield f.stamp_ns, topic, msg


def write_bag(path: Path, storage: str, events: list[Event]) -> Path:
    """Write ``events`` (rosbags messages) to a rosbag2 at ``path`` with ``storage`` 'sqlite3' or 'mcap'."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    b = Builder("rosbags")
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns: dict[str, Any] = {}
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        for t, topic, msg in events:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=b.store)
            writer.write(conns[topic], t, bytes(b.store.serialize_cdr(msg, msg.__msgtype__)))
    return path
