"""The memory server's ``/diagnostics`` content, computed without rclpy (the node wraps it in messages).

Three statuses, each ``(level, name suffix, message, values)``:

* ``ingest``: frames received/ingested/rejected/dropped and the ingest rate; WARN when input was rejected or
  dropped (bad input is expected on a robot: counted, not a fault);
* ``persistence``: the last periodic save and, while saves fail, ERROR with the reason and the next retry;
* ``node``: ERROR while any callback fault is recent (the reason of the newest one), OK otherwise;
* ``perception`` (when a front end runs): frames, rate, mean/last latency, segments, failures; WARN after a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from robomem.ros.health import FaultLog, SaveScheduler

OK, WARN, ERROR = 0, 1, 2
"""diagnostic_msgs/DiagnosticStatus levels."""


@dataclass(frozen=True)
class Status:
    level: int
    name: str
    message: str
    values: Mapping[str, str] = field(default_factory=dict)


def ingest_status(counters: Mapping[str, int], mem_stats: Mapping[str, int], rate_hz: float) -> Status:
    rejected = sum(v for k, v in counters.items() if k.startswith("rejected_")) + counters.get(
        "ingest_rejected_memory", 0)
    dropped = counters.get("ingest_dropped_queue_full", 0)
    errors = counters.get("ingest_errors", 0)
    level = ERROR if errors else WARN if (rejected or dropped) else OK
    message = (f"{counters.get('ingest_ingested', 0)} frames ingested, {rejected} rejected, {dropped} dropped, "
               f"{rate_hz:.1f} Hz" + (f", {errors} failed with an internal error" if errors else ""))
    values = {**{k: str(v) for k, v in counters.items()},
              **{f"memory_{k}": str(v) for k, v in mem_stats.items()}, "ingest_rate_hz": f"{rate_hz:.2f}"}
    return Status(level, "ingest", message, values)


def persistence_status(save_directory: str, scheduler: Optional[SaveScheduler], now_s: float) -> Status:
    if scheduler is None:
        what = f"no periodic save (save_directory {save_directory!r})"
        return Status(OK, "persistence", what, {"save_directory": save_directory})
    values = {"save_directory": save_directory, "save_failures": str(scheduler.failures),
              "last_save": scheduler.last_path}
    if scheduler.failures:
        return Status(ERROR, "persistence",
                      f"periodic save failed {scheduler.failures} time(s) in a row: {scheduler.last_error}; "
                      f"next try in {scheduler.retry_in_s():.0f} s (the last complete save is intact)", values)
    if scheduler.last_ok_s is None:
        return Status(OK, "persistence", f"no periodic save yet (every {scheduler.period_s:g} s)", values)
    return Status(OK, "persistence",
                  f"saved to {scheduler.last_path} {now_s - scheduler.last_ok_s:.0f} s ago", values)


def node_status(faults: FaultLog) -> Status:
    active = faults.active()
    values = {k: str(v) for k, v in faults.counts().items()}
    if not active:
        return Status(OK, "node", "all callbacks healthy", values)
    newest = active[0]
    others = f" (+{len(active) - 1} other source(s))" if len(active) > 1 else ""
    return Status(ERROR, "node", f"{newest.source}: {newest.message}{others}", values)


def perception_status(name: str, stats: Mapping[str, float], rate_hz: float, last_error: str) -> Status:
    """The perception front end: rate (frames/s over the node's life), latency per frame, failures."""
    failures = int(stats.get("failures", 0))
    level = WARN if failures else OK
    message = (f"{name}: {int(stats.get('frames', 0))} frames, {rate_hz:.1f} Hz, "
               f"{1e3 * float(stats.get('mean_latency_s', 0.0)):.0f} ms/frame, {int(stats.get('segments', 0))} "
               f"segments, {failures} failed" + (f" (last: {last_error})" if failures and last_error else ""))
    values = {f"perception_{k}": str(v) for k, v in stats.items()}
    values["perception_rate_hz"] = f"{rate_hz:.2f}"
    values["perception_backend"] = name
    return Status(level, "perception", message, values)
