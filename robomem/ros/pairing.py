"""Approximate-time pairing of camera streams by header stamp (message_filters has no PyPI wheel).

:class:`StampPairer` keeps a short queue per stream and emits one tuple per set of messages whose stamps
all lie within ``tolerance_ns`` of the reference stream's stamp (the colour image). Messages that can no
longer be paired (older than an emitted set) are dropped and counted; a message stamped at or before the
last emitted set is out of order and rejected. Not thread-safe: call it from one thread (or under a lock).
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Any, Generic, Optional, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PairedSet(Generic[T]):
    """One matched set: ``items[i]`` belongs to stream ``i``; ``stamp_ns`` is the reference stream's stamp."""

    stamp_ns: int
    items: tuple[T, ...]


@dataclass
class PairerCounters:
    paired: int = 0
    dropped_unpaired: int = 0  # aged out of a queue without a partner
    dropped_overflow: int = 0  # pushed out of a full queue
    out_of_order: int = 0  # stamp at or before the last emitted set


class OutOfOrderError(ValueError):
    """The message is stamped at or before the last emitted set; it cannot be paired any more."""


def _nearest(q: deque[tuple[int, Any]], stamp: int) -> Optional[int]:
    """Index of the queued message stamped nearest to ``stamp`` (None when empty)."""
    best: Optional[int] = None
    for j, (s, _) in enumerate(q):
        if best is None or abs(s - stamp) < abs(q[best][0] - stamp):
            best = j
    return best


class StampPairer(Generic[T]):
    """Pair ``len(streams)`` streams by stamp; stream 0 is the reference.

    Args:
        streams: stream names, for messages and counters ("rgb", "depth", "info", ...).
        tolerance_ns: max |stamp - reference stamp| for a message to join a set.
        queue_size: messages kept per stream while waiting for partners (drop-oldest).
    """

    def __init__(self, streams: Sequence[str], tolerance_ns: int, queue_size: int = 10) -> None:
        if len(streams) < 1 or tolerance_ns < 0 or queue_size < 1:
            raise ValueError("need >= 1 stream, tolerance_ns >= 0 and queue_size >= 1")
        self.streams = tuple(streams)
        self.tolerance_ns = int(tolerance_ns)
        self.queue_size = int(queue_size)
        self._queues: list[deque[tuple[int, Any]]] = [deque() for _ in self.streams]
        self.last_emitted_ns: int = -1
        self.counters = PairerCounters()

    def add(self, stream: int, stamp_ns: int, item: T) -> list[PairedSet[T]]:
        """Queue ``item`` of stream index ``stream``; return the sets completed by it (oldest first).

        Raises :class:`OutOfOrderError` when ``stamp_ns`` is not newer than the last emitted set.
        """
        if stamp_ns <= self.last_emitted_ns:
            self.counters.out_of_order += 1
            raise OutOfOrderError(
                f"{self.streams[stream]} message stamped {stamp_ns / 1e9:.6f} s is not newer than the last "
                f"paired set ({self.last_emitted_ns / 1e9:.6f} s); stamps must increase"
            )
        q = self._queues[stream]
        keys = [s for s, _ in q]
        i = bisect.bisect_right(keys, stamp_ns)
        q.insert(i, (stamp_ns, item))
        if len(q) > self.queue_size:
            q.popleft()
            self.counters.dropped_overflow += 1
        return self._match()

    def _match(self) -> list[PairedSet[T]]:
        out: list[PairedSet[T]] = []
        ref = self._queues[0]
        progress = True
        while progress and ref:
            progress = False
            for r_idx, (r_stamp, r_item) in enumerate(ref):
                chosen: list[int] = []
                for q in self._queues[1:]:
                    best = _nearest(q, r_stamp)
                    if best is None or abs(q[best][0] - r_stamp) > self.tolerance_ns:
                        break
                    chosen.append(best)
                else:
                    items = [r_item] + [q[j][1] for q, j in zip(self._queues[1:], chosen)]
                    out.append(PairedSet(r_stamp, tuple(items)))
                    self.counters.paired += 1
                    self.last_emitted_ns = r_stamp
                    # everything at or before the matched messages can never pair again
                    self._drop_through(0, r_idx)
                    for k, j in enumerate(chosen, start=1):
                        self._drop_through(k, j)
                    self._drop_older(r_stamp)
                    progress = True
                    break
        return out

    def _drop_through(self, stream: int, idx: int) -> None:
        q = self._queues[stream]
        for _ in range(idx):
            q.popleft()
            self.counters.dropped_unpaired += 1
        q.popleft()  # the matched one

    def _drop_older(self, stamp: int) -> None:
        for k, q in enumerate(self._queues):
            limit = stamp if k == 0 else stamp - self.tolerance_ns
            while q and q[0][0] <= limit:
                q.popleft()
                self.counters.dropped_unpaired += 1

    def pending(self) -> dict[str, int]:
        """Messages waiting per stream."""
        return {name: len(q) for name, q in zip(self.streams, self._queues)}

    def clear(self) -> int:
        """Drop everything waiting (counted as unpaired); returns how many."""
        n = sum(len(q) for q in self._queues)
        for q in self._queues:
            q.clear()
        self.counters.dropped_unpaired += n
        return n
