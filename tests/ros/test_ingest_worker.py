"""The drop-oldest ingest worker (no ROS needed): ordering, drops, rejections, shutdown."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scene

from robomem.core.types import Frame
from robomem.errors import FrameError, MemoryStateError
from robomem.ros.ingest import IngestWorker


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
