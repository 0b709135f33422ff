"""The log of the robot's own actions (pick / place events) kept in the memory's state.

Storage only: validation, resolution to instances and the evidence they give live in
:mod:`robomem.core.actions`.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass
from typing import Any, Optional

from robomem.core.types import ActionKind
from robomem.errors import PersistenceError

Vec3 = tuple[float, float, float]

RECENT_FRAMES = 256
"""Frames whose segment -> instance maps are kept for resolving segment hints (a few seconds of camera)."""


class Resolution(enum.Enum):
    """How an action event was tied to an instance."""

    INSTANCE = "instance"  # the event's instance_id hint
    SEGMENT = "segment"  # the event's segment hint in a frame
    HELD = "held"  # PLACE: the object held since the last PICK
    GRIPPER = "gripper"  # the instance nearest the gripper with an agreeing label
    PENDING = "pending"  # waits for the frame its segment hint refers to
    UNRESOLVED = "unresolved"  # no hint matched an instance


@dataclass(eq=False)
class LoggedAction:
    """One recorded event and what the memory made of it (owned by :class:`ActionLog`)."""

    action_id: int
    kind: ActionKind
    stamp_ns: int
    gripper_position: Vec3
    segment_id: Optional[int]
    frame_stamp_ns: Optional[int]
    instance_hint: Optional[int]
    label_hint: str
    instance_id: Optional[int] = None
    resolution: Resolution = Resolution.PENDING
    room: Optional[str] = None  # the gripper's room at the time (used when no instance is known)
    receptacle_id: Optional[int] = None  # the receptacle under / at the gripper at the time


class ActionLog:
    """Every action event recorded, oldest first, plus what the gripper holds and recent segment maps."""

    def __init__(self) -> None:
        self._actions: list[LoggedAction] = []
        self._next_id = 1
        self.holding: Optional[int] = None  # instance id held since a resolved PICK (None: empty / unknown)
        self.holding_since_ns: Optional[int] = None
        self._frames: collections.OrderedDict[int, dict[int, int]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._actions)

    def all(self) -> list[LoggedAction]:
        return list(self._actions)

    def pending(self) -> list[LoggedAction]:
        return [a for a in self._actions if a.resolution is Resolution.PENDING]

    @property
    def newest_stamp_ns(self) -> Optional[int]:
        return self._actions[-1].stamp_ns if self._actions else None

    def add(self, action: LoggedAction) -> None:
        self._actions.append(action)
        self._next_id = max(self._next_id, action.action_id + 1)

    def next_id(self) -> int:
        return self._next_id

    def remember_frame(self, stamp_ns: int, segment_to_instance: dict[int, int]) -> None:
        """Keep the frame's segment -> instance map (bounded: the newest :data:`RECENT_FRAMES` frames)."""
        prev = self._frames.get(stamp_ns, {})
        self._frames[stamp_ns] = {**prev, **segment_to_instance}  # several cameras may share a stamp
        self._frames.move_to_end(stamp_ns)
        while len(self._frames) > RECENT_FRAMES:
            self._frames.popitem(last=False)

    def frame_map(self, frame_stamp_ns: Optional[int], at_or_before_ns: int) -> Optional[tuple[int, dict[int, int]]]:
        """(stamp, segment -> instance) of the frame ``frame_stamp_ns`` (exact), or of the newest frame at or
        before ``at_or_before_ns`` when no frame stamp is given; None if that frame is not kept."""
        if frame_stamp_ns is not None:
            m = self._frames.get(frame_stamp_ns)
            return (frame_stamp_ns, m) if m is not None else None
        best = None
        for t in self._frames:
            if t <= at_or_before_ns and (best is None or t > best):
                best = t
        return (best, self._frames[best]) if best is not None else None

    def instance_merged(self, keep_id: int, drop_id: int) -> None:
        """Point every reference to ``drop_id`` at ``keep_id`` (the two were one object)."""
        for a in self._actions:
            if a.instance_id == drop_id:
                a.instance_id = keep_id
        if self.holding == drop_id:
            self.holding = keep_id

    # ------------------------------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        return {
            "next_id": self._next_id,
            "holding": self.holding,
            "holding_since_ns": self.holding_since_ns,
            "actions": [
                {
                    "id": a.action_id, "kind": a.kind.value, "stamp_ns": a.stamp_ns,
                    "gripper": list(a.gripper_position), "segment_id": a.segment_id,
                    "frame_stamp_ns": a.frame_stamp_ns, "instance_hint": a.instance_hint, "label_hint": a.label_hint,
                    "instance_id": a.instance_id, "resolution": a.resolution.value, "room": a.room,
                    "receptacle_id": a.receptacle_id,
                }
                for a in self._actions
            ],
            "frames": [[t, [[int(s), int(i)] for s, i in m.items()]] for t, m in self._frames.items()],
        }

    @classmethod
    def from_state(cls, data: Any) -> ActionLog:
        out = cls()

        def opt_int(v: Any) -> Optional[int]:
            return None if v is None else int(v)

        try:
            for d in data["actions"]:
                g = [float(x) for x in d["gripper"]]
                if len(g) != 3:
                    raise ValueError("gripper position must have 3 coordinates")
                out.add(LoggedAction(
                    action_id=int(d["id"]), kind=ActionKind(d["kind"]), stamp_ns=int(d["stamp_ns"]),
                    gripper_position=(g[0], g[1], g[2]), segment_id=opt_int(d["segment_id"]),
                    frame_stamp_ns=opt_int(d["frame_stamp_ns"]), instance_hint=opt_int(d["instance_hint"]),
                    label_hint=str(d["label_hint"]), instance_id=opt_int(d["instance_id"]),
                    resolution=Resolution(d["resolution"]), room=None if d["room"] is None else str(d["room"]),
                    receptacle_id=opt_int(d["receptacle_id"]),
                ))
            out._next_id = max(out._next_id, int(data["next_id"]))
            out.holding = opt_int(data["holding"])
            out.holding_since_ns = opt_int(data["holding_since_ns"])
            for t, pairs in data["frames"]:
                out._frames[int(t)] = {int(s): int(i) for s, i in pairs}
        except (KeyError, TypeError, ValueError) as exc:
            raise PersistenceError(f"actions: malformed action log ({type(exc).__name__}: {exc})") from None
        return out
