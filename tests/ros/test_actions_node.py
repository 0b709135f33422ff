"""The memory server's ~/actions topic (robomem_interfaces/ActionEvent) and ~/actions service, over real rclpy:
a pick with a segment hint and a place given in another TF frame become facts; a malformed event is rejected and
logged while the node keeps serving; the final save keeps the events."""

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
from robomem.core.types import ActionKind
from robomem.encoders.base import create_encoder
from robomem.ros.converters import fill_pose, set_stamp
from robomem.ros.memory_client import RosMemoryClient


def _event(kind: int, stamp_ns: int, frame_id: str, pose: np.ndarray, segment_id: int = -1,
           frame_stamp_ns: int = 0) -> Any:
    from robomem_interfaces.msg import ActionEvent

    m = ActionEvent()
    m.kind = kind
    set_stamp(m.header.stamp, stamp_ns)
    m.header.frame_id = frame_id
    fill_pose(m.gripper_pose, pose)
    m.segment_id = segment_id
    set_stamp(m.frame_stamp, frame_stamp_ns)
    m.instance_id = -1
    return m


def test_action_events_over_ros_become_facts(rclpy_context: Any, tmp_path: Path) -> None:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from robomem_interfaces.msg import ActionEvent

    save_dir = tmp_path / "memory"
    server = nodetools.NodeProcess(
        "robomem-memory-server",
        nodetools.server_args(tmp_path, save_dir, extra={"camera_reliable": True, "ingest_queue_size": 64}),
        tmp_path / "server.log",
    )
    node = rclpy.create_node("test_actions_driver", context=rclpy_context)
    client = RosMemoryClient(node, "/robomem", timeout_s=30.0)
    try:
        server.wait_for_log("memory server up")
        pub = nodetools.ScenePublisher(node)
        pub.wait_for_subscribers()
        actions = node.create_publisher(ActionEvent, "/robomem/actions",
                                         QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        nodetools.wait_until(lambda: actions.get_subscription_count() > 0, 30, "the ~/actions subscription")
        frames = bagtools.scene_frames(4)
        pub.publish(list(bagtools.scene_events(bagtools.Builder("rclpy"), frames)), period_s=0.2)
        nodetools.wait_until(lambda: int(client.stats()["frames_ingested"]) == len(frames), 60, "the frames")
        assert client.actions().status is QueryStatus.NOT_FOUND  # nothing recorded yet: only inference possible

        seen = frames[-1]
        grip = np.eye(4)
        grip[:3, 3] = scene.MUG.center
        actions.publish(_event(0, seen.stamp_ns + 10_000_000, "map", grip, segment_id=scene.MUG.sim_id,
                               frame_stamp_ns=seen.stamp_ns))
        bad = _event(1, seen.stamp_ns + 15_000_000, "map", grip)
        bad.gripper_pose.position.x = float("nan")  # rejected with the reason, the node keeps going
        actions.publish(bad)
        # the place is given in the robot's base frame; the server maps it into the world through TF
        target = np.eye(4)
        target[:3, 3] = (0.2, 1.6, 0.05)
        base_T_gripper = np.linalg.inv(seen.map_T_base) @ target
        actions.publish(_event(1, seen.stamp_ns + 20_000_000, "base_link", base_T_gripper))

        res = nodetools.wait_until(lambda: len(client.actions().actions) == 2 and client.actions(), 30,
                                   "two recorded actions")
        pick, place = res.actions
        assert pick.kind is ActionKind.PICK and pick.resolved_by == "segment" and pick.label == "red mug"
        assert pick.from_receptacle == "table" and pick.from_room == "kitchen"
        assert place.kind is ActionKind.PLACE and place.resolved_by == "held" and place.instance_id == pick.instance_id
        assert np.allclose(place.gripper_position, (0.2, 1.6, 0.05), atol=1e-3)
        assert [a.kind for a in client.history(text="red mug").actions] == [ActionKind.PICK, ActionKind.PLACE]
        assert [a.kind for a in client.actions(kind=ActionKind.PLACE).actions] == [ActionKind.PLACE]
        nodetools.wait_until(lambda: "action event rejected" in server.log(), 10, "the rejection in the log")
        assert "NaN" in server.log()
        assert client.stats()["actions_rejected"] == "1"
        over_ros = client.actions()
    finally:
        rc = server.stop(signal.SIGINT)
        client.close()
        node.destroy_node()
    assert rc == 0, server.log()
    saved = SpatioSemanticMemory.load(save_dir, create_encoder(scene.memory_config().encoder))
    assert saved.actions() == over_ros
