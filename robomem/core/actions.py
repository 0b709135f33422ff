"""The robot's own actions (pick / place) as facts in the memory.

A manipulation stack reports what its gripper did as :class:`~robomem.core.types.ActionEvent` s;
:func:`record_action` validates the event, stores it in the state's :class:`ActionLog`, resolves it to an
instance and applies it as evidence:

* **Resolution**, first hint that works: the ``instance_id`` hint (following merges); the ``segment_id`` hint in
  the frame stamped ``frame_stamp_ns`` (default: the newest frame ingested at or before the event); for a PLACE,
  the object held since the last PICK; the nearest instance to the gripper (within
  ``ActionConfig.gripper_radius``) whose label agrees with the ``label`` hint. An event whose frame has not been
  ingested yet waits (``pending``) and is resolved by the ingest of that frame.
* **Evidence**: a PICK closes the instance's current place at the event's stamp (it left: a fact, no
  seen-through evidence needed) and the robot holds it; a PLACE opens a new, provisional place at the gripper
  (refined by the first sighting there) - a PICK then a PLACE elsewhere is a move of that one instance. A fresh
  instance already created where the object was put (the frame came before the event) is merged into it.

Nothing here imports the facade; queries read the log through :class:`~robomem.core.query.QueryEngine`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Optional

import numpy as np

from robomem.core.action_log import LoggedAction, Resolution
from robomem.core.geometry import is_rotation
from robomem.core.instances import top_label
from robomem.core.objects import ObjectInstance
from robomem.core.state import MemoryState
from robomem.core.trajectory import room_of
from robomem.core.types import NO_INSTANCE, ActionEvent, ActionKind, Box3D, NodeKind
from robomem.core.updates import merge_instances, update_relations
from robomem.errors import ActionError

log = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]

DEFAULT_OBJECT_SIZE = 0.1
"""Edge (m) of the provisional box of a placed object whose size is unknown."""


# ============================================================================================ validation
def check_action(event: ActionEvent, state: MemoryState) -> Vec3:
    """Validate ``event`` against the memory; returns the gripper position. Raises ActionError."""
    if not isinstance(event, ActionEvent):
        raise ActionError(f"expected a robomem.core.types.ActionEvent, got {type(event).__name__}")
    if not isinstance(event.kind, ActionKind):
        raise ActionError(f"kind must be ActionKind.PICK or ActionKind.PLACE, got {event.kind!r}")
    stamp = event.stamp_ns
    if isinstance(stamp, bool) or not isinstance(stamp, (int, np.integer)) or stamp <= 0:
        raise ActionError(f"stamp_ns must be a positive integer (ns since the epoch), got {stamp!r}")
    newest = state.actions.newest_stamp_ns
    if newest is not None and int(stamp) < newest:
        raise ActionError(
            f"out-of-order action: {int(stamp)} ns is {(newest - int(stamp)) / 1e9:.3f} s older than the newest "
            f"action already recorded ({newest} ns); report actions in time order"
        )
    lead = state.config.actions.max_lead_s
    if state.last_stamp_ns is not None and int(stamp) > state.last_stamp_ns + int(lead * 1e9):
        raise ActionError(
            f"action stamp {int(stamp)} ns is {(int(stamp) - state.last_stamp_ns) / 1e9:.1f} s after the newest "
            f"frame ({state.last_stamp_ns} ns), more than actions.max_lead_s = {lead} s: check the clock "
            "(the manipulation stack and the camera must share one time base)"
        )
    try:
        pose = np.asarray(event.world_T_gripper, dtype=np.float64)
    except (TypeError, ValueError):
        raise ActionError("world_T_gripper must be a 4x4 array of floats") from None
    if pose.shape != (4, 4):
        raise ActionError(f"world_T_gripper must be 4x4, got shape {pose.shape}")
    if not np.all(np.isfinite(pose)):
        raise ActionError("world_T_gripper contains NaN or inf; check the gripper pose source (TF/kinematics)")
    if not np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        raise ActionError(f"world_T_gripper's last row must be [0 0 0 1], got {pose[3].tolist()}")
    if not is_rotation(pose[:3, :3]):
        raise ActionError("world_T_gripper's rotation is not orthonormal with det +1; re-normalise the quaternion")
    for name, value, low in (("segment_id", event.segment_id, 0), ("frame_stamp_ns", event.frame_stamp_ns, 1),
                             ("instance_id", event.instance_id, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low):
            raise ActionError(f"{name} must be None or an integer >= {low}, got {value!r}")
    if event.instance_id is not None and not state.objects.issued(int(event.instance_id)):
        raise ActionError(f"instance_id hint {event.instance_id} was never issued by this memory; "
                          "leave it None or list instances() first")
    if event.segment_id is not None and event.frame_stamp_ns is not None and event.frame_stamp_ns > stamp:
        raise ActionError(f"frame_stamp_ns ({event.frame_stamp_ns}) is after the action ({int(stamp)}): the segment "
                          "hint must refer to a frame taken at or before the action")
    if not isinstance(event.label, str):
        raise ActionError(f"label must be a string, got {type(event.label).__name__}")
    t = pose[:3, 3]
    return (float(t[0]), float(t[1]), float(t[2]))


# ============================================================================================ resolution
def _label_agrees(state: MemoryState, instance_id: int, label: str, text_feature: Callable[[str], np.ndarray]) -> bool:
    if not label:
        return True
    inst = state.objects.get(instance_id)
    if label in inst.label_votes or label == inst.label:
        return True
    words = set(label.lower().split())
    if any(words <= set(lab.lower().split()) for lab in inst.label_votes):  # "mug" names a "red ceramic mug"
        return True
    if inst.feature is None:
        return False
    return float(np.dot(text_feature(label), inst.feature)) >= state.config.query.not_found_threshold


def _nearest(
    state: MemoryState, xyz: Vec3, label: str, text_feature: Callable[[str], np.ndarray], present_only: bool
) -> Optional[int]:
    radius = state.config.actions.gripper_radius
    c = np.asarray(xyz)
    best, best_d = None, radius
    for inst in state.objects.all():
        if inst.kind is not NodeKind.OBJECT or (present_only and not inst.present):
            continue
        box = inst.current.box
        d = float(np.linalg.norm(np.maximum(np.maximum(np.asarray(box.min_xyz) - c, c - np.asarray(box.max_xyz)), 0)))
        if d <= best_d and _label_agrees(state, inst.instance_id, label, text_feature):
            best, best_d = inst.instance_id, d
    return best


def _resolve(
    state: MemoryState, a: LoggedAction, text_feature: Callable[[str], np.ndarray]
) -> tuple[Optional[int], Resolution]:
    objs = state.objects
    if a.instance_hint is not None:
        iid = objs.canonical(a.instance_hint)
        if iid is not None:
            return iid, Resolution.INSTANCE
    if a.segment_id is not None:
        found = state.actions.frame_map(a.frame_stamp_ns, a.stamp_ns)
        if found is None and a.frame_stamp_ns is not None and (
            state.last_stamp_ns is None or a.frame_stamp_ns > state.last_stamp_ns
        ):
            return None, Resolution.PENDING  # that frame has not been ingested yet
        if found is not None:
            iid0 = found[1].get(a.segment_id)
            iid = objs.canonical(iid0) if iid0 is not None else None
            if iid is None:  # a segment not confirmed yet: the robot acting on it confirms it
                iid = objs.confirm_segment(found[0], a.segment_id)
                if iid is not None:
                    update_relations(state, [iid], a.stamp_ns)
                    state.pending.instance_changed(iid)
            if iid is not None:
                return iid, Resolution.SEGMENT
    if a.kind is ActionKind.PLACE and state.actions.holding is not None:
        iid = objs.canonical(state.actions.holding)
        if iid is not None:
            return iid, Resolution.HELD
    if a.kind is ActionKind.PICK:
        iid = _nearest(state, a.gripper_position, a.label_hint, text_feature, present_only=True)
        if iid is not None:
            return iid, Resolution.GRIPPER
    return None, Resolution.UNRESOLVED


def _receptacle_at(state: MemoryState, xyz: Vec3) -> Optional[int]:
    """The present receptacle whose box (grown by the ON tolerance) contains ``xyz`` (the nearest centre wins)."""
    tol = state.config.graph.on_tolerance
    best, best_d = None, float("inf")
    for inst in state.objects.present():
        if inst.kind is NodeKind.RECEPTACLE and inst.current.box.contains(xyz, margin=tol):
            d = float(np.linalg.norm(np.subtract(inst.current.box.center, xyz)))
            if d < best_d:
                best, best_d = inst.instance_id, d
    return best


def _apply(state: MemoryState, a: LoggedAction) -> None:
    """Apply a resolved action as evidence (see the module docstring)."""
    iid = a.instance_id
    log_ = state.actions
    if a.kind is ActionKind.PICK:
        if iid is not None:
            inst = state.objects.get(iid)
            put_down = state.objects.after_pick(iid, a.stamp_ns)  # decides the moved-object hypotheses about it
            if state.objects.pick(iid, a.stamp_ns):
                state.graph.close_all(iid, a.stamp_ns)
                state.voxels.relabel_instance(iid, NO_INSTANCE)  # the voxels at the old place are not the object
            if put_down is not None:  # seen where it was put before the pick was reported
                merge_instances(state, iid, put_down, a.stamp_ns)
            elif not inst.present and (inst.current.vanished_ns or 0) > a.stamp_ns:
                inst.placements[-1] = replace(inst.current, vanished_ns=a.stamp_ns)  # seen gone after the pick
            state.pending.instance_changed(iid)
        log_.holding, log_.holding_since_ns = iid, a.stamp_ns
        return
    # PLACE
    held_since = log_.holding_since_ns
    log_.holding, log_.holding_since_ns = None, None
    if iid is None:
        return
    inst = state.objects.get(iid)
    half = np.asarray(inst.current.box.max_xyz) - np.asarray(inst.current.box.min_xyz)
    half = np.where(half > 0, half, DEFAULT_OBJECT_SIZE) / 2.0
    g = np.asarray(a.gripper_position)
    box = Box3D(tuple((g - half).tolist()), tuple((g + half).tolist()))  # type: ignore[arg-type]
    if inst.present and np.linalg.norm(np.subtract(inst.current.position, a.gripper_position)) <= (
        state.config.objects.match_distance
    ) and inst.current.first_seen_ns >= (held_since or a.stamp_ns):
        return  # already seen where it was put (the frame came first)
    fresh = _fresh_instance_at(state, iid, a)
    state.objects.place(iid, a.gripper_position, box, a.stamp_ns)
    if fresh is not None:
        merge_instances(state, iid, fresh, a.stamp_ns)
    else:
        key = _fresh_candidate_at(state, inst, a, held_since)
        if key is not None:  # a tentative segment seen where it was put down: the held object itself
            state.objects.fold_candidate(iid, key)
    update_relations(state, [iid], a.stamp_ns)
    state.pending.instance_changed(iid)


def _fresh_instance_at(state: MemoryState, iid: int, a: LoggedAction) -> Optional[int]:
    """A newer single-placement instance of the same kind where the object was put: the object itself, seen
    there before the PLACE was reported."""
    inst = state.objects.get(iid)
    since = a.stamp_ns - int(state.config.actions.max_lead_s * 1e9)
    best, best_d = None, state.config.objects.match_distance
    for other in state.objects.present():
        if other.instance_id == iid or other.kind is not inst.kind or len(other.placements) != 1:
            continue
        if other.first_seen_ns < since or other.first_seen_ns < inst.current.last_seen_ns:
            continue
        d = float(np.linalg.norm(np.subtract(other.current.position, a.gripper_position)))
        if d <= best_d and _looks_like(state, inst, other, a.label_hint):
            best, best_d = other.instance_id, d
    return best


def _fresh_candidate_at(state: MemoryState, held: ObjectInstance, a: LoggedAction,
                        held_since_ns: Optional[int]) -> Optional[int]:
    """The key of a tentative candidate first seen since the object was picked (or ``max_lead_s`` before the
    PLACE), within ``match_distance`` of the gripper and looking like the held object: the object put down,
    seen there before it was confirmed."""
    since = max(held_since_ns or 0, a.stamp_ns - int(state.config.actions.max_lead_s * 1e9))
    best, best_d = None, state.config.objects.match_distance
    for cand in state.objects.tentative.items():
        if cand.kind is not held.kind or cand.first_seen_ns < since:
            continue
        d = float(np.linalg.norm(np.subtract(cand.position, a.gripper_position)))
        if d > best_d:
            continue
        votes = cand.label_votes
        top = top_label(votes)
        if state.objects.labels.distinct(top, held.label_votes) and not (a.label_hint and a.label_hint in votes):
            continue  # labels tell look-alikes apart: another object put down next to it
        same = (not votes or (a.label_hint and a.label_hint in votes) or top in held.label_votes
                or (held.feature is not None and cand.feature is not None
                    and float(np.dot(held.feature, cand.feature)) >= state.config.objects.match_similarity))
        if same:
            best, best_d = cand.key, d
    return best


def _looks_like(state: MemoryState, held: ObjectInstance, other: ObjectInstance, label_hint: str) -> bool:
    """Whether ``other`` (seen where ``held`` was put) can be ``held``: the event's label or the held object's
    labels name it, or their features agree; an object with another name next to the gripper is not it."""
    if not other.label_votes:
        return True
    if label_hint and label_hint in other.label_votes:
        return True
    if other.label in held.label_votes:
        return True
    if state.objects.labels.distinct(other.label, held.label_votes):
        return False  # labels tell look-alikes apart (robomem.core.label_trust): another object
    if held.feature is not None and other.feature is not None:
        return float(np.dot(held.feature, other.feature)) >= state.config.objects.match_similarity
    return not held.label_votes


def record_action(
    state: MemoryState,
    event: ActionEvent,
    text_feature: Callable[[str], np.ndarray],
) -> LoggedAction:
    """Validate, store, resolve and apply one event (see the module docstring). Raises ActionError (state
    unchanged) for a malformed event."""
    gripper = check_action(event, state)
    a = LoggedAction(
        action_id=state.actions.next_id(), kind=event.kind, stamp_ns=int(event.stamp_ns), gripper_position=gripper,
        segment_id=None if event.segment_id is None else int(event.segment_id),
        frame_stamp_ns=None if event.frame_stamp_ns is None else int(event.frame_stamp_ns),
        instance_hint=None if event.instance_id is None else int(event.instance_id), label_hint=event.label.strip(),
        room=room_of(gripper, state.regions), receptacle_id=_receptacle_at(state, gripper),
    )
    state.actions.add(a)
    state.count("actions_recorded")
    state.version += 1
    resolve_pending(state, text_feature)
    return a


def resolve_pending(state: MemoryState, text_feature: Callable[[str], np.ndarray]) -> None:
    """Resolve and apply the pending actions in time order, stopping at the first that still waits."""
    for a in state.actions.pending():
        iid, how = _resolve(state, a, text_feature)
        if how is Resolution.PENDING:
            return
        a.instance_id, a.resolution = iid, how
        if iid is None:
            log.info("action %d (%s at %d) matched no instance (hint %r)", a.action_id, a.kind.value, a.stamp_ns,
                     a.label_hint)
        _apply(state, a)
