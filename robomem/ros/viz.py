"""RViz outputs of the memory server: the voxel cloud (PointCloud2 xyz+rgb) and one box + label marker per
present instance (MarkerArray). Message types are imported lazily (rclpy message packages)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from robomem.core.query_types import InstanceSummary
from robomem.ros.converters import POINTCLOUD_FIELDS, set_stamp, xyzrgb_cloud_bytes


def cloud_msg(points: np.ndarray, colors: np.ndarray, frame_id: str, stamp_ns: int, max_points: int) -> Any:
    """(N,3) float32 points + (N,3) uint8 colours -> PointCloud2, evenly subsampled to ``max_points``."""
    from sensor_msgs.msg import PointCloud2, PointField

    if len(points) > max_points:
        idx = np.linspace(0, len(points) - 1, max_points).astype(np.int64)
        points, colors = points[idx], colors[idx]
    cloud = PointCloud2()
    cloud.header.frame_id = frame_id
    set_stamp(cloud.header.stamp, stamp_ns)
    cloud.height, cloud.width = 1, len(points)
    cloud.fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1) for n, o in POINTCLOUD_FIELDS]
    cloud.is_bigendian, cloud.point_step, cloud.row_step = False, 16, 16 * len(points)
    cloud.is_dense = True
    cloud.data = xyzrgb_cloud_bytes(points, colors)
    return cloud


def markers_msg(instances: Sequence[InstanceSummary], frame_id: str, stamp_ns: int) -> Any:
    """A DELETEALL, then a translucent box and a text label per instance."""
    from visualization_msgs.msg import Marker, MarkerArray

    markers = MarkerArray()
    clear = Marker()
    clear.action = Marker.DELETEALL
    markers.markers.append(clear)
    for inst in instances:
        lo, hi = np.array(inst.box.min_xyz), np.array(inst.box.max_xyz)
        for k, mtype in enumerate((Marker.CUBE, Marker.TEXT_VIEW_FACING)):
            m = Marker()
            m.header.frame_id = frame_id
            set_stamp(m.header.stamp, stamp_ns)
            m.ns = "robomem/" + ("boxes" if k == 0 else "labels")
            m.id = int(inst.instance_id) & 0x7FFFFFFF  # Marker.id is int32
            m.type, m.action = mtype, Marker.ADD
            c = (lo + hi) / 2.0 if k == 0 else np.array([*inst.position[:2], hi[2] + 0.15])
            m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in c)
            size = np.maximum(hi - lo, 0.02) if k == 0 else np.array([0.0, 0.0, 0.15])
            m.scale.x, m.scale.y, m.scale.z = (float(v) for v in size)
            m.color.r, m.color.g, m.color.b, m.color.a = (0.2, 0.8, 0.2, 0.4) if k == 0 else (1.0, 1.0, 1.0, 1.0)
            if k == 1:
                m.text = f"{inst.label or inst.kind.value} #{inst.instance_id}"
            markers.markers.append(m)
    return markers
