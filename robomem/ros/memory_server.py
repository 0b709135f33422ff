"""``robomem-memory-server``: one process that ingests the camera streams AND serves the memory.

The memory lives in-process, so ingest and queries share it without copies: camera + TF callbacks only
pair, convert and enqueue (:class:`~robomem.ros.pipeline.FramePipeline`, bounded drop-oldest
:class:`~robomem.ros.ingest.IngestWorker`); a worker thread calls ``memory.ingest``; services (their own
callback group on a MultiThreadedExecutor) answer from a consistent snapshot (the memory's lock). Timers
publish the voxel cloud + object markers for RViz, diagnostics, and save periodically. SIGINT/SIGTERM:
the queued frames are ingested, the memory is saved (``save_on_shutdown``), the node exits 0.

Names (node ``robomem``; put it in a namespace with the launch file):
  subscriptions  rgb/image, depth/image, rgb/camera_info [, segmentation], /tf, /tf_static
  services       ~/locate ~/last_seen ~/where_at ~/history ~/changes ~/count ~/relations ~/state_at
                 ~/get_keyframes ~/room_visits ~/list_instances ~/get_info ~/save ~/load ~/reset
  publishers     ~/voxel_cloud (PointCloud2 xyz+rgb), ~/objects (MarkerArray), /diagnostics

``robomem-ingest-node`` is the same node with ``enable_services:=false`` by default (record a memory to
disk without serving it).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from robomem.encoders.base import create_encoder
from robomem.errors import ConfigError, RobomemError
from robomem.ros import params
from robomem.ros.converters import set_stamp, xyzrgb_cloud_bytes
from robomem.ros.ingest import IngestWorker, ThrottledLog
from robomem.ros.msg_convert import interfaces
from robomem.ros.pipeline import FramePipeline, Rejection
from robomem.ros.services import SERVICES, MemoryHost, MemoryServices

log = logging.getLogger("robomem.ros.memory_server")

CAMERA_TOPICS = {"rgb": "rgb/image", "depth": "depth/image", "info": "rgb/camera_info", "seg": "segmentation"}
"""Relative topic names the node subscribes to (remap them, see launch/robomem.launch.py presets)."""


def setup_logging() -> None:
    level = os.environ.get("ROBOMEM_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="[%(levelname)s] [%(asctime)s] [%(name)s]: %(message)s",
        stream=sys.stderr,
    )


def _memory_has_save(directory: str) -> bool:
    p = Path(directory)
    return p.is_dir() and any(p.iterdir())


class MemoryServerNode:
    """Wraps an rclpy Node (composition keeps rclpy out of the class hierarchy the tests import)."""

    def __init__(self, node_name: str = "robomem", enable_services_default: bool = True) -> None:
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        from rclpy.node import Node
        from rclpy.qos import (
            DurabilityPolicy,
            HistoryPolicy,
            QoSProfile,
            ReliabilityPolicy,
        )

        self.node = Node(node_name)
        params.declare(self.node, {"enable_services": enable_services_default})
        self.cfg, self.mem_cfg = params.read(self.node)  # ConfigError -> main exits 2
        self.cfg.validate()
        self._throttle = ThrottledLog(log, self.cfg.log_throttle_s)
        self._closed = False
        self._lock = threading.Lock()  # pipeline state (callbacks are in one group, but timers read it)

        regions = params.load_regions(self.cfg.regions_file)
        encoder = create_encoder(self.mem_cfg.encoder)
        self.host = MemoryHost(self.mem_cfg, encoder, regions, self.cfg.save_directory)
        if self.cfg.load_on_start and _memory_has_save(self.cfg.save_directory):
            self.host.load(self.cfg.save_directory)  # PersistenceError -> main exits 2: never overwrite it
            log.info("loaded the memory saved in %s", self.cfg.save_directory)

        self.pipeline = FramePipeline(self.cfg.pipeline())
        self.worker = IngestWorker(self.host.memory.ingest, queue_size=self.cfg.ingest_queue_size,
                                   throttle_s=self.cfg.log_throttle_s)
        self.handlers = MemoryServices(self.host, frame_id=self.cfg.world_frame, extra_stats=self.ingest_counters)

        node = self.node
        self._ingest_group = MutuallyExclusiveCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        cam_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.cfg.camera_qos_depth,
            reliability=ReliabilityPolicy.RELIABLE if self.cfg.camera_reliable else ReliabilityPolicy.BEST_EFFORT,
        )
        tf_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        tf_static_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )

        if self.cfg.enable_ingest:
            from sensor_msgs.msg import CameraInfo, Image
            from tf2_msgs.msg import TFMessage

            g = self._ingest_group
            node.create_subscription(Image, CAMERA_TOPICS["rgb"], self._on_rgb, cam_qos, callback_group=g)
            node.create_subscription(Image, CAMERA_TOPICS["depth"], self._on_depth, cam_qos, callback_group=g)
            node.create_subscription(CameraInfo, CAMERA_TOPICS["info"], self._on_info, cam_qos, callback_group=g)
            if self.cfg.use_segmentation:
                node.create_subscription(interfaces().InstanceSegmentation, CAMERA_TOPICS["seg"], self._on_seg,
                                         cam_qos, callback_group=g)
            node.create_subscription(TFMessage, "/tf", self._on_tf, tf_qos, callback_group=g)
            node.create_subscription(TFMessage, "/tf_static", self._on_tf_static, tf_static_qos, callback_group=g)

        if self.cfg.enable_services:
            srv = interfaces("srv")
            for spec in SERVICES:
                node.create_service(getattr(srv, spec.srv), f"~/{spec.name}", getattr(self.handlers, spec.handler),
                                    callback_group=self._service_group)

        self._cloud_pub = self._marker_pub = self._diag_pub = None
        if self.cfg.publish_period_s > 0:
            from sensor_msgs.msg import PointCloud2
            from visualization_msgs.msg import MarkerArray

            self._cloud_pub = node.create_publisher(PointCloud2, "~/voxel_cloud", 1)
            self._marker_pub = node.create_publisher(MarkerArray, "~/objects", 1)
            node.create_timer(self.cfg.publish_period_s, self._publish_viz, callback_group=self._timer_group)
        if self.cfg.diagnostics_period_s > 0:
            from diagnostic_msgs.msg import DiagnosticArray

            self._diag_pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
            node.create_timer(self.cfg.diagnostics_period_s, self._publish_diagnostics,
                              callback_group=self._timer_group)
        if self.cfg.save_period_s > 0:
            node.create_timer(self.cfg.save_period_s, self._periodic_save, callback_group=self._timer_group)
        log.info(
            "robomem memory server up: world_frame=%s ingest=%s services=%s save_directory=%r encoder=%s",
            self.cfg.world_frame, self.cfg.enable_ingest, self.cfg.enable_services, self.cfg.save_directory,
            self.mem_cfg.encoder.backend,
        )

    # ------------------------------------------------------------------------------------------ ingest
    def _feed(self, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, Rejection):
                self._throttle.warning(out.reason.value, f"frame rejected ({out.reason.value}): {out.message}")
            else:
                self.worker.submit(out)

    def _guarded(self, fn: Any, msg: Any, what: str) -> None:
        try:
            with self._lock:
                outputs = fn(msg)
            self._feed(outputs)
        except RobomemError as exc:
            self._throttle.warning(what, f"{what} message rejected: {exc}")
        except Exception:  # a malformed message must never kill the node
            log.exception("unexpected error handling a %s message", what)

    def _on_rgb(self, msg: Any) -> None:
        self._guarded(self.pipeline.add_rgb, msg, "rgb")

    def _on_depth(self, msg: Any) -> None:
        self._guarded(self.pipeline.add_depth, msg, "depth")

    def _on_info(self, msg: Any) -> None:
        self._guarded(self.pipeline.add_camera_info, msg, "camera_info")

    def _on_seg(self, msg: Any) -> None:
        self._guarded(self.pipeline.add_segmentation, msg, "segmentation")

    def _on_tf(self, msg: Any) -> None:
        self._guarded(lambda m: self.pipeline.add_tf(m, static=False), msg, "tf")

    def _on_tf_static(self, msg: Any) -> None:
        self._guarded(lambda m: self.pipeline.add_tf(m, static=True), msg, "tf_static")

    def ingest_counters(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.pipeline.counters())
        out.update({f"ingest_{k}": v for k, v in self.worker.counters.items()})
        out["ingest_pending"] = self.worker.pending()
        return out

    # ------------------------------------------------------------------------------------------ timers
    def _stamp_now(self, stamp: Any) -> None:
        set_stamp(stamp, self.node.get_clock().now().nanoseconds)

    def _publish_viz(self) -> None:
        from sensor_msgs.msg import PointCloud2, PointField
        from visualization_msgs.msg import Marker, MarkerArray

        try:
            points, colors = self.host.memory.voxel_cloud()
            insts = self.host.memory.instances(include_vanished=False)
        except Exception:
            log.exception("could not read the memory for visualisation")
            return
        if len(points) > self.cfg.max_cloud_points:
            idx = np.linspace(0, len(points) - 1, self.cfg.max_cloud_points).astype(np.int64)
            points, colors = points[idx], colors[idx]
        cloud = PointCloud2()
        cloud.header.frame_id = self.cfg.world_frame
        self._stamp_now(cloud.header.stamp)
        cloud.height, cloud.width = 1, len(points)
        cloud.fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
                        for n, o in (("x", 0), ("y", 4), ("z", 8), ("rgb", 12))]
        cloud.is_bigendian, cloud.point_step, cloud.row_step = False, 16, 16 * len(points)
        cloud.is_dense = True
        cloud.data = xyzrgb_cloud_bytes(points, colors)
        assert self._cloud_pub is not None and self._marker_pub is not None
        self._cloud_pub.publish(cloud)

        markers = MarkerArray()
        clear = Marker()
        clear.action = Marker.DELETEALL
        markers.markers.append(clear)
        for inst in insts:
            lo, hi = np.array(inst.box.min_xyz), np.array(inst.box.max_xyz)
            for k, mtype in enumerate((Marker.CUBE, Marker.TEXT_VIEW_FACING)):
                m = Marker()
                m.header.frame_id = self.cfg.world_frame
                self._stamp_now(m.header.stamp)
                m.ns = "robomem/" + ("boxes" if k == 0 else "labels")
                m.id = int(inst.instance_id)
                m.type, m.action = mtype, Marker.ADD
                c = (lo + hi) / 2.0 if k == 0 else np.array([*inst.position[:2], hi[2] + 0.15])
                m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in c)
                size = np.maximum(hi - lo, 0.02) if k == 0 else np.array([0.0, 0.0, 0.15])
                m.scale.x, m.scale.y, m.scale.z = (float(v) for v in size)
                m.color.r, m.color.g, m.color.b, m.color.a = (0.2, 0.8, 0.2, 0.4) if k == 0 else (1.0, 1.0, 1.0, 1.0)
                if k == 1:
                    m.text = f"{inst.label or inst.kind.value} #{inst.instance_id}"
                markers.markers.append(m)
        self._marker_pub.publish(markers)

    def _publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        counters = self.ingest_counters()
        try:
            mem_stats = self.host.memory.stats()
        except Exception:
            mem_stats = {}
        arr = DiagnosticArray()
        self._stamp_now(arr.header.stamp)
        st = DiagnosticStatus()
        st.name = f"{self.node.get_fully_qualified_name()}: ingest"
        st.hardware_id = "robomem"
        rejected = sum(v for k, v in counters.items() if k.startswith("rejected_")) + counters.get(
            "ingest_rejected_memory", 0)
        dropped = counters.get("ingest_dropped_queue_full", 0)
        st.level = DiagnosticStatus.WARN if (rejected or dropped) else DiagnosticStatus.OK
        st.message = (f"{counters.get('ingest_ingested', 0)} frames ingested, {rejected} rejected, "
                      f"{dropped} dropped, {self.worker.rate_hz():.1f} Hz")
        values = {**counters, **{f"memory_{k}": v for k, v in mem_stats.items()},
                  "ingest_rate_hz": f"{self.worker.rate_hz():.2f}"}
        st.values = [KeyValue(key=k, value=str(v)) for k, v in sorted(values.items())]
        arr.status = [st]
        assert self._diag_pub is not None
        self._diag_pub.publish(arr)

    def _periodic_save(self) -> None:
        try:
            path = self.host.save()
            log.info("periodic save to %s", path)
        except RobomemError as exc:
            self._throttle.warning("save", f"periodic save failed (the previous save is intact): {exc}")

    # ------------------------------------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Ingest what is queued, save (save_on_shutdown), destroy the node. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for out in self.pipeline.flush():
                if isinstance(out, Rejection):
                    log.info("at shutdown: %s", out.message)
                else:
                    self.worker.submit(out)
        self.worker.stop(drain=True)
        if self.cfg.save_on_shutdown and self.cfg.save_directory:
            try:
                path = self.host.save()
                log.info("final save to %s (%s)", path, self.host.memory.stats())
            except RobomemError as exc:
                log.error("final save failed (the previous save is intact): %s", exc)
        self.node.destroy_node()


def run(node_name: str, enable_services_default: bool, argv: Optional[Sequence[str]] = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    setup_logging()
    rclpy.init(args=list(argv) if argv is not None else None)
    server: Optional[MemoryServerNode] = None
    try:
        try:
            server = MemoryServerNode(node_name, enable_services_default)
        except (ConfigError, RobomemError) as exc:
            log.error("cannot start: %s", exc)
            return 2
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(server.node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            log.info("shutting down")
        finally:
            executor.shutdown(timeout_sec=2.0)
        return 0
    finally:
        if server is not None:
            server.close()
        rclpy.try_shutdown()


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run("robomem", True, argv if argv is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
