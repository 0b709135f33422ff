"""What keeps the memory server alive and honest about its faults (no rclpy here, unit-testable).

* :class:`FaultLog` - every callback of the node runs through :meth:`FaultLog.guard`: an exception is caught,
  logged (throttled per source, with the number of repeats suppressed), counted and kept as the source's
  latest fault, which diagnostics report as ERROR with the reason for ``window_s`` after it happened.
* :class:`SaveScheduler` - periodic saves that retry with exponential backoff after a failure (disk full,
  unwritable directory) instead of hammering the disk every period or giving up; diagnostics say when the
  last save succeeded, why the last one failed and when the next try is.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from robomem.ros.ingest import ThrottledLog

R = TypeVar("R")


@dataclass(frozen=True)
class Fault:
    """The latest fault of one source: what happened, when (monotonic s), how often in total."""

    source: str
    message: str
    at_s: float
    count: int


class FaultLog:
    """Faults per source (callback name). Thread-safe."""

    def __init__(self, logger: logging.Logger, throttle_s: float = 5.0, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._log = ThrottledLog(logger, throttle_s, level=logging.ERROR)
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def record(self, source: str, message: str, exc_info: bool = False, quiet: bool = False) -> None:
        """Keep ``message`` as the latest fault of ``source``; log it (throttled) unless ``quiet`` (the caller
        logged it already)."""
        with self._lock:
            prev = self._faults.get(source)
            self._faults[source] = Fault(source, message, self._clock(), (prev.count if prev else 0) + 1)
        if not quiet:
            self._log.warning(source, f"{source} failed (the node keeps running): {message}", exc_info=exc_info)

    def guard(self, source: str, fn: Callable[..., R], *args: Any) -> Optional[R]:
        """``fn(*args)``; on any exception: record it and return None (never raises)."""
        try:
            return fn(*args)
        except Exception as exc:  # a callback must never take the node down
            from robomem.errors import RobomemError

            self.record(source, f"{type(exc).__name__}: {exc}", exc_info=not isinstance(exc, RobomemError))
            return None

    def active(self) -> list[Fault]:
        """Faults within the last ``window_s``, newest first."""
        now = self._clock()
        with self._lock:
            out = [f for f in self._faults.values() if now - f.at_s <= self.window_s]
        return sorted(out, key=lambda f: -f.at_s)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {f"faults_{k}": f.count for k, f in sorted(self._faults.items())}


class SaveScheduler:
    """When the next periodic save is due: every ``period_s``; after ``n`` consecutive failures the next try
    waits ``period_s * 2**n`` (capped at ``max_backoff_s``). Thread-safe."""

    def __init__(self, period_s: float, max_backoff_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self.max_backoff_s = max(max_backoff_s, period_s)
        self._clock = clock
        self._lock = threading.Lock()
        self.failures = 0
        self.next_due_s = clock() + period_s
        self.last_ok_s: Optional[float] = None
        self.last_path = ""
        self.last_error = ""

    def due(self) -> bool:
        with self._lock:
            return self._clock() >= self.next_due_s

    def succeeded(self, path: str) -> None:
        with self._lock:
            now = self._clock()
            self.failures = 0
            self.last_ok_s, self.last_path, self.last_error = now, path, ""
            self.next_due_s = now + self.period_s

    def failed(self, message: str) -> float:
        """Record a failure; returns the delay (s) until the next try."""
        with self._lock:
            self.failures += 1
            delay = min(self.period_s * 2.0 ** self.failures, self.max_backoff_s)
            self.last_error = message
            self.next_due_s = self._clock() + delay
            return delay

    def retry_in_s(self) -> float:
        with self._lock:
            return max(0.0, self.next_due_s - self._clock())


class Periodic:
    """Calls ``fn`` every ``period_s`` seconds (wall clock) on its own daemon thread until :meth:`stop`, each
    call through ``guard(name, fn)`` (so a failing call is recorded and the next one still comes). Off the ROS
    executor: a slow call (a voxel cloud of a big map, a save) never delays a service answer. A call that
    overruns its period delays the next one instead of queueing calls."""

    def __init__(self, period_s: float, name: str, fn: Callable[[], Any],
                 guard: Callable[[str, Callable[[], Any]], Any]) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.period_s, self.name = float(period_s), name
        self._fn, self._guard = fn, guard
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"robomem-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_s = time.monotonic() + self.period_s
        while not self._stop.wait(max(0.0, next_s - time.monotonic())):
            self._guard(self.name, self._fn)
            next_s = max(next_s + self.period_s, time.monotonic())

    def stop(self, timeout_s: float = 30.0) -> None:
        """No further calls; waits (up to ``timeout_s``) for a call in progress."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
