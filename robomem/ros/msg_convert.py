"""Core query results <-> ``robomem_interfaces`` messages, both ways.

``*_to_msg`` fill messages for the memory server's responses; ``*_from_msg`` rebuild the core dataclasses
(:mod:`robomem.core.query_types`) for :class:`~robomem.ros.memory_client.RosMemoryClient`, so a planner sees
the same types in-process and over ROS. Optional values travel as sentinels documented in the .msg files
(-1 ids, empty strings, ``has_*`` / ``open_ended`` flags). Times are ``builtin_interfaces/Time``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional

import numpy as np

from robomem.core.query_types import (
    ActionRecord,
    Change,
    ChangeKind,
    GraphEdge,
    InstanceSummary,
    KeyframeInfo,
    NodeRef,
    QueryStatus,
    RoomVisit,
)
from robomem.core.types import ActionEvent, ActionKind, Box3D, NodeKind, Placement, Region, Relation, TimeInterval
from robomem.errors import RosError
from robomem.ros.converters import (
    fill_image,
    fill_pose,
    image_to_rgb,
    pose_to_matrix,
    rgb_to_image_fields,
    set_stamp,
    stamp_to_ns,
)

KIND_TO_MSG = {NodeKind.OBJECT: 0, NodeKind.RECEPTACLE: 1, NodeKind.ROOM: 2}
KIND_FROM_MSG = {v: k for k, v in KIND_TO_MSG.items()}
RELATION_TO_MSG = {Relation.ON: 0, Relation.IN: 1, Relation.NEAR: 2, Relation.PART_OF: 3}
RELATION_FROM_MSG = {v: k for k, v in RELATION_TO_MSG.items()}
CHANGE_TO_MSG = {ChangeKind.APPEARED: 0, ChangeKind.VANISHED: 1, ChangeKind.MOVED: 2}
CHANGE_FROM_MSG = {v: k for k, v in CHANGE_TO_MSG.items()}
ACTION_TO_MSG = {ActionKind.PICK: 0, ActionKind.PLACE: 1}
ACTION_FROM_MSG = {v: k for k, v in ACTION_TO_MSG.items()}


def interfaces(kind: str = "msg") -> ModuleType:
    """``robomem_interfaces.msg`` / ``.srv``, or a RosError that says how to build them."""
    try:
        return importlib.import_module(f"robomem_interfaces.{kind}")
    except ImportError as exc:
        raise RosError(
            f"robomem_interfaces are not importable ({exc}); build them with `bash scripts/build_ros.sh` "
            "in the robomem checkout (after `pip install -r requirements-ros.txt`)"
        ) from None


def status_from_msg(code: int) -> QueryStatus:
    try:
        return QueryStatus(int(code))
    except ValueError:
        return QueryStatus.ERROR


def set_status(response: Any, status: QueryStatus, message: str) -> Any:
    response.status = status.value
    response.message = message
    return response


# ----------------------------------------------------------------------------------------------- points


def _fill_point(p: Any, xyz: Any) -> None:
    p.x, p.y, p.z = (float(v) for v in xyz)


def _point(p: Any) -> tuple[float, float, float]:
    return (float(p.x), float(p.y), float(p.z))


def _opt_str(s: str) -> Optional[str]:
    return s if s else None


# ----------------------------------------------------------------------------------------------- to messages


def instance_to_msg(inst: InstanceSummary) -> Any:
    m = interfaces().MemoryObject()
    m.id = int(inst.instance_id)
    m.label = inst.label or ""
    m.kind = KIND_TO_MSG[inst.kind]
    _fill_point(m.pose.position, inst.position)
    _fill_point(m.box_min, inst.box.min_xyz)
    _fill_point(m.box_max, inst.box.max_xyz)
    m.confidence = float(inst.score)
    set_stamp(m.first_seen, inst.first_seen_ns)
    set_stamp(m.last_seen, inst.last_seen_ns)
    m.present = bool(inst.present)
    m.n_observations = int(inst.n_observations)
    m.receptacle_id = -1 if inst.receptacle_id is None else int(inst.receptacle_id)
    m.receptacle_label = inst.receptacle_label or ""
    m.room = inst.room or ""
    return m


def placement_to_msg(p: Placement) -> Any:
    m = interfaces().Placement()
    _fill_point(m.position, p.position)
    _fill_point(m.box_min, p.box.min_xyz)
    _fill_point(m.box_max, p.box.max_xyz)
    set_stamp(m.first_seen, p.first_seen_ns)
    set_stamp(m.last_seen, p.last_seen_ns)
    m.vanished = p.vanished_ns is not None
    if p.vanished_ns is not None:
        set_stamp(m.vanished_at, p.vanished_ns)
    m.receptacle_id = -1 if p.receptacle_id is None else int(p.receptacle_id)
    m.room = p.room or ""
    return m


def interval_to_msg(iv: TimeInterval) -> Any:
    m = interfaces().ObservationInterval()
    set_stamp(m.start, iv.start_ns)
    m.open_ended = iv.end_ns is None
    if iv.end_ns is not None:
        set_stamp(m.end, iv.end_ns)
    return m


def edge_to_msg(e: GraphEdge) -> Any:
    m = interfaces().SceneGraphEdge()
    m.source_kind = KIND_TO_MSG[e.source.kind]
    m.source_id = -1 if e.source.instance_id is None else int(e.source.instance_id)
    m.source_name = e.source.name
    m.relation = RELATION_TO_MSG[e.relation]
    m.target_kind = KIND_TO_MSG[e.target.kind]
    m.target_id = -1 if e.target.instance_id is None else int(e.target.instance_id)
    m.target_name = e.target.name
    m.intervals = [interval_to_msg(iv) for iv in e.intervals]
    return m


def change_to_msg(c: Change) -> Any:
    m = interfaces().Change()
    m.kind = CHANGE_TO_MSG[c.kind]
    m.instance_id = int(c.instance_id)
    m.label = c.label or ""
    set_stamp(m.stamp, c.stamp_ns)
    m.has_from_position = c.from_position is not None
    if c.from_position is not None:
        _fill_point(m.from_position, c.from_position)
    m.has_to_position = c.to_position is not None
    if c.to_position is not None:
        _fill_point(m.to_position, c.to_position)
    m.from_receptacle = c.from_receptacle or ""
    m.to_receptacle = c.to_receptacle or ""
    m.from_room = c.from_room or ""
    m.to_room = c.to_room or ""
    return m


def action_event_from_msg(m: Any, world_T_frame: Optional[np.ndarray] = None) -> ActionEvent:
    """``robomem_interfaces/ActionEvent`` -> core event; ``world_T_frame`` maps the pose's header frame into the
    world (None: it already is the world frame). Raises RosError for an unknown kind."""
    kind = ACTION_FROM_MSG.get(int(m.kind))
    if kind is None:
        raise RosError(f"ActionEvent.kind must be PICK (0) or PLACE (1), got {int(m.kind)}")
    pose = pose_to_matrix(m.gripper_pose)
    if world_T_frame is not None:
        pose = world_T_frame @ pose
    frame_stamp = stamp_to_ns(m.frame_stamp)
    return ActionEvent(
        kind=kind,
        stamp_ns=stamp_to_ns(m.header.stamp),
        world_T_gripper=pose,
        segment_id=int(m.segment_id) if int(m.segment_id) >= 0 else None,
        frame_stamp_ns=frame_stamp if frame_stamp > 0 else None,
        instance_id=int(m.instance_id) if int(m.instance_id) >= 0 else None,
        label=str(m.label),
    )


def action_record_to_msg(a: ActionRecord) -> Any:
    m = interfaces().ActionRecord()
    m.action_id = int(a.action_id)
    m.kind = ACTION_TO_MSG[a.kind]
    set_stamp(m.stamp, a.stamp_ns)
    m.instance_id = -1 if a.instance_id is None else int(a.instance_id)
    m.label = a.label or ""
    m.resolved_by = a.resolved_by
    _fill_point(m.gripper_position, a.gripper_position)
    m.label_hint = a.label_hint or ""
    m.from_receptacle_id = -1 if a.from_receptacle_id is None else int(a.from_receptacle_id)
    m.from_receptacle = a.from_receptacle or ""
    m.from_room = a.from_room or ""
    m.to_receptacle_id = -1 if a.to_receptacle_id is None else int(a.to_receptacle_id)
    m.to_receptacle = a.to_receptacle or ""
    m.to_room = a.to_room or ""
    return m


def action_record_from_msg(m: Any) -> ActionRecord:
    def opt_id(v: int) -> Optional[int]:
        return None if int(v) < 0 else int(v)

    return ActionRecord(
        action_id=int(m.action_id),
        kind=ACTION_FROM_MSG[int(m.kind)],
        stamp_ns=stamp_to_ns(m.stamp),
        instance_id=opt_id(m.instance_id),
        label=m.label,
        resolved_by=m.resolved_by,
        gripper_position=_point(m.gripper_position),
        label_hint=m.label_hint,
        from_receptacle_id=opt_id(m.from_receptacle_id),
        from_receptacle=_opt_str(m.from_receptacle),
        from_room=_opt_str(m.from_room),
        to_receptacle_id=opt_id(m.to_receptacle_id),
        to_receptacle=_opt_str(m.to_receptacle),
        to_room=_opt_str(m.to_room),
    )


def keyframe_to_msg(k: KeyframeInfo, include_thumbnail: bool = True, frame_id: str = "") -> Any:
    m = interfaces().Keyframe()
    m.id = int(k.keyframe_id)
    set_stamp(m.stamp, k.stamp_ns)
    set_stamp(m.last_confirmed, k.last_confirmed_ns)
    fill_pose(m.world_pose, k.world_T_camera)
    m.visible_instance_ids = [int(i) for i in k.visible_instance_ids]
    m.score = float(k.score)
    if include_thumbnail and k.thumbnail is not None:
        fill_image(m.thumbnail, rgb_to_image_fields(np.ascontiguousarray(k.thumbnail), "rgb8"))
        set_stamp(m.thumbnail.header.stamp, k.stamp_ns)
        m.thumbnail.header.frame_id = frame_id
    return m


def room_visit_to_msg(v: RoomVisit) -> Any:
    m = interfaces().RoomVisit()
    m.room = v.room
    set_stamp(m.enter, v.enter_ns)
    m.still_there = v.exit_ns is None
    if v.exit_ns is not None:
        set_stamp(m.exit, v.exit_ns)
    return m


def region_to_msg(r: Region) -> Any:
    m = interfaces().Region()
    m.name = r.name
    _fill_point(m.box_min, r.box.min_xyz)
    _fill_point(m.box_max, r.box.max_xyz)
    return m


# ----------------------------------------------------------------------------------------------- from messages


def instance_from_msg(m: Any) -> InstanceSummary:
    return InstanceSummary(
        instance_id=int(m.id),
        label=m.label,
        kind=KIND_FROM_MSG.get(int(m.kind), NodeKind.OBJECT),
        position=_point(m.pose.position),
        box=Box3D(_point(m.box_min), _point(m.box_max)),
        score=float(m.confidence),
        first_seen_ns=stamp_to_ns(m.first_seen),
        last_seen_ns=stamp_to_ns(m.last_seen),
        present=bool(m.present),
        n_observations=int(m.n_observations),
        receptacle_id=None if int(m.receptacle_id) < 0 else int(m.receptacle_id),
        receptacle_label=_opt_str(m.receptacle_label),
        room=_opt_str(m.room),
    )


def placement_from_msg(m: Any) -> Placement:
    return Placement(
        position=_point(m.position),
        box=Box3D(_point(m.box_min), _point(m.box_max)),
        first_seen_ns=stamp_to_ns(m.first_seen),
        last_seen_ns=stamp_to_ns(m.last_seen),
        vanished_ns=stamp_to_ns(m.vanished_at) if m.vanished else None,
        receptacle_id=None if int(m.receptacle_id) < 0 else int(m.receptacle_id),
        room=_opt_str(m.room),
    )


def interval_from_msg(m: Any) -> TimeInterval:
    return TimeInterval(stamp_to_ns(m.start), None if m.open_ended else stamp_to_ns(m.end))


def _node_from_msg(kind: int, instance_id: int, name: str) -> NodeRef:
    k = KIND_FROM_MSG.get(int(kind), NodeKind.OBJECT)
    return NodeRef(k, instance_id=None if int(instance_id) < 0 else int(instance_id), name=name)


def edge_from_msg(m: Any) -> GraphEdge:
    return GraphEdge(
        source=_node_from_msg(m.source_kind, m.source_id, m.source_name),
        relation=RELATION_FROM_MSG[int(m.relation)],
        target=_node_from_msg(m.target_kind, m.target_id, m.target_name),
        intervals=tuple(interval_from_msg(iv) for iv in m.intervals),
    )


def change_from_msg(m: Any) -> Change:
    return Change(
        kind=CHANGE_FROM_MSG[int(m.kind)],
        instance_id=int(m.instance_id),
        label=m.label,
        stamp_ns=stamp_to_ns(m.stamp),
        from_position=_point(m.from_position) if m.has_from_position else None,
        to_position=_point(m.to_position) if m.has_to_position else None,
        from_receptacle=_opt_str(m.from_receptacle),
        to_receptacle=_opt_str(m.to_receptacle),
        from_room=_opt_str(m.from_room),
        to_room=_opt_str(m.to_room),
    )


def keyframe_from_msg(m: Any) -> KeyframeInfo:
    thumb = image_to_rgb(m.thumbnail).copy() if int(m.thumbnail.width) > 0 else None
    return KeyframeInfo(
        keyframe_id=int(m.id),
        stamp_ns=stamp_to_ns(m.stamp),
        world_T_camera=pose_to_matrix(m.world_pose),
        visible_instance_ids=tuple(int(i) for i in m.visible_instance_ids),
        score=float(m.score),
        thumbnail=thumb,
        last_confirmed_ns=stamp_to_ns(m.last_confirmed),
    )


def room_visit_from_msg(m: Any) -> RoomVisit:
    return RoomVisit(m.room, stamp_to_ns(m.enter), None if m.still_there else stamp_to_ns(m.exit))


def region_from_msg(m: Any) -> Region:
    return Region(m.name, Box3D(_point(m.box_min), _point(m.box_max)))
