"""Moved-object hypotheses: "the object seen at a new place may be the one whose old place was not re-checked".

When a new instance B is confirmed while a present instance A of the same kind (similar feature or the same
most-frequent label) is elsewhere and A has not been sighted since B first was, the memory cannot tell yet whether
A was moved to B's place or B is a second object. It keeps both instances and an open :class:`MoveHypothesis`
(A -> B) with the evidence so far, and resolves it when evidence arrives:

* A's old place is seen empty (A vanishes), or a pick of A is reported before B was first seen: **moved** - B is
  merged into A (one identity, two places);
* A is sighted at its old place after B was first seen, or both in one frame: **distinct** - two objects.

B vanishing first leaves the hypothesis open (the object may have gone A -> B -> elsewhere); A's old place seen
empty then still makes it **moved** (B's placements become A's history). ``DROPPED`` is kept for saved memories.

Queries report resolved answers as facts and say so where a hypothesis is still open ("probably moved to ...;
its old place has not been seen since"). Hypotheses are saved with the objects (``objects.json``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional

from robomem.config import ObjectConfig
from robomem.core.instances import ObjectInstance, cosine, place_distance_of
from robomem.core.types import NodeKind
from robomem.errors import PersistenceError


class HypothesisStatus(enum.Enum):
    OPEN = "open"
    MOVED = "moved"  # resolved: B was A, moved (B merged into A)
    DISTINCT = "distinct"  # resolved: two objects
    DROPPED = "dropped"  # B vanished / was merged elsewhere before any evidence


@dataclass(frozen=True)
class MoveHypothesis:
    """``old_id`` (A) may have moved to where ``new_id`` (B) was first seen.

    ``similarity``: feature cosine of A and B when opened; ``opened_ns``: B's first sighting; ``old_last_seen_ns``:
    A's last sighting at its old place when opened; ``resolved_ns``/``evidence``: when and why it was resolved
    (``evidence`` is a short human-readable reason, e.g. "old place seen empty").
    """

    hypothesis_id: int
    old_id: int
    new_id: int
    similarity: float
    opened_ns: int
    old_last_seen_ns: int
    status: HypothesisStatus = HypothesisStatus.OPEN
    resolved_ns: Optional[int] = None
    evidence: str = ""

    @property
    def is_open(self) -> bool:
        return self.status is HypothesisStatus.OPEN


def moved_object_candidate(new: ObjectInstance, instances: Iterable[ObjectInstance],
                           config: ObjectConfig) -> Optional[tuple[ObjectInstance, float]]:
    """(A, similarity) for a just confirmed ``new`` (B): the present object of its kind elsewhere (beyond
    ``match_distance``), not sighted since B first was, most similar to it (>= ``reid_similarity``; ties: the
    most recently seen), or None."""
    if new.kind is not NodeKind.OBJECT or new.feature is None:
        return None
    best: Optional[ObjectInstance] = None
    best_key = (-1.0, -1)
    for a in instances:
        if a.instance_id == new.instance_id or not a.present or a.kind is not new.kind or a.provisional:
            continue
        if a.current.last_seen_ns >= new.first_seen_ns:
            continue
        if place_distance_of(a.current, new.current.position) <= config.match_distance:
            continue
        sim = cosine(a.feature, new.feature)
        if sim is None or sim < config.reid_similarity:
            continue
        key = (round(sim, 4), a.current.last_seen_ns)
        if key > best_key:
            best, best_key = a, key
    return None if best is None else (best, best_key[0])


class HypothesisBook:
    """All hypotheses of one object store, open and resolved (resolved ones are kept as history)."""

    def __init__(self) -> None:
        self._items: dict[int, MoveHypothesis] = {}
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._items)

    def all(self) -> list[MoveHypothesis]:
        return list(self._items.values())

    def open(self) -> list[MoveHypothesis]:
        return [h for h in self._items.values() if h.is_open]

    def open_for_old(self, old_id: int) -> list[MoveHypothesis]:
        return [h for h in self._items.values() if h.is_open and h.old_id == old_id]

    def open_involving(self, instance_id: int) -> list[MoveHypothesis]:
        return [h for h in self._items.values() if h.is_open and instance_id in (h.old_id, h.new_id)]

    def add(self, old_id: int, new_id: int, similarity: float, opened_ns: int, old_last_seen_ns: int) -> MoveHypothesis:
        for h in self.open_for_old(old_id):
            if h.new_id == new_id:
                return h
        h = MoveHypothesis(self._next_id, int(old_id), int(new_id), float(similarity), int(opened_ns),
                           int(old_last_seen_ns))
        self._items[h.hypothesis_id] = h
        self._next_id += 1
        return h

    def resolve(self, hypothesis_id: int, status: HypothesisStatus, stamp_ns: int, evidence: str) -> MoveHypothesis:
        h = replace(self._items[hypothesis_id], status=status, resolved_ns=int(stamp_ns), evidence=evidence)
        self._items[hypothesis_id] = h
        return h

    def resolve_all(self, items: Iterable[MoveHypothesis], status: HypothesisStatus, stamp_ns: int,
                    evidence: str) -> None:
        for h in list(items):
            if h.is_open:
                self.resolve(h.hypothesis_id, status, stamp_ns, evidence)

    def renamed(self, old: int, new: int) -> None:
        """Instance ``old`` now lives on as ``new`` (a merge): rewrite the references."""
        for hid, h in list(self._items.items()):
            if old in (h.old_id, h.new_id):
                self._items[hid] = replace(h, old_id=new if h.old_id == old else h.old_id,
                                           new_id=new if h.new_id == old else h.new_id)

    # ------------------------------------------------------------------------------------------ persistence
    def to_json(self) -> dict[str, Any]:
        return {
            "next_id": self._next_id,
            "items": [
                {"id": h.hypothesis_id, "old": h.old_id, "new": h.new_id, "similarity": h.similarity,
                 "opened_ns": h.opened_ns, "old_last_seen_ns": h.old_last_seen_ns, "status": h.status.value,
                 "resolved_ns": h.resolved_ns, "evidence": h.evidence}
                for h in self._items.values()
            ],
        }

    @classmethod
    def from_json(cls, data: Any, instance_ids: set[int]) -> HypothesisBook:
        """Rebuild from :meth:`to_json`; references must name instances of ``instance_ids`` while open.
        Raises PersistenceError."""
        book = cls()
        if data is None:
            return book
        try:
            book._next_id = int(data["next_id"])
            for e in data["items"]:
                h = MoveHypothesis(
                    hypothesis_id=int(e["id"]), old_id=int(e["old"]), new_id=int(e["new"]),
                    similarity=float(e["similarity"]), opened_ns=int(e["opened_ns"]),
                    old_last_seen_ns=int(e["old_last_seen_ns"]), status=HypothesisStatus(e["status"]),
                    resolved_ns=None if e["resolved_ns"] is None else int(e["resolved_ns"]),
                    evidence=str(e["evidence"]),
                )
                if h.hypothesis_id < 1 or h.hypothesis_id >= book._next_id or h.hypothesis_id in book._items:
                    raise PersistenceError(f"objects: hypothesis id {h.hypothesis_id} is out of range or repeated")
                if h.is_open and (h.old_id not in instance_ids or h.new_id not in instance_ids or h.old_id == h.new_id):
                    raise PersistenceError(
                        f"objects: open hypothesis {h.hypothesis_id} names instances {h.old_id}/{h.new_id} that do "
                        "not exist (the file was edited or belongs to another memory)"
                    )
                if not (h.similarity == h.similarity) or h.opened_ns < 0 or h.old_last_seen_ns < 0:
                    raise PersistenceError(f"objects: hypothesis {h.hypothesis_id} has impossible values")
                book._items[h.hypothesis_id] = h
        except PersistenceError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise PersistenceError(f"objects: malformed hypothesis record ({type(exc).__name__}: {exc})") from None
        return book
