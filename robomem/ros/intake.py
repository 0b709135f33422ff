"""Camera intake in its own process: the high-rate subscriptions never share a GIL with the services.

Measured on the memory server (py-spy, 640x480 RGB-D + camera_info + segmentation + TF at 30 Hz): about 80 %
of the time the GIL was held, it was held by rclpy's Python executor rebuilding its wait set for the ~150
camera/TF messages a second (each message wakes it about three times), not by the ingest or the queries; a
Locate whose own handler took 0.3 ms waited behind that for tens to hundreds of ms, and the executor fell so far
behind that DDS dropped two thirds of the images. So the camera and TF subscriptions, the stamp pairing, the
TF buffer and the message decoding run in a child process (:func:`run_intake`, its own rclpy context and
node ``<name>_intake`` in the same namespace, with the process's remappings) that sends complete
:class:`~robomem.core.types.Frame` objects, converted action events, its counters and its faults over a
pipe; the server process keeps the memory, the ingest thread and the services (:class:`IntakeProcess`).
Nothing is lost silently: the ingest queue counts what it drops, the child's pairing/rejection counters
are reported with the server's (GetInfo, /diagnostics), a child that dies is a recorded fault and is
restarted (with backoff), and at shutdown the child flushes what it still holds before the final save.
No rclpy at import time (the child imports it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import Any, Callable, Optional, Sequence

from robomem.core.types import ActionEvent, Frame
from robomem.ros.pipeline import PipelineConfig

log = logging.getLogger(__name__)

CAMERA_TOPICS = {"rgb": "rgb/image", "depth": "depth/image", "info": "rgb/camera_info", "seg": "segmentation"}
"""Relative topic names of the camera streams (remap them, see launch/robomem.launch.py presets)."""

_PIPE_BYTES = 1 << 20  # F_SETPIPE_SZ: a 640x480 frame crosses in ~2 writes instead of ~25
_F_SETPIPE_SZ = 1031


@dataclasses.dataclass(frozen=True)
class IntakeSpec:
    """What the intake child needs (picklable). ros_args: the server's command line (remappings, namespace,
    log level) without node-name remaps; actions_topic: the fully resolved ``~/actions`` of the server."""

    node_name: str
    ros_args: tuple[str, ...]
    pipeline: PipelineConfig
    camera_qos_depth: int = 5
    camera_reliable: bool = False
    actions_topic: str = ""
    use_sim_time: bool = False
    log_throttle_s: float = 5.0
    counters_period_s: float = 0.1


def child_ros_args(argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` without the program name and without ``__node`` remaps (the child has its own node name)."""
    out: list[str] = []
    args = list(argv[1:])
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-r", "--remap") and i + 1 < len(args) and "__node:=" in args[i + 1]:
            i += 2
            continue
        out.append(a)
        i += 1
    return tuple(out)


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
    except (OSError, ImportError, ValueError):
        pass  # the default pipe size works, with more writes


# ============================================================================================== child side


def run_intake(spec: IntakeSpec, out: Any, control: Any) -> None:
    """Child process main: subscribe, pair, decode, send ``("frame", Frame)``, ``("action", ActionEvent)``,
    ``("counters", dict)``, ``("fault", source, message)``; on ``"stop"`` from ``control`` (or when the server
    is gone) flush, send ``("flushed",)`` and exit. SIGINT is ignored: the server decides when intake ends."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from robomem.ros.entry import tune_malloc

    tune_malloc()
    logging.basicConfig(level=getattr(logging, os.environ.get("ROBOMEM_LOG_LEVEL", "INFO").upper(), logging.INFO),
                        format="[%(levelname)s] [%(asctime)s] [%(name)s]: %(message)s")
    _widen(out.fileno())
    try:
        _Intake(spec, out, control).run()
    except (BrokenPipeError, EOFError, OSError):
        pass  # the server is gone


class _Intake:
    def __init__(self, spec: IntakeSpec, out: Any, control: Any) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        from robomem.ros.health import FaultLog
        from robomem.ros.ingest import ThrottledLog
        from robomem.ros.msg_convert import interfaces
        from robomem.ros.pipeline import FramePipeline

        self.spec, self.out, self.control = spec, out, control
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self.context = rclpy.Context()
        rclpy.init(args=["robomem_intake", *spec.ros_args], context=self.context,
                   signal_handler_options=SignalHandlerOptions.NO)
        overrides = [Parameter("use_sim_time", Parameter.Type.BOOL, True)] if spec.use_sim_time else []
        self.node = Node(f"{spec.node_name}_intake", context=self.context, parameter_overrides=overrides,
                         start_parameter_services=False)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.log = ThrottledLog(log, spec.log_throttle_s)
        self.faults = FaultLog(log, spec.log_throttle_s)
        self.pipeline = FramePipeline(spec.pipeline, clock=self.now_ns)
        self._counters_sent: dict[str, int] = {}

        camera_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=spec.camera_qos_depth,
            reliability=ReliabilityPolicy.RELIABLE if spec.camera_reliable else ReliabilityPolicy.BEST_EFFORT,
        )
        tf_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        tf_static_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                                   reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        p = self.pipeline
        self._sub(Image, CAMERA_TOPICS["rgb"], "rgb", camera_qos, p.add_rgb)
        self._sub(Image, CAMERA_TOPICS["depth"], "depth", camera_qos, p.add_depth)
        self._sub(CameraInfo, CAMERA_TOPICS["info"], "camera_info", camera_qos, p.add_camera_info)
        if spec.pipeline.use_segmentation:
            self._sub(interfaces().InstanceSegmentation, CAMERA_TOPICS["seg"], "segmentation", camera_qos,
                      p.add_segmentation)
        self._sub(TFMessage, "/tf", "tf", tf_qos, lambda m: p.add_tf(m, static=False))
        self._sub(TFMessage, "/tf_static", "tf_static", tf_static_qos, lambda m: p.add_tf(m, static=True))
        if spec.actions_topic:
            self.node.create_subscription(interfaces().ActionEvent, spec.actions_topic,
                                          lambda m: self.faults.guard("actions", self._action, m), tf_qos)
        self.node.create_timer(spec.counters_period_s, lambda: self.faults.guard("counters", self._send_counters))

    def now_ns(self) -> int:
        return int(self.node.get_clock().now().nanoseconds)

    def send(self, item: tuple[Any, ...]) -> None:
        with self._send_lock:
            self.out.send(item)

    def _sub(self, msg_type: Any, topic: str, name: str, qos: Any, handler: Callable[[Any], list[Any]]) -> None:
        def callback(msg: Any) -> None:
            self.faults.guard(name, self._handle, handler, msg, name)

        self.node.create_subscription(msg_type, topic, callback, qos)

    def _handle(self, handler: Callable[[Any], list[Any]], msg: Any, name: str) -> None:
        from robomem.errors import RobomemError

        try:
            outputs = handler(msg)
        except RobomemError as exc:
            self.log.warning(name, f"{name} message rejected: {exc}")
            return
        self._forward(outputs)

    def _forward(self, outputs: list[Any]) -> None:
        from robomem.ros.pipeline import Rejection

        for o in outputs:
            if isinstance(o, Rejection):
                self.log.warning(o.reason.value, f"frame rejected ({o.reason.value}): {o.message}")
            else:
                self.send(("frame", o))

    def _action(self, msg: Any) -> None:
        """Convert (through TF when the pose is in another frame than the world) and send; a malformed event
        is logged here (throttled); the memory validates and counts the rest."""
        from robomem.errors import RobomemError
        from robomem.ros import msg_convert as mc
        from robomem.ros.converters import stamp_to_ns

        try:
            world = self.spec.pipeline.world_frame
            frame = msg.header.frame_id.strip().lstrip("/")
            world_T_frame = None
            if frame and frame != world.lstrip("/"):
                world_T_frame = self.pipeline.tf.lookup(world, frame, stamp_to_ns(msg.header.stamp))
            self.send(("action", mc.action_event_from_msg(msg, world_T_frame)))
        except RobomemError as exc:
            self.log.warning("actions", f"action event rejected: {exc}")

    def _send_counters(self, force: bool = False) -> None:
        c = self.pipeline.counters()
        for src, n in self.faults.counts().items():
            c[f"intake_{src}"] = n
        if force or c != self._counters_sent:
            self.send(("counters", c))
            self._counters_sent = c

    def _watch_control(self) -> None:
        try:
            while self.control.recv() != "stop":
                pass
        except (EOFError, OSError):
            pass  # the server is gone: stop too
        self._stop.set()
        self.executor.wake()

    def run(self) -> None:
        threading.Thread(target=self._watch_control, name="robomem-intake-control", daemon=True).start()
        self.send(("ready", os.getpid()))
        try:
            while not self._stop.is_set():
                self.executor.spin_once(timeout_sec=0.2)
            self._forward(self.pipeline.flush())
            self._send_counters(force=True)
            self.send(("flushed",))
        finally:
            # Leave DDS cleanly, but never let a hung teardown keep the process (and the server's exit) waiting.
            done = threading.Thread(target=self._teardown, daemon=True)
            done.start()
            done.join(3.0)
            self.out.close()
            os._exit(0)

    def _teardown(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


# ============================================================================================= server side


class IntakeProcess:
    """The server's end: starts the child, hands its frames/actions to callbacks, keeps its counters,
    records its faults, restarts it when it dies (backoff 1 s doubling to 30 s).

    Args:
        spec: what the child subscribes to.
        on_frame: called (receiver thread) with each frame, e.g. ``IngestWorker.submit``.
        on_action: called (receiver thread) with each converted action event.
        on_fault: ``(source, message)`` for faults of the child (e.g. ``FaultLog.record(..., quiet=True)``).
    """

    def __init__(self, spec: IntakeSpec, on_frame: Callable[[Frame], Any], on_action: Callable[[ActionEvent], Any],
                 on_fault: Callable[[str, str], Any]) -> None:
        self.spec = spec
        self._on_frame, self._on_action, self._on_fault = on_frame, on_action, on_fault
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._base: dict[str, int] = {}  # counters of children that ended (a restart starts from zero)
        self.restarts = 0
        self.frames_received = 0
        self._stopping = False
        self._flushed = threading.Event()
        self._ready = threading.Event()
        self._proc: Any = None
        self._control: Any = None
        self._thread: Optional[threading.Thread] = None
        self._start()

    def _start(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # never fork a process that runs DDS threads
        recv_end, send_end = ctx.Pipe(duplex=False)
        control_recv, control_send = ctx.Pipe(duplex=False)
        _widen(recv_end.fileno())
        proc = ctx.Process(target=run_intake, args=(self.spec, send_end, control_recv), daemon=True,
                           name=f"{self.spec.node_name}_intake")
        proc.start()
        send_end.close()
        control_recv.close()
        self._proc, self._control = proc, control_send
        self._ready.clear()
        self._thread = threading.Thread(target=self._receive, args=(recv_end, proc), name="robomem-intake",
                                        daemon=True)
        self._thread.start()

    def wait_ready(self, timeout_s: float = 60.0) -> bool:
        """True once the child has subscribed to its topics."""
        return self._ready.wait(timeout_s)

    def _receive(self, conn: Any, proc: Any) -> None:
        handlers: dict[str, Callable[..., None]] = {
            "frame": self._frame, "action": self._action, "counters": self._set_counters,
            "fault": self._on_fault, "ready": lambda pid: self._ready.set(), "flushed": lambda: self._flushed.set(),
        }
        try:
            while True:
                item = conn.recv()
                try:
                    handlers[item[0]](*item[1:])
                except Exception as exc:  # a callback's bug must not stop the intake
                    self._on_fault("intake", f"handling {item[0]!r} from the intake process failed: "
                                   f"{type(exc).__name__}: {exc}")
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
        proc.join(5.0)
        with self._lock:
            for k, v in self._counters.items():
                self._base[k] = self._base.get(k, 0) + v
            self._counters = {}
        if self._stopping:
            self._flushed.set()
            return
        delay = min(30.0, 2.0 ** self.restarts)
        message = (f"the camera intake process exited (code {proc.exitcode}); restarting it in {delay:.0f} s "
                   "(camera messages published meanwhile are not received)")
        log.error("%s", message)
        self._on_fault("intake", message)
        self.restarts += 1
        time.sleep(delay)
        if self._stopping:
            self._flushed.set()  # nothing left to flush: stop() must not wait for it
        else:
            self._start()

    def _frame(self, frame: Frame) -> None:
        self.frames_received += 1
        self._on_frame(frame)

    def _action(self, event: ActionEvent) -> None:
        self._on_action(event)

    def _set_counters(self, counters: dict[str, int]) -> None:
        with self._lock:
            self._counters = dict(counters)

    def counters(self) -> dict[str, int]:
        """The child's pairing/rejection counters (summed over restarts), ``intake_restarts``."""
        with self._lock:
            out = dict(self._base)
            for k, v in self._counters.items():
                if k == "waiting_tf":
                    out[k] = v
                else:
                    out[k] = out.get(k, 0) + v
        out["intake_restarts"] = self.restarts
        return out

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Ask the child to flush what it holds and exit; returns once its last frame was handed on (False
        on timeout: the child is then terminated)."""
        self._stopping = True
        try:
            self._control.send("stop")
        except (OSError, ValueError):
            pass
        ok = self._flushed.wait(timeout_s)
        if self._thread is not None:
            self._thread.join(timeout_s if ok else 1.0)
        if self._proc.is_alive():
            self._proc.join(2.0 if ok else 0.1)
        if self._proc.is_alive():
            log.warning("the camera intake process did not exit; terminating it")
            self._proc.terminate()
            self._proc.join(5.0)
        return ok
