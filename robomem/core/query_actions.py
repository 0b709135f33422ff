"""Read side of the robot's own actions: :class:`~robomem.core.query_types.ActionRecord` s from the state's
action log, with the places they refer to as the memory currently knows them."""

from __future__ import annotations

from typing import Optional

from robomem.core.action_log import LoggedAction
from robomem.core.objects import ObjectInstance
from robomem.core.query_types import ActionRecord
from robomem.core.state import MemoryState
from robomem.core.types import ActionKind, Placement


def _label_of(state: MemoryState, instance_id: Optional[int]) -> Optional[str]:
    inst = state.objects.find(instance_id) if instance_id is not None else None
    return inst.label if inst is not None else None


def _place_before(inst: ObjectInstance, t_ns: int) -> Optional[Placement]:
    """The placement the instance was taken from at ``t_ns`` (the newest one started at or before it)."""
    before = [p for p in inst.placements if p.first_seen_ns <= t_ns]
    return before[-1] if before else None


def _place_after(inst: ObjectInstance, t_ns: int, not_before_ns: int) -> Optional[Placement]:
    """The placement the instance was put at at ``t_ns``: the first one started at or after it, else the one
    started since ``not_before_ns`` (seen there before the event came)."""
    after = [p for p in inst.placements if p.first_seen_ns >= t_ns]
    if after:
        return after[0]
    since = [p for p in inst.placements if p.first_seen_ns >= not_before_ns]
    return since[-1] if since else None


def action_records(state: MemoryState) -> list[ActionRecord]:
    """Every recorded action, oldest first."""
    out: list[ActionRecord] = []
    last_pick: dict[int, LoggedAction] = {}
    for a in state.actions.all():
        iid = state.objects.canonical(a.instance_id) if a.instance_id is not None else None
        inst = state.objects.find(iid) if iid is not None else None
        fr_id: Optional[int] = None
        fr_room: Optional[str] = None
        to_id: Optional[int] = None
        to_room: Optional[str] = None
        if a.kind is ActionKind.PICK:
            p = _place_before(inst, a.stamp_ns) if inst is not None else None
            fr_id, fr_room = (p.receptacle_id, p.room) if p is not None else (a.receptacle_id, a.room)
            if iid is not None:
                last_pick[iid] = a
        else:
            pick = last_pick.pop(iid, None) if iid is not None else None
            if pick is not None and inst is not None:
                p0 = _place_before(inst, pick.stamp_ns)
                fr_id, fr_room = (p0.receptacle_id, p0.room) if p0 is not None else (pick.receptacle_id, pick.room)
            p = _place_after(inst, a.stamp_ns, pick.stamp_ns if pick else a.stamp_ns) if inst is not None else None
            to_id, to_room = (p.receptacle_id, p.room) if p is not None else (a.receptacle_id, a.room)
        out.append(ActionRecord(
            action_id=a.action_id,
            kind=a.kind,
            stamp_ns=a.stamp_ns,
            instance_id=iid,
            label=inst.label if inst is not None else a.label_hint,
            resolved_by=a.resolution.value,
            gripper_position=a.gripper_position,
            label_hint=a.label_hint,
            from_receptacle_id=fr_id,
            from_receptacle=_label_of(state, fr_id),
            from_room=fr_room,
            to_receptacle_id=to_id,
            to_receptacle=_label_of(state, to_id),
            to_room=to_room,
        ))
    return out
