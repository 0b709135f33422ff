"""The memory services' request -> query -> response logic, without rclpy (the node only wires it up).

:class:`MemoryHost` owns the live memory and does save / load / reset (atomic on disk via
``memory.save``; a failed load leaves the live memory as it was). :class:`MemoryServices` answers each
service from a consistent snapshot (the memory's lock is held for the whole handler, so an ingest cannot
interleave with a query) and maps failures onto the response status: QueryError -> BAD_REQUEST, any other
robomem error or exception -> ERROR, always with a message that says what happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from robomem.config import MemoryConfig
from robomem.core.query_types import QueryStatus
from robomem.core.types import Region
from robomem.encoders.base import Encoder
from robomem.errors import QueryError, RobomemError
from robomem.ros import msg_convert as mc
from robomem.ros.converters import set_stamp, stamp_to_ns

log = logging.getLogger(__name__)


class MemoryHost:
    """The live memory of a server process, replaceable as a whole (load/reset) without losing it on error."""

    def __init__(
        self,
        config: MemoryConfig,
        encoder: Encoder,
        regions: tuple[Region, ...] = (),
        save_directory: str = "",
        pipeline: Any = None,
    ) -> None:
        from robomem.core.memory import SpatioSemanticMemory
        from robomem.core.snapshot import SnapshotMemory

        self.config = config
        self.encoder = encoder
        self.save_directory = save_directory
        self.memory = SpatioSemanticMemory(config, encoder, regions, pipeline=pipeline)  # pipeline: perception steps
        self.reads = SnapshotMemory(self.memory)
        """Queries go here (they do not wait for an ingest); writes go through ``reads.ingest`` / ``save``."""
        self._save_lock = threading.Lock()

    def resolve(self, directory: str, what: str) -> Path:
        """The directory a service request names: absolute (or ``~/...``) as given; relative under
        ``save_directory``, never under the process's working directory; "" = ``save_directory``.
        Raises QueryError (BAD_REQUEST) for a relative path without save_directory or one that leaves it."""
        directory = directory.strip()
        base = Path(self.save_directory).expanduser() if self.save_directory else None
        if not directory:
            if base is None:
                raise QueryError(f"{what}: no directory given and the save_directory parameter is empty; give an "
                                 "absolute path")
            return base
        p = Path(directory).expanduser()
        if p.is_absolute():
            return p
        if base is None:
            raise QueryError(f"{what}: {directory!r} is a relative path and the save_directory parameter is empty; "
                             "give an absolute path")
        resolved = Path(os.path.normpath(base / p))
        if resolved != base and base not in resolved.parents:
            raise QueryError(f"{what}: {directory!r} leaves save_directory {base}; give an absolute path instead")
        return resolved

    def save(self, directory: str = "") -> Path:
        """Save atomically to ``directory`` (see :meth:`resolve`). Raises RobomemError (PersistenceError for a
        target that is not a robomem memory or any filesystem failure)."""
        target = self.resolve(directory, "SaveMemory")
        with self._save_lock:
            return Path(self.reads.save(target))

    def load(self, directory: str = "") -> str:
        """Replace the live memory by the one saved in ``directory`` (see :meth:`resolve`); unchanged on
        failure. Returns what was loaded (it says so when ``<name>.previous`` had to be used)."""
        from robomem.core.memory import SpatioSemanticMemory

        target = self.resolve(directory, "LoadMemory")
        loaded, opened = SpatioSemanticMemory.load_from(target, self.encoder, self.config)  # PersistenceError
        self.memory.replace_state(loaded)
        self.reads.invalidate()
        if opened.fallback_reason:
            return f"loaded the previous save {opened.directory} ({opened.fallback_reason})"
        return f"loaded {opened.directory}"

    def reset(self) -> None:
        self.memory.reset()
        self.reads.invalidate()


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its name (relative to the node), its srv type name and its handler method."""

    name: str
    srv: str
    handler: str


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("locate", "Locate", "locate"),
    ServiceSpec("last_seen", "LastSeen", "last_seen"),
    ServiceSpec("where_at", "WhereAt", "where_at"),
    ServiceSpec("history", "History", "history"),
    ServiceSpec("changes", "Changes", "changes"),
    ServiceSpec("count", "Count", "count"),
    ServiceSpec("relations", "Relations", "relations"),
    ServiceSpec("state_at", "StateAt", "state_at"),
    ServiceSpec("get_keyframes", "GetKeyframes", "get_keyframes"),
    ServiceSpec("room_visits", "RoomVisits", "room_visits"),
    ServiceSpec("actions", "Actions", "actions"),
    ServiceSpec("list_instances", "ListInstances", "list_instances"),
    ServiceSpec("get_info", "GetInfo", "get_info"),
    ServiceSpec("save", "SaveMemory", "save"),
    ServiceSpec("load", "LoadMemory", "load"),
    ServiceSpec("reset", "ResetMemory", "reset"),
)
"""Every service the memory server offers, under ``~/<name>`` (default namespace: /robomem)."""


def _text(request: Any, max_chars: int) -> str:
    """``request.text`` stripped; QueryError when longer than ``max_chars`` (before anything is encoded)."""
    text = str(request.text)
    if len(text) > max_chars:
        raise QueryError(f"text is {len(text)} characters long; at most {max_chars} are accepted "
                         "(query.max_text_chars): ask about one thing in a short phrase")
    return text.strip()


def _ident(request: Any, max_chars: int) -> tuple[Optional[int], Optional[str]]:
    """(instance_id, text) of a request addressing one instance; QueryError when neither is usable.

    A text wins over ``instance_id`` at its message default 0 (or -1); a text together with an id > 0 is
    ambiguous and refused.
    """
    iid = int(request.instance_id)
    text = _text(request, max_chars)
    if iid < -1:
        raise QueryError(f"instance_id must be >= 0 (or -1 to use text), got {iid}")
    if text:
        if iid > 0:
            raise QueryError(f"give either instance_id ({iid}) or text ({text[:40]!r}), not both")
        return None, text
    if iid < 0:
        raise QueryError("give an instance_id (>= 0) or a text description")
    return iid, None


class MemoryServices:
    """Handlers ``(request, response) -> response`` for every :data:`SERVICES` entry."""

    def __init__(
        self,
        host: MemoryHost,
        frame_id: str = "map",
        extra_stats: Optional[Callable[[], dict[str, int]]] = None,
    ) -> None:
        self.host = host
        self.frame_id = frame_id
        self.extra_stats = extra_stats
        self.calls: dict[str, int] = {}
        self._durations: deque[float] = deque(maxlen=512)  # s, the last query handlers (not save/load/reset)

    @property
    def default_k(self) -> int:
        return int(self.host.config.query.default_k)

    @property
    def max_text_chars(self) -> int:
        return int(self.host.config.query.max_text_chars)

    @contextlib.contextmanager
    def _answer(self, name: str, response: Any) -> Iterator[None]:
        """Count the call, turn exceptions into a status + message on ``response`` (each handler makes one
        query of ``host.reads``: one consistent state)."""
        self.calls[name] = self.calls.get(name, 0) + 1
        t0 = time.perf_counter()
        try:
            yield
        except QueryError as exc:
            mc.set_status(response, QueryStatus.BAD_REQUEST, str(exc))
        except RobomemError as exc:
            mc.set_status(response, QueryStatus.ERROR, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # never let a handler kill the server
            log.exception("service %s failed", name)
            mc.set_status(response, QueryStatus.ERROR, f"internal error in {name}: {type(exc).__name__}: {exc}")
        finally:
            if name not in ("save", "load", "reset", "get_info"):
                self._durations.append(time.perf_counter() - t0)

    def latency_stats(self) -> dict[str, int]:
        """p50/p95/max (us) of the last query handlers' own time (from request to response, in this node)."""
        d = sorted(self._durations)
        if not d:
            return {}
        return {"query_handler_p50_us": int(d[len(d) // 2] * 1e6),
                "query_handler_p95_us": int(d[int(0.95 * (len(d) - 1))] * 1e6),
                "query_handler_max_us": int(d[-1] * 1e6)}

    def _k(self, k: int) -> int:
        if k < 0:
            raise QueryError(f"k must be > 0 (or 0 for the default {self.default_k}), got {k}")
        return k or self.default_k

    # ------------------------------------------------------------------------------------------ queries
    def locate(self, request: Any, response: Any) -> Any:
        with self._answer("locate", response):
            text = _text(request, self.max_text_chars) or None
            feature = np.asarray(request.feature, dtype=np.float32) if len(request.feature) else None
            if text is None and feature is None:
                raise QueryError("Locate needs a text description or a feature vector")
            r = self.host.reads.locate(
                text=text, feature=feature, k=self._k(int(request.k)), include_vanished=request.include_vanished
            )
            mc.set_status(response, r.status, r.message)
            response.matches = [mc.instance_to_msg(i) for i in r.matches]
        return response

    def _instance_result(self, r: Any, response: Any) -> Any:
        mc.set_status(response, r.status, r.message)
        response.has_instance = r.instance is not None
        if r.instance is not None:
            response.instance = mc.instance_to_msg(r.instance)
        response.has_placement = r.placement is not None
        if r.placement is not None:
            response.placement = mc.placement_to_msg(r.placement)
        return response

    def last_seen(self, request: Any, response: Any) -> Any:
        with self._answer("last_seen", response):
            iid, text = _ident(request, self.max_text_chars)
            self._instance_result(self.host.reads.last_seen(instance_id=iid, text=text), response)
        return response

    def where_at(self, request: Any, response: Any) -> Any:
        with self._answer("where_at", response):
            iid, text = _ident(request, self.max_text_chars)
            t = stamp_to_ns(request.stamp)
            self._instance_result(self.host.reads.where_at(t, instance_id=iid, text=text), response)
        return response

    def history(self, request: Any, response: Any) -> Any:
        with self._answer("history", response):
            iid, text = _ident(request, self.max_text_chars)
            r = self.host.reads.history(instance_id=iid, text=text)
            mc.set_status(response, r.status, r.message)
            response.has_instance = r.instance is not None
            if r.instance is not None:
                response.instance = mc.instance_to_msg(r.instance)
            response.placements = [mc.placement_to_msg(p) for p in r.placements]
            response.actions = [mc.action_record_to_msg(a) for a in r.actions]
        return response

    def changes(self, request: Any, response: Any) -> Any:
        with self._answer("changes", response):
            t0, t1 = stamp_to_ns(request.start), stamp_to_ns(request.end)
            r = self.host.reads.changes(t0, t1, region=request.region.strip() or None)
            mc.set_status(response, r.status, r.message)
            response.changes = [mc.change_to_msg(c) for c in r.changes]
        return response

    def count(self, request: Any, response: Any) -> Any:
        with self._answer("count", response):
            text = _text(request, self.max_text_chars)
            if not text:
                raise QueryError("Count needs a text description")
            min_score = float(request.min_score) if request.use_min_score else None
            r = self.host.reads.count(text, min_score=min_score,
                                       include_vanished=request.include_vanished)
            mc.set_status(response, r.status, r.message)
            response.count = int(r.count)
            response.instances = [mc.instance_to_msg(i) for i in r.instances]
        return response

    def relations(self, request: Any, response: Any) -> Any:
        with self._answer("relations", response):
            t = stamp_to_ns(request.stamp) if request.use_stamp else None
            r = self.host.reads.relations(int(request.instance_id), t_ns=t)
            mc.set_status(response, r.status, r.message)
            response.edges = [mc.edge_to_msg(e) for e in r.edges]
        return response

    def state_at(self, request: Any, response: Any) -> Any:
        with self._answer("state_at", response):
            r = self.host.reads.state_at(stamp_to_ns(request.stamp))
            mc.set_status(response, r.status, r.message)
            set_stamp(response.stamp, r.stamp_ns)
            response.instances = [mc.instance_to_msg(i) for i in r.instances]
            response.edges = [mc.edge_to_msg(e) for e in r.edges]
        return response

    def get_keyframes(self, request: Any, response: Any) -> Any:
        with self._answer("get_keyframes", response):
            iid = int(request.instance_id)
            if iid < -1:
                raise QueryError(f"instance_id must be >= 0 (or -1 for none), got {iid}")
            r = self.host.reads.keyframes_for(
                text=_text(request, self.max_text_chars) or None, k=self._k(int(request.k)),
                instance_id=iid if iid >= 0 else None,
            )
            mc.set_status(response, r.status, r.message)
            response.keyframes = [
                mc.keyframe_to_msg(kf, bool(request.include_thumbnails), self.frame_id) for kf in r.keyframes
            ]
        return response

    def room_visits(self, request: Any, response: Any) -> Any:
        with self._answer("room_visits", response):
            t0 = stamp_to_ns(request.start) if request.use_range else None
            t1 = stamp_to_ns(request.end) if request.use_range else None
            r = self.host.reads.room_visits(t0, t1)
            mc.set_status(response, r.status, r.message)
            response.visits = [mc.room_visit_to_msg(v) for v in r.visits]
        return response

    def actions(self, request: Any, response: Any) -> Any:
        with self._answer("actions", response):
            t0 = stamp_to_ns(request.start) if request.use_range else None
            t1 = stamp_to_ns(request.end) if request.use_range else None
            k = int(request.kind)
            if k not in (-1, *mc.ACTION_FROM_MSG):
                raise QueryError(f"kind must be -1 (both), 0 (PICK) or 1 (PLACE), got {k}")
            iid = int(request.instance_id)
            if iid < -1:
                raise QueryError(f"instance_id must be >= 0 (or -1 for any), got {iid}")
            r = self.host.reads.actions(t0, t1, kind=mc.ACTION_FROM_MSG.get(k),
                                         instance_id=iid if iid >= 0 else None)
            mc.set_status(response, r.status, r.message)
            response.actions = [mc.action_record_to_msg(a) for a in r.actions]
        return response

    def list_instances(self, request: Any, response: Any) -> Any:
        with self._answer("list_instances", response):
            insts = self.host.reads.instances(include_vanished=request.include_vanished)
            mc.set_status(response, QueryStatus.OK, f"{len(insts)} instance(s)")
            response.instances = [mc.instance_to_msg(i) for i in insts]
        return response

    def get_info(self, request: Any, response: Any) -> Any:
        with self._answer("get_info", response):
            from diagnostic_msgs.msg import KeyValue

            mem = self.host.memory
            with mem.lock:  # one consistent view of the live counters (waits for an ingest in progress)
                t0, t1 = mem.time_range()
                stats = dict(mem.stats())
                regions = list(mem.regions())
            if self.extra_stats is not None:
                stats.update(self.extra_stats())
            stats.update(self.latency_stats())
            response.regions = [mc.region_to_msg(r) for r in regions]
            set_stamp(response.first_stamp, t0)
            set_stamp(response.last_stamp, t1)
            response.stats = [KeyValue(key=str(k), value=str(v)) for k, v in sorted(stats.items())]
            mc.set_status(response, QueryStatus.OK, f"{stats.get('instances', 0)} instance(s), "
                                                    f"{stats.get('frames_ingested', 0)} frame(s) ingested")
        return response

    # ------------------------------------------------------------------------------------------ lifecycle
    def save(self, request: Any, response: Any) -> Any:
        with self._answer("save", response):
            path = self.host.save(request.directory)
            response.directory = str(path)
            mc.set_status(response, QueryStatus.OK, f"saved to {path}")
        return response

    def load(self, request: Any, response: Any) -> Any:
        with self._answer("load", response):
            mc.set_status(response, QueryStatus.OK, self.host.load(request.directory))
        return response

    def reset(self, request: Any, response: Any) -> Any:
        with self._answer("reset", response):
            if not request.confirm:
                raise QueryError("ResetMemory forgets everything: set confirm=true to do it")
            self.host.reset()
            mc.set_status(response, QueryStatus.OK, "memory reset (nothing on disk was touched)")
        return response
