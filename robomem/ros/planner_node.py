"""``robomem-planner-node``: natural-language tasks -> a Planner over the memory services -> goal + answer.

Inputs: ``~/task`` (std_msgs/String) or the ``~/ask`` service (robomem_interfaces/AskPlanner). The planner
(``planner`` parameter, :func:`robomem.planner.base.create_planner`, default "rule_based") queries the
memory through :class:`~robomem.ros.memory_client.RosMemoryClient` (services under ``memory_namespace``).
Outputs: ``~/goal`` (geometry_msgs/PoseStamped, the first goal, in ``world_frame``; orientation = the goal's
yaw when it has one) and ``~/answer`` (std_msgs/String, the answer text). Node name ``robomem_planner``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any, Optional, Protocol, Sequence, runtime_checkable

from robomem.core.query_types import QueryStatus
from robomem.errors import ConfigError, PlannerError, RobomemError
from robomem.planner.base import Goal, PlannerAnswer, create_planner
from robomem.planner.config import PlannerConfig, load_planner_config
from robomem.ros.converters import set_stamp, yaw_quaternion
from robomem.ros.memory_client import RosMemoryClient
from robomem.ros.memory_server import setup_logging
from robomem.ros.msg_convert import interfaces

log = logging.getLogger("robomem.ros.planner_node")


@dataclass(frozen=True)
class PlannerNodeConfig:
    """planner: backend name. memory_namespace: the memory server's node (services under it; relative names
    resolve in this node's namespace, so both nodes launched in one namespace find each other). world_frame:
    frame of the goals. service_timeout_s: per memory service call. planner_config: a ``config/planner.yaml``
    with the planner's settings ("" = built-in defaults). timezone: IANA zone the user's clock times are read in
    ("" = planner_config's, whose default is the system's zone)."""

    planner: str = "rule_based"
    memory_namespace: str = "robomem"
    world_frame: str = "map"
    service_timeout_s: float = 10.0
    planner_config: str = ""
    timezone: str = ""

    def validate(self) -> None:
        if not self.planner:
            raise ConfigError("parameter planner must name a planner backend (e.g. rule_based)")
        if not self.world_frame:
            raise ConfigError("parameter world_frame must not be empty")
        if not self.service_timeout_s > 0:
            raise ConfigError(f"parameter service_timeout_s must be > 0, got {self.service_timeout_s}")

    def planner_settings(self) -> PlannerConfig:
        """The planner's settings: planner_config (or defaults) with this node's backend and zone."""
        pcfg = load_planner_config(self.planner_config) if self.planner_config else PlannerConfig()
        pcfg = dataclasses.replace(pcfg, backend=self.planner)
        if self.timezone:
            pcfg = dataclasses.replace(pcfg, timezone=self.timezone)
        pcfg.validate()
        return pcfg


@runtime_checkable
class _WarmUp(Protocol):
    def warm_up(self) -> None: ...


def goal_to_pose(goal: Goal, pose_stamped: Any, frame_id: str, stamp_ns: int) -> Any:
    """Fill a geometry_msgs/PoseStamped from a planner Goal (identity orientation when it has no yaw)."""
    pose_stamped.header.frame_id = frame_id
    set_stamp(pose_stamped.header.stamp, stamp_ns)
    p = pose_stamped.pose
    p.position.x, p.position.y, p.position.z = (float(v) for v in goal.position)
    q = yaw_quaternion(goal.yaw) if goal.yaw is not None else (0.0, 0.0, 0.0, 1.0)
    p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w = q
    return pose_stamped


class PlannerNode:
    def __init__(self) -> None:
        from geometry_msgs.msg import PoseStamped
        from rcl_interfaces.msg import ParameterDescriptor
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        from rclpy.node import Node
        from std_msgs.msg import String

        self.node = Node("robomem_planner")
        defaults = PlannerNodeConfig()
        names = tuple(PlannerNodeConfig.__dataclass_fields__)
        for name in names:
            self.node.declare_parameter(
                name, getattr(defaults, name),
                ParameterDescriptor(description=PlannerNodeConfig.__doc__ or "", read_only=True, dynamic_typing=True),
            )
        values = {n: self.node.get_parameter(n).value for n in names}
        if isinstance(values["service_timeout_s"], int):
            values["service_timeout_s"] = float(values["service_timeout_s"])
        from robomem.config import from_dict

        self.cfg = from_dict(PlannerNodeConfig, values)
        # PlannerError for an unknown name, ConfigError for bad settings
        self.planner = create_planner(self.cfg.planner, config=self.cfg.planner_settings())
        if isinstance(self.planner, _WarmUp):
            self.planner.warm_up()  # load models now, not on the first question
        self.memory = RosMemoryClient(self.node, self.cfg.memory_namespace, self.cfg.service_timeout_s, spin=False)
        self._pose_cls = PoseStamped
        self._string_cls = String
        group = MutuallyExclusiveCallbackGroup()  # one task at a time; memory calls use the client's group
        self.goal_pub = self.node.create_publisher(PoseStamped, "~/goal", 10)
        self.answer_pub = self.node.create_publisher(String, "~/answer", 10)
        self.node.create_subscription(String, "~/task", self._on_task, 10, callback_group=group)
        self.node.create_service(interfaces("srv").AskPlanner, "~/ask", self._on_ask, callback_group=group)
        log.info("planner node up: planner=%s memory=%s", self.cfg.planner, self.cfg.memory_namespace)

    def answer(self, task: str, now_ns: Optional[int] = None) -> PlannerAnswer:
        """Run the planner; backend failures become an ERROR answer (the node keeps serving)."""
        from robomem.planner.base import AnswerKind

        if not task.strip():
            return PlannerAnswer(QueryStatus.BAD_REQUEST, AnswerKind.UNKNOWN, "the task is empty; ask a question")
        try:
            return self.planner.answer(task, self.memory, now_ns=now_ns)
        except (PlannerError, RobomemError) as exc:
            return PlannerAnswer(QueryStatus.ERROR, AnswerKind.UNKNOWN, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("planner failed on %r", task)
            return PlannerAnswer(QueryStatus.ERROR, AnswerKind.UNKNOWN, f"internal error: {type(exc).__name__}: {exc}")

    def _publish(self, ans: PlannerAnswer) -> list[Any]:
        now = self.node.get_clock().now().nanoseconds
        poses = [goal_to_pose(g, self._pose_cls(), self.cfg.world_frame, now) for g in ans.goals]
        if poses:
            self.goal_pub.publish(poses[0])
        self.answer_pub.publish(self._string_cls(data=ans.text))
        return poses

    def _on_task(self, msg: Any) -> None:
        ans = self.answer(msg.data)
        log.info("task %r -> %s %s: %s", msg.data, ans.status.name, ans.kind.value, ans.text)
        self._publish(ans)

    def _on_ask(self, request: Any, response: Any) -> Any:
        from robomem.ros.converters import stamp_to_ns

        now = stamp_to_ns(request.now)
        ans = self.answer(request.task, now_ns=now or None)
        poses = self._publish(ans)
        response.status, response.message = ans.status.value, ans.text
        response.kind, response.answer = ans.kind.value, ans.text
        response.value = json.dumps(ans.value)
        response.instance_ids = [int(i) for i in ans.instance_ids]
        response.goals = poses
        response.goal_labels = [g.label for g in ans.goals]
        response.plan = list(ans.plan)
        return response


def main(argv: Optional[Sequence[str]] = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    setup_logging()
    rclpy.init(args=list(argv) if argv is not None else sys.argv)
    node: Optional[PlannerNode] = None
    try:
        try:
            node = PlannerNode()
        except (ConfigError, RobomemError) as exc:
            log.error("cannot start: %s", exc)
            return 2
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node.node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            log.info("shutting down")
        return 0
    finally:
        if node is not None:
            node.node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
