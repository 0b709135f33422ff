"""The memory server with the ``detector`` perception front end (tiny random-weight OWLv2 built here): frames
without any segmentation topic get open-vocabulary segments in the server's ingest path, the memory's instances
carry vocabulary labels, and /diagnostics reports the front end's frames, rate and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bagtools
import nodetools
import pytest

from robomem.ros.memory_client import RosMemoryClient
from tests.perception.conftest import build_tiny_owlv2

VOCAB = ["mug", "book", "table"]
N = 4


@pytest.fixture(scope="module")
def owlv2_dir(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Path:
    return build_tiny_owlv2(tmp_path_factory.mktemp("owlv2") / "model", tiny_clip_dir)


def test_memory_server_with_the_detector_front_end(rclpy_context: Any, tmp_path: Path, owlv2_dir: Path) -> None:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    extra = {"camera_reliable": True, "ingest_queue_size": 64, "perception.backend": "detector",
             "perception.detector_model_path": str(owlv2_dir), "perception.vocabulary": VOCAB,
             "perception.receptacles": ["table"], "perception.score_threshold": 0.0,
             "perception.min_mask_pixels": 5, "perception.device": "cpu"}
    server = nodetools.NodeProcess(
        "robomem-memory-server",
        nodetools.server_args(tmp_path, tmp_path / "memory", extra=extra, segmentation=False),
        tmp_path / "server.log",
    )
    node = rclpy.create_node("test_perception_driver", context=rclpy_context)
    client = RosMemoryClient(node, "/robomem", timeout_s=30.0)
    diags: list[Any] = []
    node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    try:
        server.wait_for_log("memory server up")
        assert "perception front end: detector" in server.log()
        pub = nodetools.ScenePublisher(node)
        pub.wait_for_subscribers(with_seg=False)
        frames = bagtools.scene_frames(N)
        events = [e for e in bagtools.scene_events(bagtools.Builder("rclpy"), frames, segmentation=False)]
        pub.publish_acked(events, client.stats)

        def ingested() -> Any:
            s = client.stats()
            return s if int(s["frames_ingested"]) >= N and s["ingest_pending"] == "0" else None

        nodetools.wait_until(ingested, 60, "the frames to be ingested")
        insts = client.instances()
        assert insts and {i.label for i in insts} <= set(VOCAB), [i.label for i in insts]

        def perception_status() -> Any:
            client._executor.spin_once(timeout_sec=0.1)
            for arr in diags[::-1]:
                for st in arr.status:
                    if st.name.endswith(": perception"):
                        values = {kv.key: kv.value for kv in st.values}
                        if int(values.get("perception_frames", "0")) >= N:
                            return st, values
            return None

        st, values = nodetools.wait_until(perception_status, 30, "a perception diagnostics status")
        assert values["perception_backend"] == "detector" and float(values["perception_rate_hz"]) > 0
        assert float(values["perception_mean_latency_s"]) > 0 and values["perception_failures"] == "0"
        assert int(values["perception_segments"]) >= len(insts) and st.message.startswith("detector:")
    finally:
        client.close()
        node.destroy_node()
        server.stop()
