"""The memory server under faults and hostile input, as a subprocess over real rclpy (loopback, random domain).

Probes of the first version, each of which this reproduces:
* ``save_period_s: 1`` with an unwritable ``save_directory``: the node died (status 1) about 1 s after start.
* ``SaveMemory`` with ``directory: "."`` or a user's directory answered OK and deleted its files.
* a frame stamped ``sec = 2^31-1`` made every later frame "out of order" until a reset, and was saved.
* ``WhereAt`` with ``text`` set and ``instance_id`` at its default 0 answered about instance 0.
* a 1 MB ``Locate`` text was encoded under the memory lock.
* a save killed in its swap window left only ``<name>.previous``, which ``load_on_start`` ignored.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import bagtools
import nodetools
import numpy as np
import scene

from robomem.core.memory import SpatioSemanticMemory
from robomem.core.query_types import QueryStatus
from robomem.encoders.base import create_encoder
from robomem.ros.converters import set_stamp
from robomem.ros.memory_client import RosMemoryClient

ERROR, OK = 2, 0


def _spin_until(client: RosMemoryClient, pred: Any, timeout_s: float, what: str) -> Any:
    def step() -> Any:
        client._executor.spin_once(timeout_sec=0.05)
        return pred()

    return nodetools.wait_until(step, timeout_s, what, interval_s=0.0)


def _save(client: RosMemoryClient, directory: str) -> Any:
    req = client.request("save")
    req.directory = directory
    return client.call("save", req)


def test_unwritable_save_directory_never_kills_the_node_and_saves_retry_with_backoff(
    rclpy_context: Any, tmp_path: Path
) -> None:
    import rclpy

    robot = tmp_path / "robot"
    robot.write_text("a file where the save directory's parent should be")  # unwritable: parent is a file
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("the user's files")
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    save_dir = robot / "memory"
    server = nodetools.NodeProcess(
        "robomem-memory-server",
        nodetools.server_args(tmp_path, save_dir, extra={"save_period_s": 1.0, "save_max_backoff_s": 2.0}),
        tmp_path / "server.log", cwd=cwd,
    )
    node = rclpy.create_node("test_driver", context=rclpy_context)
    client = RosMemoryClient(node, "/robomem", timeout_s=30.0)
    watch = nodetools.DiagnosticsWatcher(node)
    try:
        server.wait_for_log("memory server up")

        def failing_repeatedly() -> Any:
            st = watch.status("persistence")
            return st if st and st[0] == ERROR and int(st[2]["save_failures"]) >= 2 else None

        level, message, _ = _spin_until(client, failing_repeatedly, 60, "two failed periodic saves")
        assert str(save_dir) in message and ("Not a directory" in message or "File exists" in message), message
        assert "next try in" in message
        node_st = watch.status("node")
        assert node_st is not None and node_st[0] == ERROR and "periodic_save" in node_st[1]
        assert server.proc.poll() is None  # still alive, still serving
        assert int(client.stats()["faults_periodic_save"]) >= 2

        # SaveMemory never touches what is not a memory, never resolves against the process's cwd
        for directory, status, text in [
            (".", QueryStatus.ERROR, str(save_dir)),  # "." is save_directory itself (still unwritable)
            ("", QueryStatus.ERROR, str(save_dir)),
            (str(home), QueryStatus.ERROR, "not a robomem memory"),
            ("../../escape", QueryStatus.BAD_REQUEST, "leaves save_directory"),
        ]:
            resp = _save(client, directory)
            assert resp.status == status.value and text in resp.message, (directory, resp.message)
        assert sorted(p.name for p in cwd.iterdir()) == ["notes.txt"]
        assert (home / "thesis.tex").read_text() == "precious" and len(list(home.iterdir())) == 1

        # the disk becomes writable: the next retry saves, diagnostics turn OK
        robot.unlink()
        robot.mkdir()
        _spin_until(client, lambda: (st := watch.status("persistence")) and st[0] == OK and "saved to" in st[1],
                    60, "a successful periodic save after the fault cleared")
        assert SpatioSemanticMemory.load(save_dir, create_encoder(scene.memory_config().encoder))

        # unwritable again at shutdown: the final save fails, is reported, and the exit status says so
        blocked = tmp_path / "robot-moved"
        robot.rename(blocked)
        robot.write_text("blocked again")
    finally:
        rc = server.stop(signal.SIGINT)
        client.close()
        node.destroy_node()
    assert rc == 1, server.log()
    assert "final save failed" in server.log()
    assert (blocked / "memory" / "manifest.json").is_file()  # the last complete save is intact


def _future(events: list[bagtools.Event], index: int, far_ns: int) -> list[bagtools.Event]:
    """Restamp every message of frame ``index`` (by stamp order) to ``far_ns`` (TF included)."""
    stamps = sorted({s for s, t, _ in events if t != "/tf_static"})
    bad = stamps[index]
    out = []
    for stamp, topic, msg in events:
        if stamp == bad:
            headers = [t.header for t in msg.transforms] if topic == "/tf" else [msg.header]
            if topic == bagtools.TOPICS["seg"]:
                headers.append(msg.mask.header)
            for h in headers:
                set_stamp(h.stamp, far_ns)
            stamp = far_ns
        out.append((stamp, topic, msg))
    return out


def test_future_stamps_text_identity_and_load_on_start_fallback(rclpy_context: Any, tmp_path: Path) -> None:
    import rclpy

    frames = bagtools.scene_frames(8)
    encoder = create_encoder(scene.memory_config().encoder)
    # a memory of the first 4 frames, left by a save killed in its swap window: only memory.previous exists
    robot = tmp_path / "robot"
    pre = SpatioSemanticMemory(scene.memory_config(), encoder, scene.REGIONS)
    from robomem.ros.pipeline import FramePipeline, PipelineConfig

    pipe = FramePipeline(PipelineConfig(use_segmentation=True))
    feed = {"/tf_static": lambda m: pipe.add_tf(m, True), "/tf": pipe.add_tf,
            bagtools.TOPICS["info"]: pipe.add_camera_info, bagtools.TOPICS["depth"]: pipe.add_depth,
            bagtools.TOPICS["rgb"]: pipe.add_rgb, bagtools.TOPICS["seg"]: pipe.add_segmentation}
    for _, topic, msg in bagtools.scene_events(bagtools.Builder("rclpy"), frames[:4]):
        for out in feed[topic](msg):
            pre.ingest(out)  # type: ignore[arg-type]
    pre.save(robot / "memory")
    (robot / "memory").rename(robot / "memory.previous")

    server = nodetools.NodeProcess(
        "robomem-memory-server",
        nodetools.server_args(tmp_path, robot / "memory", extra={"load_on_start": True, "camera_reliable": True,
                                                                 "ingest_queue_size": 64}),
        tmp_path / "server.log",
    )
    node = rclpy.create_node("test_driver", context=rclpy_context)
    client = RosMemoryClient(node, "/robomem", timeout_s=30.0)
    try:
        server.wait_for_log("memory server up")
        assert "load_on_start: loaded the previous save" in server.log()
        assert client.stats()["frames_ingested"] == "4"

        # frames 4..7 with frame 5 stamped at the end of time: rejected and counted, the rest ingested
        events = list(bagtools.scene_events(bagtools.Builder("rclpy"), frames[4:]))
        events = _future(events, 1, (2**31 - 1) * 1_000_000_000)
        pub = nodetools.ScenePublisher(node)
        pub.wait_for_subscribers()
        pub.publish_acked(events, client.stats)
        stats = client.stats()
        assert stats["frames_ingested"] == "7", stats
        assert int(stats["rejected_future_stamp"]) >= 4, stats  # camera_info, depth, rgb, segmentation, tf
        assert client.time_range()[1] == frames[7].stamp_ns
        assert "ahead of the newest frame and of the clock" in server.log()

        # WhereAt with text and the message's default instance_id 0 asks about the text
        labels = {i.instance_id: i.label for i in client.instances()}
        mug = client.locate("red mug", k=1).matches[0]
        assert mug.instance_id != 0 or len(labels) == 1, labels
        req = client.request("where_at")
        req.text, req.instance_id = "red mug", 0
        set_stamp(req.stamp, frames[6].stamp_ns)
        resp = client.call("where_at", req)
        assert resp.status == QueryStatus.OK.value, resp.message
        assert resp.instance.id == mug.instance_id and resp.instance.label == "red mug"
        assert np.linalg.norm(np.array([resp.placement.position.x, resp.placement.position.y,
                                        resp.placement.position.z]) - scene.MUG.center) < 0.25

        # a 1 MB query text is refused before anything is encoded
        req = client.request("locate")
        req.text = "mug " * 250_000
        resp = client.call("locate", req)
        assert resp.status == QueryStatus.BAD_REQUEST.value and "at most 1000" in resp.message
    finally:
        rc = server.stop(signal.SIGINT)
        client.close()
        node.destroy_node()
    assert rc == 0, server.log()
    assert sorted(p.name for p in robot.iterdir()) == ["memory"]  # the final save replaced the previous one
    saved = SpatioSemanticMemory.load(robot / "memory", encoder)
    assert saved.stats()["frames_ingested"] == 7 and saved.time_range()[1] == frames[7].stamp_ns
