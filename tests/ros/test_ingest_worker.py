"""The drop-oldest ingest worker (no ROS needed): ordering, drops, rejections, shutdown."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import scene

from robomem.core.types import Frame
from robomem.errors import FrameError, MemoryStateError
from robomem.ros.ingest import IngestWorker, lower_thread_priority


def frame(stamp: int) -> Frame:
    return Frame(rgb=np.zeros((2, 2, 3), np.uint8), depth=np.ones((2, 2), np.float32),
                 intrinsics=scene.intrinsics_for(2, 2), world_T_camera=np.eye(4), stamp_ns=stamp)


def test_drop_oldest_when_the_memory_is_slow_and_rejections_keep_it_running() -> None:
    gate, started = threading.Event(), threading.Event()
    seen: list[int] = []

    def ingest(f: Frame) -> None:
        started.set()
        gate.wait(10)
        if f.stamp_ns == 5:
            raise FrameError("bad frame")
        if f.stamp_ns == 6:
            raise RuntimeError("bug")
        seen.append(f.stamp_ns)

    w = IngestWorker(ingest, queue_size=2)  # type: ignore[arg-type]
    assert w.submit(frame(1))
    assert started.wait(10)  # frame 1 is being ingested (blocked on the gate)
    assert w.submit(frame(2)) and w.submit(frame(3))
    assert not w.submit(frame(4))  # queue full: 2 dropped
    gate.set()
    assert w.wait_idle(10)
    assert seen == [1, 3, 4] and w.counters["dropped_queue_full"] == 1
    for s in (5, 6, 7):
        w.submit(frame(s))
        assert w.wait_idle(10)
    assert seen[-1] == 7 and w.counters["rejected_memory"] == 1 and w.counters["errors"] == 1
    assert "bug" in w.last_error and w.counters["ingested"] == 4
    w.stop(drain=True)
    with pytest.raises(MemoryStateError, match="stopped"):
        w.submit(frame(8))


def test_stop_without_drain_counts_the_dropped_frames() -> None:
    gate = threading.Event()
    w = IngestWorker(lambda f: gate.wait(10), queue_size=8)  # type: ignore[arg-type,return-value]
    for s in range(1, 5):
        w.submit(frame(s))
    threading.Timer(0.2, gate.set).start()
    w.stop(drain=False)
    assert w.counters["dropped_shutdown"] >= 2 and w.counters["ingested"] <= 2


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread priorities on this platform")
def test_ingest_thread_runs_nicer_than_the_process_and_others_keep_their_priority() -> None:
    """ingest_nice: the worker thread (only it) is lowered; a thread it starts inherits that."""
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def ingest(f: Frame) -> None:
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        child = threading.Thread(target=lambda: seen.update(
            child=os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        child.start()
        child.join(10)

    w = IngestWorker(ingest, nice=5)  # type: ignore[arg-type]
    w.submit(frame(1))
    assert w.wait_idle(10)
    w.stop()
    assert seen["worker"] == seen["child"] == w.thread_nice == min(19, base + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller is untouched
    assert lower_thread_priority(0) == 0
    with pytest.raises(ValueError, match="nice"):
        IngestWorker(ingest, nice=20)  # type: ignore[arg-type]
