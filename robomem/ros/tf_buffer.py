"""A small TF buffer (tf2_ros has no PyPI wheel): static + time-stamped dynamic transforms, interpolated
lookups along the frame tree.

Semantics follow tf2: every child frame has one parent; a transform message ``parent -> child`` is
``parent_T_child``. Dynamic edges are interpolated in time (linear translation, quaternion slerp) between
the two samples around the asked stamp; asking outside the cached range raises (no extrapolation) unless
the stamp is within ``tolerance_ns`` of the nearest sample. Static edges hold at every time. Stamp 0 asks
for the latest time at which the whole chain is available. Thread-safe.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import numpy as np

from robomem.errors import FrameError
from robomem.ros.converters import matrix_to_quaternion, quaternion_to_matrix, stamp_to_ns

_NS = 1_000_000_000


class TfLookupError(FrameError):
    """A transform is unknown, disconnected or not available at the asked time (a frame cannot be placed)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        """True when waiting could help (the asked time is newer than the newest transform received)."""


@dataclass
class _Edge:
    parent: str
    static: bool
    stamps: list[int] = field(default_factory=list)
    translations: list[np.ndarray] = field(default_factory=list)
    quaternions: list[np.ndarray] = field(default_factory=list)  # (x, y, z, w), unit


def _slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + a * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(min(dot, 1.0))
    s = np.sin(theta)
    return (np.sin((1 - a) * theta) * q0 + np.sin(a * theta) * q1) / s


class TfBuffer:
    """Frame tree with a time cache per dynamic edge.

    Args:
        cache_ns: how much history (ns of message time, behind each edge's newest sample) to keep.
        tolerance_ns: a dynamic edge asked at a stamp at most this far outside its samples answers with the
            nearest sample instead of failing (cameras and odometry are rarely stamped identically).
    """

    def __init__(self, cache_ns: int = 10 * _NS, tolerance_ns: int = 0) -> None:
        if cache_ns <= 0 or tolerance_ns < 0:
            raise ValueError("cache_ns must be > 0 and tolerance_ns >= 0")
        self.cache_ns = int(cache_ns)
        self.tolerance_ns = int(tolerance_ns)
        self._edges: dict[str, _Edge] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ writing
    def set_transform(
        self, parent: str, child: str, stamp_ns: int, parent_T_child: np.ndarray, static: bool = False
    ) -> None:
        """Add ``parent_T_child`` (4x4) valid at ``stamp_ns`` (any time when ``static``)."""
        m = np.asarray(parent_T_child, dtype=np.float64)
        if m.shape != (4, 4) or not np.isfinite(m).all():
            raise FrameError(f"transform {parent} -> {child} must be a finite 4x4 matrix")
        self._add(parent, child, int(stamp_ns), m[:3, 3].copy(), np.array(matrix_to_quaternion(m[:3, :3])), static)

    def add_message(self, msg: Any, static: bool = False) -> int:
        """Add every ``geometry_msgs/TransformStamped`` of a ``tf2_msgs/TFMessage`` (rclpy or rosbags
        decoded). Returns how many were added; malformed entries raise FrameError after the valid ones."""
        errors = []
        n = 0
        for ts in msg.transforms:
            try:
                self.add_transform_stamped(ts, static)
                n += 1
            except FrameError as exc:
                errors.append(str(exc))
        if errors:
            raise FrameError(f"{len(errors)} transform(s) rejected: {'; '.join(errors[:3])}")
        return n

    def add_transform_stamped(self, ts: Any, static: bool = False) -> None:
        parent = _strip(ts.header.frame_id)
        child = _strip(ts.child_frame_id)
        if not parent or not child:
            raise FrameError("a transform has an empty frame_id or child_frame_id")
        if parent == child:
            raise FrameError(f"transform from {parent!r} to itself")
        t, r = ts.transform.translation, ts.transform.rotation
        q = np.array([r.x, r.y, r.z, r.w], dtype=np.float64)
        trans = np.array([t.x, t.y, t.z], dtype=np.float64)
        n = float(np.linalg.norm(q))
        if not (np.isfinite(trans).all() and np.isfinite(n) and n > 1e-9):
            raise FrameError(f"transform {parent} -> {child} has a non-finite translation or a zero quaternion")
        self._add(parent, child, stamp_to_ns(ts.header.stamp), trans, q / n, static)

    def _add(self, parent: str, child: str, stamp: int, trans: np.ndarray, quat: np.ndarray, static: bool) -> None:
        with self._lock:
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent or edge.static != static:
                if (edge is None or edge.parent != parent) and self._is_ancestor(child, parent):
                    raise FrameError(f"transform {parent} -> {child} would make a loop in the TF tree")
                edge = _Edge(parent=parent, static=static)  # re-parenting: tf2 also keeps the newest parent
                self._edges[child] = edge
            if static:
                edge.stamps, edge.translations, edge.quaternions = [stamp], [trans], [quat]
                return
            i = bisect.bisect_left(edge.stamps, stamp)
            if i < len(edge.stamps) and edge.stamps[i] == stamp:
                edge.translations[i], edge.quaternions[i] = trans, quat
            else:
                edge.stamps.insert(i, stamp)
                edge.translations.insert(i, trans)
                edge.quaternions.insert(i, quat)
            cut = bisect.bisect_left(edge.stamps, edge.stamps[-1] - self.cache_ns)
            if cut:
                del edge.stamps[:cut], edge.translations[:cut], edge.quaternions[:cut]

    def _is_ancestor(self, frame: str, of: str) -> bool:
        node: Optional[str] = of
        seen = set()
        while node is not None and node not in seen:
            if node == frame:
                return True
            seen.add(node)
            e = self._edges.get(node)
            node = e.parent if e else None
        return False

    def clear(self) -> None:
        with self._lock:
            self._edges.clear()

    # ------------------------------------------------------------------------------------------ reading
    def frames(self) -> list[str]:
        with self._lock:
            return sorted(set(self._edges) | {e.parent for e in self._edges.values()})

    def lookup(self, target: str, source: str, stamp_ns: int = 0) -> np.ndarray:
        """``target_T_source`` (4x4 float64) at ``stamp_ns`` (0: the latest common time).

        Raises :class:`TfLookupError` (a FrameError) naming the frames and the available time range.
        """
        target, source = _strip(target), _strip(source)
        if target == source:
            return np.eye(4)
        with self._lock:
            up_s = self._chain(source)
            up_t = self._chain(target)
            common = next((f for f in up_s if f in set(up_t)), None)
            if common is None:
                known = sorted(set(self._edges) | {e.parent for e in self._edges.values()})
                missing = [f for f in (target, source) if f not in known]
                why = f"frame(s) {missing} never received" if missing else "the frames are not connected"
                raise TfLookupError(
                    f"cannot transform {source!r} into {target!r}: {why} (known frames: {known[:12]}); "
                    "publish the missing transforms on /tf or /tf_static", retry=bool(missing),
                )
            path_s = up_s[: up_s.index(common)]  # frames whose edge leads from source up to common
            path_t = up_t[: up_t.index(common)]
            if stamp_ns == 0:
                stamp_ns = self._latest_common(path_s + path_t)
            common_T_source = self._compose(path_s, stamp_ns, source, target)
            common_T_target = self._compose(path_t, stamp_ns, source, target)
        return np.linalg.inv(common_T_target) @ common_T_source

    def can_transform(self, target: str, source: str, stamp_ns: int = 0) -> bool:
        try:
            self.lookup(target, source, stamp_ns)
            return True
        except TfLookupError:
            return False

    def _chain(self, frame: str) -> list[str]:
        out = [frame]
        while frame in self._edges and len(out) <= len(self._edges):
            frame = self._edges[frame].parent
            out.append(frame)
        return out

    def _latest_common(self, frames: Iterable[str]) -> int:
        latest = None
        for f in frames:
            e = self._edges[f]
            if not e.static:
                latest = e.stamps[-1] if latest is None else min(latest, e.stamps[-1])
        return latest if latest is not None else 0

    def _compose(self, frames: list[str], stamp: int, source: str, target: str) -> np.ndarray:
        """up_T_frames[0] for the chain ``frames`` (each frame's edge to its parent), at ``stamp``."""
        out = np.eye(4)
        for f in frames:
            out = self._edge_matrix(f, stamp, source, target) @ out
        return out

    def _edge_matrix(self, child: str, stamp: int, source: str, target: str) -> np.ndarray:
        e = self._edges[child]
        if e.static or stamp == 0:
            i = len(e.stamps) - 1
            return _matrix(e.translations[i], e.quaternions[i])
        s = e.stamps
        i = bisect.bisect_left(s, stamp)
        if i < len(s) and s[i] == stamp:
            return _matrix(e.translations[i], e.quaternions[i])
        if i == 0 or i == len(s):
            j = 0 if i == 0 else len(s) - 1
            if abs(s[j] - stamp) <= self.tolerance_ns:
                return _matrix(e.translations[j], e.quaternions[j])
            future = i == len(s)
            raise TfLookupError(
                f"cannot transform {source!r} into {target!r} at t={stamp / 1e9:.3f} s: edge {e.parent} -> {child} "
                f"is known from {s[0] / 1e9:.3f} to {s[-1] / 1e9:.3f} s ("
                + ("the transform has not arrived yet" if future else "older than the TF cache")
                + "); check the clocks and that TF is published",
                retry=future,
            )
        t0, t1 = s[i - 1], s[i]
        a = (stamp - t0) / (t1 - t0)
        trans = (1 - a) * e.translations[i - 1] + a * e.translations[i]
        quat = _slerp(e.quaternions[i - 1], e.quaternions[i], a)
        return _matrix(trans, quat)


def _matrix(trans: np.ndarray, quat: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quaternion_to_matrix(*quat)
    m[:3, 3] = trans
    return m


def _strip(frame: str) -> str:
    return str(frame).lstrip("/")
