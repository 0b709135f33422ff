"""rosbag2 (sqlite3 and MCAP) access with the pure-Python ``rosbags`` library: no rclpy needed.

* :func:`ingest_bag` builds a memory offline: it decodes the bag's camera + TF messages and feeds them
  through the same :class:`~robomem.ros.pipeline.FramePipeline` the live node uses (the converters are
  duck-typed, so rosbags-decoded messages work as they are).
* :func:`typestore` is the Jazzy typestore plus robomem_interfaces' and tf2_msgs' types, for reading and
  writing bags that carry them.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from robomem.core.types import Frame
from robomem.errors import FrameError, MemoryStateError, RosError
from robomem.ros.ingest import ThrottledLog
from robomem.ros.pipeline import FramePipeline, PipelineConfig, Rejection
from robomem.ros.presets import TopicPreset

log = logging.getLogger(__name__)

INTERFACE_PACKAGE = "robomem_interfaces"


def msg_dir() -> Optional[Path]:
    """Where robomem's .msg files are: $ROBOMEM_MSG_DIR, the source checkout's msg/, or the built share/."""
    env = os.environ.get("ROBOMEM_MSG_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "msg"
    if repo.is_dir():
        return repo
    try:
        import robomem_interfaces

        pkg = Path(robomem_interfaces.__file__).resolve().parent  # <install>/lib/pythonX.Y/site-packages/<pkg>
        share = pkg.parents[3] / "share" / INTERFACE_PACKAGE / "msg"
        return share if share.is_dir() else None
    except ImportError:
        return None


def typestore() -> Any:
    """rosbags typestore for ROS 2 Jazzy plus ``robomem_interfaces/msg/*``."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    d = msg_dir()
    if d is not None:
        types: dict[str, Any] = {}
        for f in sorted(d.glob("*.msg")):
            types.update(get_types_from_msg(f.read_text(), f"{INTERFACE_PACKAGE}/msg/{f.stem}"))
        store.register(types)
    return store


@dataclass
class BagIngestReport:
    """What :func:`ingest_bag` did. ``rejected`` counts per :class:`~robomem.ros.pipeline.RejectReason` value."""

    bag: str
    messages: Counter[str] = field(default_factory=Counter)
    frames_ingested: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    first_stamp_ns: int = 0
    last_stamp_ns: int = 0
    pipeline: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        rej = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items())) or "none"
        msgs = ", ".join(f"{k}={v}" for k, v in sorted(self.messages.items()))
        span = (self.last_stamp_ns - self.first_stamp_ns) / 1e9
        return (f"{self.bag}: {self.frames_ingested} frame(s) ingested over {span:.1f} s; rejected: {rej}; "
                f"messages read: {msgs}")


def open_reader(path: Path) -> Any:
    from rosbags.highlevel import AnyReader

    if not path.exists():
        raise RosError(f"bag {path} does not exist")
    try:
        reader = AnyReader([path], default_typestore=typestore())
        reader.open()
    except Exception as exc:  # rosbags raises its own reader errors for unknown storage, bad metadata, ...
        raise RosError(f"cannot read bag {path}: {exc} (a rosbag2 directory with sqlite3 or mcap storage?)") from None
    return reader


def ingest_bag(
    path: Union[str, Path],
    ingest: Callable[[Frame], Any],
    topics: TopicPreset,
    config: PipelineConfig,
    max_frames: int = 0,
    throttle_s: float = 5.0,
) -> BagIngestReport:
    """Feed the camera frames of a rosbag2 to ``ingest`` (usually ``memory.ingest``), in bag order.

    Frames the pipeline or the memory rejects are counted per reason and logged (throttled); ingestion goes
    on. Raises RosError when the bag cannot be read or lacks the colour/depth/camera_info topics.
    """
    path = Path(path)
    report = BagIngestReport(str(path))
    reader = open_reader(path)
    try:
        roles: dict[str, str] = {topics.rgb: "rgb", topics.depth: "depth", topics.camera_info: "camera_info",
                                 "/tf": "tf", "/tf_static": "tf_static"}
        if config.use_segmentation:
            if not topics.segmentation:
                raise RosError("use_segmentation needs a segmentation topic (--segmentation-topic)")
            roles[topics.segmentation] = "segmentation"
        present = {c.topic for c in reader.connections}
        missing = [t for t, r in roles.items() if r not in ("tf", "tf_static") and t not in present]
        if missing:
            raise RosError(
                f"bag {path} has no topic(s) {missing}; it has {sorted(present)}. Pick the right --preset or "
                "pass --rgb-topic/--depth-topic/--info-topic"
            )
        conns = [c for c in reader.connections if c.topic in roles]
        log_time = [0]  # the recording time of the message being fed: the bag's clock for future-stamp checks
        pipeline = FramePipeline(config, clock=lambda: log_time[0])
        throttled = ThrottledLog(log, throttle_s)
        feed = {
            "rgb": pipeline.add_rgb,
            "depth": pipeline.add_depth,
            "camera_info": pipeline.add_camera_info,
            "segmentation": pipeline.add_segmentation,
            "tf": lambda m: pipeline.add_tf(m, static=False),
            "tf_static": lambda m: pipeline.add_tf(m, static=True),
        }

        def consume(outputs: list[Any]) -> bool:
            for out in outputs:
                if isinstance(out, Rejection):
                    report.rejected[out.reason.value] += 1
                    throttled.warning(out.reason.value, f"frame rejected ({out.reason.value}): {out.message}")
                    continue
                try:
                    ingest(out)
                except (FrameError, MemoryStateError) as exc:
                    report.rejected["memory"] += 1
                    throttled.warning("memory", f"memory rejected the frame at {out.stamp_ns / 1e9:.3f} s: {exc}")
                    continue
                report.frames_ingested += 1
                report.first_stamp_ns = report.first_stamp_ns or out.stamp_ns
                report.last_stamp_ns = out.stamp_ns
                if max_frames and report.frames_ingested >= max_frames:
                    return False
            return True

        for conn, t_log, raw in reader.messages(connections=conns):
            log_time[0] = int(t_log)
            role = roles[conn.topic]
            report.messages[role] += 1
            try:
                msg = reader.deserialize(raw, conn.msgtype)
            except Exception as exc:
                report.rejected["undecodable"] += 1
                throttled.warning("decode", f"cannot decode a {conn.msgtype} message on {conn.topic}: {exc}")
                continue
            try:
                outputs = feed[role](msg)
            except FrameError as exc:
                report.rejected["bad_tf" if role.startswith("tf") else "bad_image"] += 1
                throttled.warning(role, f"{role} message rejected: {exc}")
                continue
            if not consume(outputs):
                break
        else:
            consume(pipeline.flush())
        report.pipeline = pipeline.counters()
    finally:
        reader.close()
    return report
