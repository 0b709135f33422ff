"""Helpers to run the installed node executables as subprocesses and to stream the scene into them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import bagtools
import numpy as np
import scene
import yaml

from robomem.ros.converters import depth_to_image_fields
from robomem.ros.presets import remappings

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


class NodeProcess:
    """An installed executable (``robomem-memory-server`` ...) with its output in a log file."""

    def __init__(self, executable: str, args: list[str], log_path: Path, cwd: Optional[Path] = None) -> None:
        exe = BIN / executable
        assert exe.exists(), f"{exe} is not installed: pip install -e ."
        self.log_path = log_path
        self._fh = open(log_path, "wb")
        self.proc = subprocess.Popen([str(exe), *args], stdout=self._fh, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=cwd)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout_s: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"process exited ({self.proc.returncode}) before {pattern!r}:\n{self.log()}")
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not logged within {timeout_s} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"did not stop within {timeout_s} s after signal {sig}:\n{self.log()}") from None
        self._fh.close()
        return rc


def server_args(tmp: Path, save_dir: Path, node_name: str = "robomem", extra: Optional[dict[str, Any]] = None,
                segmentation: bool = True) -> list[str]:
    """--ros-args for a memory server: config/ros.yaml, then a test params file, then the remappings."""
    mem_yaml, regions = scene.write_config_files(tmp)
    params = {
        "encoder.backend": "hash",
        "memory_config_file": str(mem_yaml),
        "regions_file": str(regions),
        "save_directory": str(save_dir),
        "use_segmentation": segmentation,
        "publish_period_s": 0.5,
        "diagnostics_period_s": 0.5,
        "log_throttle_s": 0.0,
        "perception.backend": "none",  # config/ros.yaml's real front end needs weights the tests do not have
        **(extra or {}),
    }
    test_yaml = tmp / f"{node_name}_params.yaml"
    test_yaml.write_text(yaml.safe_dump({f"/**/{node_name}": {"ros__parameters": params}}))
    args = ["--ros-args", "--params-file", str(REPO / "config" / "ros.yaml"), "--params-file", str(test_yaml)]
    for src, dst in remappings("default"):
        args += ["-r", f"{src}:={dst}"]
    args += ["-r", f"segmentation:={bagtools.TOPICS['seg']}"]
    return args


def bad_scene_mutator(bad: dict[int, str]):
    """Mutator for bagtools.scene_events: frame index -> 'missing_tf' | 'bad_encoding' | 'truncated' | 'nan_depth'."""

    def mutate(i: int, role: str, msg: Any) -> Any:
        kind = bad.get(i)
        if kind == "missing_tf" and role == "tf":
            return None
        if kind == "bad_encoding" and role == "rgb":
            msg.encoding = "yuv422"
        if kind == "truncated" and role == "rgb":
            msg.data = bytes(msg.data)[:64]
        if kind == "nan_depth" and role == "depth":
            f = depth_to_image_fields(np.full((msg.height, msg.width), np.nan, np.float32))
            msg.encoding, msg.step, msg.data = f.encoding, f.step, f.data
        return msg

    return mutate


class ScenePublisher:
    """Publishes the scene's messages on an rclpy node like a camera driver + TF would."""

    def __init__(self, node: Any) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from robomem_interfaces.msg import InstanceSegmentation
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pubs = {
            "/tf_static": node.create_publisher(TFMessage, "/tf_static", latched),
            "/tf": node.create_publisher(TFMessage, "/tf", rel),
            bagtools.TOPICS["info"]: node.create_publisher(CameraInfo, bagtools.TOPICS["info"], rel),
            bagtools.TOPICS["depth"]: node.create_publisher(Image, bagtools.TOPICS["depth"], rel),
            bagtools.TOPICS["rgb"]: node.create_publisher(Image, bagtools.TOPICS["rgb"], rel),
            bagtools.TOPICS["seg"]: node.create_publisher(InstanceSegmentation, bagtools.TOPICS["seg"], rel),
        }

    def wait_for_subscribers(self, timeout_s: float = 30.0, with_seg: bool = True) -> None:
        deadline = time.monotonic() + timeout_s
        topics = [t for t in self.pubs if with_seg or t != bagtools.TOPICS["seg"]]
        while time.monotonic() < deadline:
            if all(self.pubs[t].get_subscription_count() > 0 for t in topics):
                return
            time.sleep(0.05)
        raise AssertionError("the memory server did not subscribe to the camera topics")

    def publish(self, events: list[bagtools.Event], period_s: float = 0.03) -> None:
        last_stamp = None
        for stamp, topic, msg in events:
            if last_stamp is not None and stamp != last_stamp:
                time.sleep(period_s)
            last_stamp = stamp
            self.pubs[topic].publish(msg)

    def publish_acked(self, events: list[bagtools.Event], stats: Callable[[], dict[str, str]],
                      timeout_s: float = 60.0) -> None:
        """Publish frame by frame (events grouped by stamp); after each, wait until the node has received
        every message published so far (its ``received_*`` counters) and ingested what it queued. A loaded
        machine makes this slower, never flaky: nothing depends on how long anything takes."""
        sent: Counter[str] = Counter()
        groups: dict[int, list[tuple[str, Any]]] = {}
        for stamp, topic, msg in events:
            groups.setdefault(stamp, []).append((topic, msg))
        for stamp in groups:  # dicts keep insertion (publish) order
            for topic, msg in groups[stamp]:
                self.pubs[topic].publish(msg)
                sent[RECEIVED[topic]] += 1

            def acked() -> bool:
                s = stats()
                return s.get("ingest_pending") == "0" and all(int(s.get(k, "0")) >= n for k, n in sent.items())

            wait_until(acked, timeout_s, f"the node to take the messages stamped {stamp}", interval_s=0.02)


RECEIVED = {"/tf_static": "received_tf_static", "/tf": "received_tf", bagtools.TOPICS["info"]: "received_camera_info",
            bagtools.TOPICS["depth"]: "received_depth", bagtools.TOPICS["rgb"]: "received_rgb",
            bagtools.TOPICS["seg"]: "received_segmentation"}
"""Topic -> the memory server's counter of messages received on it (GetInfo stats, /diagnostics values)."""


class DiagnosticsWatcher:
    """Keeps the newest /diagnostics status of each name (``"<node>: ingest"`` ...) seen by ``node``."""

    def __init__(self, node: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self.latest: dict[str, Any] = {}
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on, 10)

    def _on(self, msg: Any) -> None:
        for st in msg.status:
            self.latest[st.name.rsplit(": ", 1)[-1]] = st

    def status(self, name: str) -> Optional[tuple[int, str, dict[str, str]]]:
        """(level, message, values) of the newest status ``name`` ('ingest', 'persistence', 'node')."""
        st = self.latest.get(name)
        if st is None:
            return None
        level = st.level[0] if isinstance(st.level, (bytes, bytearray)) else int(st.level)
        return level, st.message, {kv.key: kv.value for kv in st.values}


def wait_until(pred: Any, timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
