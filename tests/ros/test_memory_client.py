"""RosMemoryClient waiting for answers by spinning its node (spin=True): answers, timeouts, recovery."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import pytest

from robomem.core.query_types import QueryStatus
from robomem.errors import RosError
from robomem.ros import msg_convert as mc
from robomem.ros.memory_client import RosMemoryClient


@pytest.fixture
def locate_server(domain_id: int) -> Iterator[list[str]]:
    """A /fake/locate service in its own context and thread; ``text == "slow"`` answers after 1.5 s. Yields
    the texts it was asked."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("fake_memory", context=ctx)
    asked: list[str] = []

    def handle(req: Any, resp: Any) -> Any:
        asked.append(req.text)
        if req.text == "slow":
            time.sleep(1.5)
        mc.set_status(resp, QueryStatus.OK, f"asked {req.text}")
        return resp

    node.create_service(mc.interfaces("srv").Locate, "/fake/locate", handle)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set() and ctx.ok():
            executor.spin_once(timeout_sec=0.05)

    t = threading.Thread(target=spin, daemon=True)
    t.start()
    try:
        yield asked
    finally:
        stop.set()
        t.join(5)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def test_spinning_client_answers_times_out_and_recovers(rclpy_context: Any, locate_server: list[str]) -> None:
    import rclpy

    node = rclpy.create_node("client_under_test", context=rclpy_context)
    client = RosMemoryClient(node, "/fake", timeout_s=20.0)
    try:
        for i in range(20):  # many calls in a row: each returns its own answer
            r = client.locate(f"mug {i}", k=3)
            assert r.status is QueryStatus.OK and r.message == f"asked mug {i}"
        client.timeout_s = 0.5
        r = client.locate("slow")
        assert r.status is QueryStatus.ERROR and "did not answer within 0.5 s" in r.message
        client.timeout_s = 20.0
        r = client.locate("after")  # the late answer to "slow" is not taken for this one
        assert r.status is QueryStatus.OK and r.message == "asked after"
        assert locate_server[-2:] == ["slow", "after"]
    finally:
        client.close()
        node.destroy_node()


def test_calls_after_the_context_is_shut_down_fail_as_answers(domain_id: int, locate_server: list[str]) -> None:
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("client_shut_down", context=ctx)
    client = RosMemoryClient(node, "/fake", timeout_s=2.0)
    assert client.locate("mug").status is QueryStatus.OK
    rclpy.try_shutdown(context=ctx)
    r = client.locate("mug")
    assert r.status is QueryStatus.ERROR and "context is shut down" in r.message


@pytest.mark.parametrize("spin", [True, False])
def test_context_shut_down_during_a_call_is_an_error_answer(domain_id: int, spin: bool) -> None:
    """No server: while the call waits for the service, another thread shuts the client's context down; the call
    ends as an ERROR answer (not rclpy's ExternalShutdownException / RCLError) and later calls fail the same way."""
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("client_shut_down_midway", context=ctx)
    client = RosMemoryClient(node, "/nobody", timeout_s=30.0, spin=spin)
    timer = threading.Timer(0.3, lambda: rclpy.try_shutdown(context=ctx))
    timer.start()
    try:
        r = client.locate("mug")
        assert r.status is QueryStatus.ERROR and "shut down" in r.message
        assert client.locate("mug").status is QueryStatus.ERROR
    finally:
        timer.join()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def test_a_destroyed_node_gives_an_error_answer(domain_id: int) -> None:
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("client_destroyed", context=ctx)
    client = RosMemoryClient(node, "/nobody", timeout_s=1.0, spin=False)
    node.destroy_node()
    try:
        r = client.locate("mug")
        assert r.status is QueryStatus.ERROR and "destroyed" in r.message
    finally:
        rclpy.try_shutdown(context=ctx)


@pytest.mark.parametrize("timeout_s", [float("nan"), float("inf"), 0.0, -1.0])
def test_an_impossible_timeout_is_refused(rclpy_context: Any, timeout_s: float) -> None:
    import rclpy

    node = rclpy.create_node("client_bad_timeout", context=rclpy_context)
    try:
        with pytest.raises(RosError, match="timeout_s must be a finite number of seconds > 0"):
            RosMemoryClient(node, "/nobody", timeout_s=timeout_s)
    finally:
        node.destroy_node()
