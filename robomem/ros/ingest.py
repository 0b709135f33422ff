"""The ingest worker: a bounded drop-oldest queue of frames and one thread that calls ``memory.ingest``.

ROS callbacks only convert and :meth:`IngestWorker.submit`; the (torch) work happens on the worker thread.
When frames arrive faster than the memory ingests them the oldest queued frame is dropped (and counted):
a live memory prefers the newest view of the world. No rclpy here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, deque
from typing import Callable, Optional

from robomem.core.types import Frame, IngestStats
from robomem.errors import FrameError, MemoryStateError

log = logging.getLogger(__name__)

IngestFn = Callable[[Frame], IngestStats]


def lower_thread_priority(nice: int) -> int:
    """Raise the calling thread's nice value by ``nice`` (Linux: per thread; threads it starts afterwards, such
    as torch's worker pool, inherit it). Background work (camera intake, ingest) then yields the CPU to the
    service threads of the same process, which keep their priority. Returns the thread's nice value after the
    change; 0 / unchanged where the platform has no per-thread priorities or refuses (never raises)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return 0
    try:
        tid = threading.get_native_id()
        new = min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice)
        os.setpriority(os.PRIO_PROCESS, tid, new)
        return os.getpriority(os.PRIO_PROCESS, tid)
    except (OSError, AttributeError):
        return 0


class ThrottledLog:
    """Log a message at most once per ``period_s`` per key, with the number of repeats suppressed."""

    def __init__(self, logger: logging.Logger, period_s: float = 5.0, level: int = logging.WARNING) -> None:
        self.logger = logger
        self.period_s = period_s
        self.level = level
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, exc_info: bool = False) -> None:
        """Log ``message`` at this logger's level (WARNING by default) unless ``key`` was logged recently."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._suppressed[key] += 1
                return
            n = self._suppressed.pop(key, 0)
            self._last[key] = now
        self.logger.log(self.level, "%s%s", message, f" ({n} more like this suppressed)" if n else "",
                        exc_info=exc_info)


class IngestWorker:
    """Runs ``ingest`` on frames from a bounded drop-oldest queue, on its own thread.

    Args:
        ingest: usually ``memory.ingest`` (thread-safe: it takes the memory's lock).
        queue_size: frames waiting at most; older ones are dropped when full.
        on_error: called with the reason when ingest fails with an unexpected (non-FrameError) exception.
        nice: the worker thread runs this much nicer than the process (:func:`lower_thread_priority`): ingest
            is background work, the queries answered beside it are latency-critical.
    """

    def __init__(
        self,
        ingest: IngestFn,
        queue_size: int = 4,
        throttle_s: float = 5.0,
        on_error: Optional[Callable[[str], None]] = None,
        nice: int = 0,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be >= 1")
        if not 0 <= nice <= 19:
            raise ValueError(f"nice must be in [0, 19], got {nice}")
        self._nice = nice
        self.thread_nice = 0
        """The worker thread's nice value once it runs (0 when not lowered)."""
        self._ingest = ingest
        self._on_error = on_error
        self._queue: deque[Frame] = deque()
        self._queue_size = queue_size
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self.counters: Counter[str] = Counter()
        self.last_error = ""
        self._throttled = ThrottledLog(log, throttle_s)
        self._times: deque[float] = deque(maxlen=64)
        self._thread = threading.Thread(target=self._run, name="robomem-ingest", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame) -> bool:
        """Queue ``frame``; returns False when an older frame had to be dropped to make room."""
        with self._cond:
            if self._stop:
                raise MemoryStateError("the ingest worker is stopped; frames are no longer accepted")
            dropped = len(self._queue) >= self._queue_size
            if dropped:
                self._queue.popleft()
                self.counters["dropped_queue_full"] += 1
            self._queue.append(frame)
            self.counters["queued"] += 1
            self._cond.notify_all()
        if dropped:
            self._throttled.warning(
                "queue", "ingest queue full: dropped the oldest frame (the memory ingests slower than the camera "
                "publishes; raise voxel.pixel_stride or lower the camera rate)"
            )
        return not dropped

    def _run(self) -> None:
        self.thread_nice = lower_thread_priority(self._nice)
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if not self._queue:  # stopping and drained
                    return
                frame = self._queue.popleft()
                self._busy = True
            try:
                self._ingest(frame)
            except (FrameError, MemoryStateError) as exc:
                self.counters["rejected_memory"] += 1
                self.last_error = str(exc)
                self._throttled.warning("memory", f"frame at {frame.stamp_ns / 1e9:.3f} s rejected: {exc}")
            except Exception as exc:  # keep serving: a bug in one frame must not kill the node
                self.counters["errors"] += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._throttled.warning("error", f"ingest failed for the frame stamped {frame.stamp_ns} ns: "
                                        f"{self.last_error}", exc_info=True)
                if self._on_error is not None:
                    try:
                        self._on_error(self.last_error)
                    except Exception:
                        log.exception("the ingest error callback failed")
            else:
                self.counters["ingested"] += 1
                self._times.append(time.monotonic())
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def rate_hz(self) -> float:
        """Frames ingested per second over the last (up to) 64 frames; 0 when idle for 5 s."""
        t = list(self._times)
        if len(t) < 2 or time.monotonic() - t[-1] > 5.0:
            return 0.0
        return (len(t) - 1) / max(t[-1] - t[0], 1e-9)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def wait_idle(self, timeout_s: Optional[float] = None) -> bool:
        """Block until the queue is empty and no frame is being ingested. False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, drain: bool = True, timeout_s: float = 30.0) -> None:
        """Stop the thread; with ``drain`` the queued frames are ingested first, else dropped (counted)."""
        with self._cond:
            if not drain:
                self.counters["dropped_shutdown"] += len(self._queue)
                self._queue.clear()
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("the ingest worker did not stop within %.0f s", timeout_s)
