"""The camera intake process of the memory server (robomem.ros.intake): frames reach the memory through it,
a killed intake is a recorded fault and comes back, and timers run off the executor."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any, Optional

import bagtools
import nodetools

from robomem.ros.health import FaultLog, Periodic
from robomem.ros.intake import child_ros_args
from robomem.ros.memory_client import RosMemoryClient


def test_child_ros_args_keep_remaps_and_namespace_but_not_the_node_name() -> None:
    argv = ["/bin/robomem-memory-server", "--ros-args", "-r", "__node:=mem", "-r", "__ns:=/robot",
            "--remap", "rgb/image:=/cam/color", "--params-file", "p.yaml", "--remap", "mem:__node:=x"]
    assert child_ros_args(argv) == ("--ros-args", "-r", "__ns:=/robot", "--remap", "rgb/image:=/cam/color",
                                    "--params-file", "p.yaml")


def test_periodic_keeps_calling_after_a_failure_and_stops() -> None:
    import logging

    faults = FaultLog(logging.getLogger("test"), throttle_s=0.0)
    calls: list[int] = []
    done = threading.Event()

    def fn() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        if len(calls) >= 3:
            done.set()

    task = Periodic(0.01, "tick", fn, faults.guard)
    assert done.wait(30)
    task.stop()
    n = len(calls)
    assert faults.counts()["faults_tick"] == 1 and "disk full" in faults.active()[0].message
    assert not task._thread.is_alive() and len(calls) == n


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _subscriber_gids(node: Any, topics: list[str]) -> dict[str, set[bytes]]:
    return {t: {bytes(i.endpoint_gid) for i in node.get_subscriptions_info_by_topic(t)} for t in topics}


def _intake_pid(server_pid: int) -> Optional[int]:
    for pid in _children(server_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmd:
            return pid
    return None


def test_a_killed_intake_is_a_fault_and_comes_back(rclpy_context: Any, tmp_path: Path) -> None:
    import rclpy

    frames = bagtools.scene_frames(4)
    server = nodetools.NodeProcess("robomem-memory-server",
                                   nodetools.server_args(tmp_path, tmp_path / "memory",
                                                         extra={"camera_reliable": True, "ingest_queue_size": 64}),
                                   tmp_path / "server.log")
    node = rclpy.create_node("test_driver", context=rclpy_context)
    client = RosMemoryClient(node, "/robomem", timeout_s=30.0)
    try:
        server.wait_for_log("memory server up")
        events = list(bagtools.scene_events(bagtools.Builder("rclpy"), frames))
        pub = nodetools.ScenePublisher(node)
        pub.wait_for_subscribers()
        first = [e for e in events if e[0] <= frames[1].stamp_ns]
        pub.publish_acked(first, client.stats)
        assert client.stats()["frames_ingested"] == "2"

        topics = list(pub.pubs)
        before = _subscriber_gids(node, topics)
        old = _intake_pid(server.proc.pid)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        stats = nodetools.wait_until(lambda: (s := client.stats())["intake_restarts"] == "1" and s, 60,
                                     "the intake restarted")
        assert int(stats["faults_intake"]) >= 1 and int(stats["received_rgb"]) >= 2, stats  # counted before too
        assert server.proc.poll() is None
        new = nodetools.wait_until(lambda: _intake_pid(server.proc.pid), 60, "the new intake process")
        assert new != old
        nodetools.wait_until(lambda: "camera intake process exited" in server.log(), 10, "the fault in the log")
        # the new process's subscriptions (new DDS endpoints) are matched: the rest of the frames reach it
        nodetools.wait_until(lambda: all(_subscriber_gids(node, topics)[t] - before[t] for t in topics), 60,
                             "the new intake's subscriptions")
        pub.publish([e for e in events if e[0] > frames[1].stamp_ns], period_s=0.1)
        nodetools.wait_until(lambda: client.stats()["frames_ingested"] == "4", 60, "the last two frames")
    finally:
        rc = server.stop(signal.SIGINT)
        client.close()
        node.destroy_node()
    assert rc == 0, server.log()
