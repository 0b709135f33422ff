"""The robot's own picks and places as :class:`~robomem.core.types.ActionEvent` s, per perception mode.

A manipulation stack knows when its gripper closed and opened, where the gripper was (in the robot's own,
possibly drifting, pose estimate) and which segment of a recent camera frame it grasped or released.
:class:`ActionFeed` turns the episode's :class:`~robomem_sim.episode.RobotAction` s into such events for one
perception mode while the frames stream by:

* the segment hint is the object's segment id in that mode's per-frame mask (its simulator id in ``gt_ids``)
  in the frame nearest to the event that shows it, never a frame after the event: PICK - the latest frame
  before the object left its place (the robot looks at it while picking), PLACE - the frame taken at the
  moment it was put down, when there is one (the memory also knows what the gripper holds); no such frame
  shows it (e.g. missed detections in ``noisy`` / ``unlabelled``): no hint;
* ``label`` is that segment's label in that frame ("" in ``unlabelled``), ``world_T_gripper`` carries the
  mode's pose drift;
* an event is handed out right after the frame its hint refers to (or, without a hint, after the last frame
  at or before its stamp), so a memory can resolve the hint against a frame it has just ingested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from robomem_sim.episode import RobotAction
from robomem_sim.perception import PerceivedFrame, Perceiver

from robomem.core.types import ActionEvent, ActionKind

__all__ = ["ActionFeed"]


@dataclass
class _Pending:
    action: RobotAction
    trigger: int  # deliver after this frame index (-1: before the first frame)
    done: bool = False


class ActionFeed:
    """Action events of one perception mode (see the module docstring). Call :meth:`after_frame` after each
    converted frame (in order) and :meth:`finish` after the last one."""

    def __init__(self, actions: Sequence[RobotAction], perceiver: Perceiver, stamps_ns: Sequence[int]) -> None:
        self.perceiver = perceiver
        self.stamps = np.asarray(stamps_ns, dtype=np.int64)
        self._needed = {i for a in actions for i in a.frames}
        self._seen: dict[int, tuple[int, dict[int, tuple[int, str]]]] = {}  # frame -> (stamp, obj -> (seg, label))
        self._pending: list[_Pending] = []
        for a in actions:
            if a.frames:
                trigger = a.frames[0] if a.kind is ActionKind.PICK else a.frames[-1]
            else:
                trigger = int(np.searchsorted(self.stamps, a.stamp_ns, side="right")) - 1
            self._pending.append(_Pending(a, trigger))

    def after_frame(self, index: int, perceived: PerceivedFrame) -> list[ActionEvent]:
        """Events to hand out now that frame ``index`` was delivered."""
        if index in self._needed:
            f = perceived.frame
            self._seen[index] = (int(f.stamp_ns), {
                obj: (seg, f.instance_labels.get(seg, "")) for obj, seg in perceived.segment_of.items()})
        out = []
        for p in self._pending:
            if p.done:
                continue
            early = p.action.kind is ActionKind.PLACE and self._hint(p.action) is not None
            if p.trigger <= index or (early and index in p.action.frames):
                out.append(self._event(p.action))
                p.done = True
        self._pending = [p for p in self._pending if not p.done]
        return out

    def finish(self) -> list[ActionEvent]:
        """Events not handed out yet (their frames never came)."""
        out = [self._event(p.action) for p in self._pending if not p.done]
        self._pending = []
        return out

    def _hint(self, a: RobotAction) -> Optional[tuple[int, int, str]]:
        """(frame stamp, segment id, label) of the preferred frame that has been seen and shows the object."""
        for i in a.frames:
            seen = self._seen.get(i)
            if seen is None:
                continue
            hit = seen[1].get(a.object_id)
            if hit is not None:
                return (seen[0], hit[0], hit[1])
        return None

    def _event(self, a: RobotAction) -> ActionEvent:
        hint = self._hint(a)
        pose = Perceiver.apply_drift(a.world_T_gripper, self.perceiver.drift_near(a.stamp_ns, self.stamps))
        if hint is None:
            return ActionEvent(a.kind, a.stamp_ns, pose)
        stamp, seg, label = hint
        return ActionEvent(a.kind, a.stamp_ns, pose, segment_id=seg, frame_stamp_ns=stamp, label=label)
