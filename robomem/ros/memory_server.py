"""``robomem-memory-server``: one node that ingests the camera streams AND serves the memory.

The memory lives in the server process, so ingest and queries share it without copies. The camera + TF
subscriptions, stamp pairing and decoding run in a child process (:mod:`robomem.ros.intake`,
``intake_process: true``, the default) that hands complete frames to the server over a pipe: the ~150
camera/TF messages a second never take the server's GIL or its executor, so requests are answered as they
come. In the server, a bounded drop-oldest :class:`~robomem.ros.ingest.IngestWorker` thread runs the frame
steps (:attr:`frame_steps`, e.g. a perception front end) and ``memory.ingest``; services (an executor that
then does nothing else) answer from a consistent snapshot; the voxel cloud + object markers for RViz,
diagnostics and periodic saves (exponential backoff after a failure) run on their own threads. With
``intake_process: false`` the subscriptions are in the server process. SIGINT/SIGTERM: the
intake flushes, the queued frames are ingested, the memory is saved (``save_on_shutdown``), the node exits 0
(1 if that save failed).

Faults never kill the node: every subscription, timer and service callback runs through
:meth:`~robomem.ros.health.FaultLog.guard` (caught, logged throttled, counted, reported as an ERROR status on
/diagnostics with the reason), and the node keeps serving. Camera and TF stamps far ahead of the newest frame
and of the node's clock (``ingest.max_future_s``) are rejected before they can poison pairing or TF.

Extending it: :meth:`MemoryServerNode.subscribe` adds a guarded subscription (e.g. a ``~/actions`` topic),
:attr:`MemoryServerNode.frame_steps` adds steps run on each frame before ``memory.ingest``.

Names (node ``robomem``; put it in a namespace with the launch file):
  subscriptions  rgb/image, depth/image, rgb/camera_info [, segmentation], /tf, /tf_static,
                 ~/actions (robomem_interfaces/ActionEvent: the robot's own pick/place, RELIABLE)
  services       ~/locate ~/last_seen ~/where_at ~/history ~/changes ~/count ~/relations ~/state_at
                 ~/get_keyframes ~/room_visits ~/actions ~/list_instances ~/get_info ~/save ~/load ~/reset
  publishers     ~/voxel_cloud (PointCloud2 xyz+rgb), ~/objects (MarkerArray), /diagnostics

``robomem-ingest-node`` is the same node with ``enable_services:=false`` by default (record a memory to
disk without serving it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from robomem.core.atomic_store import previous_of
from robomem.core.query_types import QueryStatus
from robomem.core.types import Frame, IngestStats
from robomem.encoders.base import create_encoder
from robomem.errors import ConfigError, PerceptionError, RobomemError
from robomem.ros import diagnostics, params, viz
from robomem.ros import msg_convert as mc
from robomem.ros.converters import set_stamp, stamp_to_ns
from robomem.ros.health import FaultLog, Periodic, SaveScheduler
from robomem.ros.ingest import IngestWorker, ThrottledLog
from robomem.ros.intake import CAMERA_TOPICS, IntakeProcess, IntakeSpec, child_ros_args
from robomem.ros.msg_convert import interfaces
from robomem.ros.pipeline import FramePipeline, Rejection
from robomem.ros.services import SERVICES, MemoryHost, MemoryServices

log = logging.getLogger("robomem.ros.memory_server")

def setup_logging() -> None:
    level = os.environ.get("ROBOMEM_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="[%(levelname)s] [%(asctime)s] [%(name)s]: %(message)s",
        stream=sys.stderr,
    )


def _memory_has_save(directory: str) -> bool:
    """A save (or the previous one, left by a save killed mid-swap) exists at ``directory``."""
    p = Path(directory).expanduser()
    try:
        return (p.is_dir() and any(p.iterdir())) or previous_of(p).is_dir()
    except OSError:
        return True  # let the load say what is wrong


class MemoryServerNode:
    """Wraps an rclpy Node (composition keeps rclpy out of the class hierarchy the tests import)."""

    def __init__(self, node_name: str = "robomem", enable_services_default: bool = True,
                 argv: Optional[Sequence[str]] = None) -> None:
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        self.node = Node(node_name)
        params.declare(self.node, {"enable_services": enable_services_default})
        self.cfg, self.mem_cfg = params.read(self.node)  # ConfigError -> main exits 2
        self.cfg.validate()
        self._throttle = ThrottledLog(log, self.cfg.log_throttle_s)
        self.faults = FaultLog(log, self.cfg.log_throttle_s)
        self._closed = False
        self._lock = threading.Lock()  # pipeline state (callbacks are in one group, but timers read it)

        regions = params.load_regions(self.cfg.regions_file)
        encoder = create_encoder(self.mem_cfg.encoder)
        self.front_end = self._build_front_end(encoder)  # ConfigError/PerceptionError -> main exits 2
        self.host = MemoryHost(self.mem_cfg, encoder, regions, self.cfg.save_directory,
                               pipeline=self.front_end.pipeline() if self.front_end is not None else None)
        if self.cfg.load_on_start and _memory_has_save(self.cfg.save_directory):
            note = self.host.load()  # PersistenceError -> main exits 2: never overwrite what cannot be read
            (log.warning if "previous" in note else log.info)("load_on_start: %s", note)

        pipe_cfg = dataclasses.replace(self.cfg.pipeline(), max_future_s=self.mem_cfg.ingest.max_future_s)
        self.pipeline = FramePipeline(pipe_cfg, clock=self.now_ns)
        self.frame_steps: list[Callable[[Frame], Frame]] = []
        """Run in order on each frame (worker thread) before ``memory.ingest``; a FrameError rejects it."""
        if self.front_end is not None:
            self.frame_steps.append(self._perceive)
        self.worker = IngestWorker(self._ingest_frame, queue_size=self.cfg.ingest_queue_size,
                                   throttle_s=self.cfg.log_throttle_s,
                                   on_error=lambda m: self.faults.record("ingest", m, quiet=True),
                                   nice=self.cfg.ingest_nice)
        self.handlers = MemoryServices(self.host, frame_id=self.cfg.world_frame, extra_stats=self.ingest_counters)
        self.saves = (SaveScheduler(self.cfg.save_period_s, self.cfg.save_max_backoff_s)
                      if self.cfg.save_period_s > 0 else None)

        node = self.node
        self.ingest_group = MutuallyExclusiveCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._periodic: list[Periodic] = []
        self.camera_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.cfg.camera_qos_depth,
            reliability=ReliabilityPolicy.RELIABLE if self.cfg.camera_reliable else ReliabilityPolicy.BEST_EFFORT,
        )
        tf_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        tf_static_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )

        self.intake: Optional[IntakeProcess] = None
        if self.cfg.enable_ingest and self.cfg.intake_process:
            self.intake = IntakeProcess(
                IntakeSpec(node.get_name(), child_ros_args(argv or sys.argv), pipe_cfg, self.cfg.camera_qos_depth,
                           self.cfg.camera_reliable, node.resolve_topic_name("~/actions"),
                           bool(node.get_parameter("use_sim_time").value), self.cfg.log_throttle_s),
                on_frame=self.worker.submit, on_action=self._record_event,
                on_fault=lambda source, message: self.faults.record(source, message, quiet=True))
        elif self.cfg.enable_ingest:
            from sensor_msgs.msg import CameraInfo, Image
            from tf2_msgs.msg import TFMessage

            p, qos = self.pipeline, self.camera_qos
            self.subscribe(Image, CAMERA_TOPICS["rgb"], "rgb", qos, p.add_rgb)
            self.subscribe(Image, CAMERA_TOPICS["depth"], "depth", qos, p.add_depth)
            self.subscribe(CameraInfo, CAMERA_TOPICS["info"], "camera_info", qos, p.add_camera_info)
            if self.cfg.use_segmentation:
                self.subscribe(interfaces().InstanceSegmentation, CAMERA_TOPICS["seg"], "segmentation", qos,
                               p.add_segmentation)
            self.node.create_subscription(interfaces().ActionEvent, "~/actions", self._on_action, tf_qos,
                                          callback_group=self.ingest_group)
            self.subscribe(TFMessage, "/tf", "tf", tf_qos, lambda m: p.add_tf(m, static=False))
            self.subscribe(TFMessage, "/tf_static", "tf_static", tf_static_qos, lambda m: p.add_tf(m, static=True))

        if self.cfg.enable_services:
            srv = interfaces("srv")
            for spec in SERVICES:
                node.create_service(getattr(srv, spec.srv), f"~/{spec.name}",
                                    self._service(spec.name, getattr(self.handlers, spec.handler)),
                                    callback_group=self._service_group)

        self._cloud_pub = self._marker_pub = self._diag_pub = None
        if self.cfg.publish_period_s > 0:
            from sensor_msgs.msg import PointCloud2
            from visualization_msgs.msg import MarkerArray

            self._cloud_pub = node.create_publisher(PointCloud2, "~/voxel_cloud", 1)
            self._marker_pub = node.create_publisher(MarkerArray, "~/objects", 1)
            self.timer(self.cfg.publish_period_s, "publish_viz", self._publish_viz)
        if self.cfg.diagnostics_period_s > 0:
            from diagnostic_msgs.msg import DiagnosticArray

            self._diag_pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
            self.timer(self.cfg.diagnostics_period_s, "diagnostics", self._publish_diagnostics)
        if self.saves is not None:
            self.timer(min(self.cfg.save_period_s, 1.0), "periodic_save", self._periodic_save)
        if self.intake is not None and not self.intake.wait_ready(120.0):
            log.warning("the camera intake process is not up after 120 s; frames are taken once it is")
        log.info(
            "robomem memory server up: world_frame=%s ingest=%s services=%s save_directory=%r encoder=%s",
            self.cfg.world_frame, self.cfg.enable_ingest, self.cfg.enable_services, self.cfg.save_directory,
            self.mem_cfg.encoder.backend,
        )

    # ------------------------------------------------------------------------------------------ wiring
    def now_ns(self) -> int:
        """The node's clock (sim time when use_sim_time; 0 before the first /clock)."""
        return int(self.node.get_clock().now().nanoseconds)

    def subscribe(self, msg_type: Any, topic: str, name: str, qos: Any, handler: Callable[[Any], list[Any]],
                  group: Any = None) -> Any:
        """A subscription whose ``handler(msg)`` returns frames / rejections for the ingest queue; malformed
        messages (RobomemError) are logged (throttled) as rejections, anything else is a recorded fault."""

        def callback(msg: Any) -> None:
            self.faults.guard(name, self._handle, handler, msg, name)

        return self.node.create_subscription(msg_type, topic, callback, qos,
                                             callback_group=group or self.ingest_group)

    def timer(self, period_s: float, name: str, fn: Callable[[], Any]) -> Periodic:
        """``fn`` every ``period_s`` on its own thread (not on the executor: services never wait for it); a
        failing call is recorded and does not stop the timer or the node. Stopped by :meth:`close`."""
        task = Periodic(period_s, name, fn, self.faults.guard)
        self._periodic.append(task)
        return task

    def _service(self, name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def callback(request: Any, response: Any) -> Any:
            try:
                return handler(request, response)
            except Exception as exc:  # the handlers answer errors themselves; this is the last resort
                self.faults.record(f"service {name}", f"{type(exc).__name__}: {exc}", exc_info=True)
                try:
                    mc.set_status(response, QueryStatus.ERROR, f"internal error in {name}: {exc}")
                except Exception:
                    pass
                return response

        return callback

    # ------------------------------------------------------------------------------------------ ingest
    def _handle(self, handler: Callable[[Any], list[Any]], msg: Any, name: str) -> None:
        try:
            with self._lock:
                outputs = handler(msg)
        except RobomemError as exc:
            self._throttle.warning(name, f"{name} message rejected: {exc}")
            return
        for out in outputs:
            if isinstance(out, Rejection):
                self._throttle.warning(out.reason.value, f"frame rejected ({out.reason.value}): {out.message}")
            else:
                self.worker.submit(out)

    def _on_action(self, msg: Any) -> None:
        self.faults.guard("actions", self._record_action, msg)

    def _record_action(self, msg: Any) -> None:
        """Convert (the gripper pose into the world frame through TF when it is given in another frame) and
        record it; a malformed event is logged (throttled) and counted by the memory. Not queued: actions are
        facts, never dropped; a segment hint with a frame_stamp waits in the memory for that frame."""
        try:
            frame = msg.header.frame_id.strip().lstrip("/")
            world_T_frame = None
            if frame and frame != self.cfg.world_frame.lstrip("/"):
                with self._lock:
                    world_T_frame = self.pipeline.tf.lookup(self.cfg.world_frame, frame, stamp_to_ns(msg.header.stamp))
            event = mc.action_event_from_msg(msg, world_T_frame)
        except RobomemError as exc:
            self._throttle.warning("actions", f"action event rejected: {exc}")
            return
        self._record_event(event)  # outside self._lock: the memory lock is taken after it elsewhere

    def _record_event(self, event: Any) -> None:
        """Record a converted action event; one the memory rejects is logged (throttled) and counted by it."""
        try:
            self.host.reads.record_action(event)
        except RobomemError as exc:
            self._throttle.warning("actions", f"action event rejected: {exc}")

    def _build_front_end(self, encoder: Any) -> Any:
        """The perception front end of the ``perception.*`` parameters (None for backend "none")."""
        from robomem.perception.base import create_front_end

        pcfg = params.read_perception(self.node)
        if pcfg.backend == "none":
            return None
        front_end = create_front_end(pcfg, encoder)
        log.info("perception front end: %s", front_end.name)
        return front_end

    def _perceive(self, frame: Frame) -> Frame:
        """Frame step: the front end's segments/labels; a failing model leaves the frame un-annotated (its
        geometry is still ingested), logged (throttled) and counted in /diagnostics."""
        try:
            return self.front_end(frame)
        except PerceptionError as exc:
            self._throttle.warning("perception", f"perception failed, frame ingested without segments: {exc}")
            return frame

    def _ingest_frame(self, frame: Frame) -> IngestStats:
        for step in self.frame_steps:
            frame = step(frame)
        return self.host.reads.ingest(frame)

    def ingest_counters(self) -> dict[str, int]:
        if self.intake is not None:
            out = self.intake.counters()
        else:
            with self._lock:
                out = dict(self.pipeline.counters())
        out.update({f"ingest_{k}": v for k, v in self.worker.counters.items()})
        out["ingest_pending"] = self.worker.pending()
        out.update(self.faults.counts())
        out.update(self.host.reads.counters)
        out["snapshot_copy_us"] = int(self.host.reads.last_copy_ms * 1000)
        return out

    # ------------------------------------------------------------------------------------------ timers
    def _publish_viz(self) -> None:
        if not self.node.context.ok():
            return  # shutting down
        points, colors = self.host.memory.voxel_cloud()
        insts = self.host.reads.instances(include_vanished=False)
        now = self.now_ns()
        assert self._cloud_pub is not None and self._marker_pub is not None
        self._cloud_pub.publish(viz.cloud_msg(points, colors, self.cfg.world_frame, now, self.cfg.max_cloud_points))
        self._marker_pub.publish(viz.markers_msg(insts, self.cfg.world_frame, now))

    def _publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        if not self.node.context.ok():
            return  # shutting down
        statuses = [
            diagnostics.ingest_status(self.ingest_counters(), self.host.memory.stats(), self.worker.rate_hz()),
            diagnostics.persistence_status(self.cfg.save_directory, self.saves, time.monotonic()),
            diagnostics.node_status(self.faults),
        ]
        if self.front_end is not None:
            st = self.front_end.stats
            alive = max(time.monotonic() - st.started, 1e-9)
            statuses.append(diagnostics.perception_status(self.front_end.name, st.as_dict(), st.frames / alive,
                                                          st.last_error))
        arr = DiagnosticArray()
        set_stamp(arr.header.stamp, self.now_ns())
        for s in statuses:
            st = DiagnosticStatus()
            st.name = f"{self.node.get_fully_qualified_name()}: {s.name}"
            st.hardware_id = "robomem"
            st.level = bytes([s.level])
            st.message = s.message
            st.values = [KeyValue(key=k, value=v) for k, v in sorted(s.values.items())]
            arr.status.append(st)
        assert self._diag_pub is not None
        self._diag_pub.publish(arr)

    def _periodic_save(self) -> None:
        assert self.saves is not None
        if not self.saves.due():
            return
        try:
            path = self.host.save()
        except Exception as exc:  # PersistenceError (disk full, unwritable, not a memory) or a bug
            retry = self.saves.failed(f"{type(exc).__name__}: {exc}")
            self.faults.record("periodic_save", f"{exc}; retrying in {retry:.0f} s (the last complete save is intact)",
                               exc_info=not isinstance(exc, RobomemError))
            return
        self.saves.succeeded(str(path))
        log.info("periodic save to %s", path)

    # ------------------------------------------------------------------------------------------ shutdown
    def close(self) -> bool:
        """Ingest what is queued, save (save_on_shutdown), destroy the node. Idempotent. False when the final
        save failed (the previous complete save is intact)."""
        if self._closed:
            return True
        self._closed = True
        ok = True
        for task in self._periodic:
            task.stop()
        if self.intake is not None and not self.intake.stop():
            log.warning("the camera intake process did not flush in time; its last frames are lost")
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
            except Exception as exc:
                ok = False
                log.error("final save failed (the previous complete save is intact): %s", exc,
                          exc_info=not isinstance(exc, RobomemError))
        self.node.destroy_node()
        return ok


def run(node_name: str, enable_services_default: bool, argv: Optional[Sequence[str]] = None) -> int:
    import rclpy
    from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    setup_logging()
    # The ingest thread runs Python between torch calls; a query waiting for the GIL would wait up to the
    # switch interval (5 ms by default) at every hand-over. 1 ms keeps query latency low at a small cost.
    sys.setswitchinterval(0.001)
    # SIGINT/SIGTERM are handled here, not by rclpy's handler: under a camera flood the executor was once seen
    # not to return from spin() after rclpy's handler ran (the node never shut down). A Python handler sets an
    # event and the main thread spins in short slices, so a stop request is seen within ~0.2 s.
    stop_requested = threading.Event()
    rclpy.init(args=list(argv) if argv is not None else None, signal_handler_options=SignalHandlerOptions.NO)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():  # (signal handlers: main thread only)
        previous = {sig: signal.signal(sig, lambda *_: stop_requested.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    server: Optional[MemoryServerNode] = None
    rc = 0
    try:
        try:
            server = MemoryServerNode(node_name, enable_services_default, argv)
        except (ConfigError, RobomemError) as exc:
            log.error("cannot start: %s", exc)
            return 2
        # With the camera intake in its own process this executor only serves requests (timers run on their
        # own threads, MemoryServerNode.timer): by default (service_threads 0 = auto) a SingleThreadedExecutor
        # then answers each request on the thread that waited for it. A MultiThreadedExecutor hands every
        # request to a pool thread while its spinning thread rebuilds the wait set in Python (holding the GIL
        # the handler needs): Locate under the bench_ros flood measured p95 8.4-13 ms with 4 threads vs
        # 6.9-9.8 ms with 1, idle p95 6.7-8.3 vs 3.9-4.7 ms. With intake_process false it keeps the in-process
        # subscriptions beside the services (auto: 4 threads). SaveMemory blocks the other services either
        # way (one mutually exclusive group).
        threads = server.cfg.executor_threads()
        executor: Executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
        executor.add_node(server.node)
        try:
            while not stop_requested.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=0.2)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass  # the context was shut down from outside: close as for a signal
        finally:
            executor.shutdown(timeout_sec=2.0)
        log.info("shutting down")
    finally:
        if server is not None and not server.close():
            rc = 1
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return rc


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run("robomem", True, argv if argv is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
