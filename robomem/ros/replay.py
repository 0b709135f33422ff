"""``robomem-replay BAG``: publish a rosbag2's messages into the live ROS graph with their original timing.

A stand-in for ``ros2 bag play`` (rosbag2 has no PyPI wheel): the bag is read with ``rosbags`` and each
message's raw CDR is published as it is (``publisher.publish(bytes)``), so nothing is decoded or copied.
Header stamps are the recorded ones. ``/tf_static`` is published TRANSIENT_LOCAL (latched) like tf2 does.

    robomem-replay BAG [--rate 2.0] [--topics /tf /camera/color/image_raw ...] [--remap /a:=/b]
                       [--wait-for-subscribers 5] [--loop]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from robomem.errors import RosError

log = logging.getLogger("robomem.ros.replay")


def message_class(msgtype: str) -> Any:
    """'sensor_msgs/msg/Image' -> the rclpy message class (RosError when its package is not importable)."""
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise RosError(
            f"no Python message class for {msgtype} ({exc}); install its ros-<package> wheel or build it "
            "(robomem_interfaces and tf2_msgs: scripts/build_ros.sh), or leave the topic out with --topics"
        ) from None


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="robomem-replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", help="rosbag2 directory (sqlite3 or mcap)")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (2.0 = twice as fast)")
    p.add_argument("--topics", nargs="*", default=None, help="only these topics (default: all)")
    p.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="publish FROM on TO")
    p.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="S",
                   help="wait up to S seconds until every non-TF topic has a subscriber before starting")
    p.add_argument("--start-delay", type=float, default=0.0, metavar="S", help="sleep before publishing")
    p.add_argument("--loop", action="store_true", help="replay forever (stamps repeat: the memory rejects them)")
    p.add_argument("--qos-depth", type=int, default=10)
    args, _ros_args = p.parse_known_args(argv)  # --ros-args ... go to rclpy
    if not args.rate > 0:
        p.error("--rate must be > 0")
    for r in args.remap:
        if ":=" not in r:
            p.error(f"--remap {r!r}: use FROM:=TO")
    return args


def replay(node: Any, bag: Path, rate: float = 1.0, topics: Optional[Sequence[str]] = None,
           remap: Optional[dict[str, str]] = None, wait_for_subscribers_s: float = 0.0,
           qos_depth: int = 10) -> int:
    """Publish the bag once on ``node``; returns the number of messages published."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from robomem.ros.bags import open_reader

    remap = remap or {}
    reader = open_reader(bag)
    try:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        if not conns:
            raise RosError(f"bag {bag} has none of the topics {list(topics or [])}; it has "
                           f"{sorted({c.topic for c in reader.connections})}")
        pubs: dict[int, Any] = {}
        by_topic: dict[str, Any] = {}
        for c in conns:
            out_topic = remap.get(c.topic, c.topic)
            if out_topic not in by_topic:
                latched = c.topic == "/tf_static"
                qos = QoSProfile(
                    depth=max(qos_depth, 100) if latched else qos_depth,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
                )
                by_topic[out_topic] = node.create_publisher(message_class(c.msgtype), out_topic, qos)
            pubs[c.id] = by_topic[out_topic]
        if wait_for_subscribers_s > 0:
            deadline = time.monotonic() + wait_for_subscribers_s
            waiting = [t for t in by_topic if not t.startswith("/tf")]
            while time.monotonic() < deadline:
                waiting = [t for t in waiting if by_topic[t].get_subscription_count() == 0]
                if not waiting:
                    break
                time.sleep(0.05)
            if waiting:
                log.warning("no subscriber on %s after %.1f s; publishing anyway", waiting, wait_for_subscribers_s)
        n = 0
        t0_bag: Optional[int] = None
        t0_wall = time.monotonic()
        for conn, t_ns, raw in reader.messages(connections=conns):
            if t0_bag is None:
                t0_bag = t_ns
            delay = t0_wall + (t_ns - t0_bag) / 1e9 / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pubs[conn.id].publish(bytes(raw))
            n += 1
        return n
    finally:
        reader.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from robomem.ros.memory_server import setup_logging

    setup_logging()
    argv = list(argv) if argv is not None else sys.argv
    args = parse_args(argv[1:])
    rclpy.init(args=argv)
    node = rclpy.create_node("robomem_replay")
    try:
        if args.start_delay > 0:
            time.sleep(args.start_delay)
        remap = dict(r.split(":=", 1) for r in args.remap)
        while True:
            n = replay(node, Path(args.bag), args.rate, args.topics, remap, args.wait_for_subscribers,
                       args.qos_depth)
            log.info("published %d messages from %s", n, args.bag)
            if not args.loop:
                break
        time.sleep(0.5)  # let the last messages leave (and latched /tf_static stay available briefly)
        return 0
    except RosError as exc:
        log.error("%s", exc)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
