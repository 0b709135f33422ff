"""The robot's own pick/place events: validated, resolved to instances, applied as evidence, queried, persisted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robomem.config import EncoderConfig, MemoryConfig, VoxelConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.query_types import ChangeKind, QueryStatus
from robomem.core.types import ActionEvent, ActionKind
from robomem.encoders.base import create_encoder
from robomem.errors import ActionError
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def make_memory(encoder, regions) -> SpatioSemanticMemory:
    return SpatioSemanticMemory(MemoryConfig(voxel=dataclasses.replace(VoxelConfig(), pixel_stride=1)), encoder,
                                regions)


def gripper_at(xyz) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = xyz
    return pose


def pick_and_place(encoder, place_event: bool = True, frame_first: bool = False):
    """The robot sees the mug on the kitchen table, picks it (segment hint), puts it on the coffee table."""
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE2, T0))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + SEC))
    mug_pos = world.entities[10].center
    pick = mem.record_action(ActionEvent(ActionKind.PICK, T0 + 2 * SEC, gripper_at(mug_pos), segment_id=10,
                                         frame_stamp_ns=T0 + SEC))
    world.entities[10].visible = False  # in the gripper
    world.put_on(10, 2, dxy=(0.3, 0.2))
    place_ev = ActionEvent(ActionKind.PLACE, T0 + 30 * SEC, gripper_at(world.entities[10].center))
    if place_event and not frame_first:
        mem.record_action(place_ev)
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 31 * SEC))
    if place_event and frame_first:
        mem.record_action(dataclasses.replace(place_ev, stamp_ns=T0 + 31 * SEC))
    return mem, pick


def test_pick_then_place_elsewhere_is_one_move_and_what_was_picked_is_a_fact(encoder):
    mem, pick = pick_and_place(encoder)
    assert pick.resolved_by == "segment" and pick.label == "red ceramic mug"
    assert pick.from_receptacle == "wooden kitchen table" and pick.from_room == "kitchen"
    mug = pick.instance_id
    res = mem.actions()
    assert res.status is QueryStatus.OK
    assert [(a.kind, a.instance_id) for a in res.actions] == [(ActionKind.PICK, mug), (ActionKind.PLACE, mug)]
    place = res.actions[1]
    assert place.resolved_by == "held" and place.to_receptacle == "white coffee table"
    assert place.to_room == "living room" and place.from_room == "kitchen"
    # one mug, two places; the sighting at the new place refined the provisional one
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug)
    assert [p.room for p in hist.placements] == ["kitchen", "living room"]
    assert hist.placements[0].vanished_ns == T0 + 2 * SEC  # it left when the robot took it
    assert [a.kind for a in hist.actions] == [ActionKind.PICK, ActionKind.PLACE]
    assert np.linalg.norm(np.subtract(hist.placements[1].position[:2], (-1.7, 0.2))) < 0.1
    assert any(c.kind is ChangeKind.MOVED and c.instance_id == mug for c in mem.changes(T0, T0 + 60 * SEC).changes)
    # filters
    assert [a.kind for a in mem.actions(kind=ActionKind.PICK).actions] == [ActionKind.PICK]
    assert mem.actions(t0_ns=T0 + 10 * SEC).actions[0].kind is ActionKind.PLACE
    assert mem.actions(instance_id=mug).actions == res.actions
    assert mem.actions(t0_ns=T0 + 10, t1_ns=T0).status is QueryStatus.BAD_REQUEST
    assert mem.stats()["actions"] == 2


def test_the_frame_before_the_place_event_still_gives_one_instance(encoder):
    mem, pick = pick_and_place(encoder, frame_first=True)
    assert mem.count("red mug", include_vanished=True).count == 1
    place = mem.actions(kind=ActionKind.PLACE).actions[0]
    assert place.instance_id == pick.instance_id and place.to_room == "living room"


def test_without_actions_the_memory_says_so(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    res = mem.actions()
    assert res.status is QueryStatus.NOT_FOUND and "inferred" in res.message


def test_a_pick_resolves_by_gripper_position_and_label(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mug = mem.locate("red mug").matches[0].instance_id
    rec = mem.record_action(ActionEvent(ActionKind.PICK, T0 + SEC, gripper_at(world.entities[10].center),
                                        label="red ceramic mug"))
    assert rec.instance_id == mug and rec.resolved_by == "gripper"
    assert mem.locate("red mug").status is QueryStatus.NOT_FOUND  # it is in the gripper, not on the table
    far = mem.record_action(ActionEvent(ActionKind.PICK, T0 + 2 * SEC, gripper_at((9.0, 9.0, 1.0)), label="mug"))
    assert far.instance_id is None and far.resolved_by == "unresolved" and far.label == "mug"


def test_a_segment_hint_for_a_frame_not_yet_ingested_waits_for_it(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE2, T0))
    rec = mem.record_action(ActionEvent(ActionKind.PICK, T0 + 2 * SEC, gripper_at(world.entities[10].center),
                                        segment_id=10, frame_stamp_ns=T0 + SEC))
    assert rec.resolved_by == "pending" and rec.instance_id is None
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + SEC))
    (done,) = mem.actions().actions
    assert done.resolved_by == "segment" and done.label == "red ceramic mug"
    assert mem.history(instance_id=done.instance_id).placements[0].vanished_ns == T0 + 2 * SEC


def test_bad_action_events_are_rejected_and_change_nothing(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    ok = ActionEvent(ActionKind.PICK, T0 + SEC, gripper_at((2.0, 0.0, 0.8)))
    mem.record_action(dataclasses.replace(ok, stamp_ns=T0 + 5 * SEC))
    before = mem.stats()
    nan_pose = gripper_at((2.0, 0.0, 0.8))
    nan_pose[0, 3] = np.nan
    scaled = gripper_at((2.0, 0.0, 0.8))
    scaled[:3, :3] *= 2.0
    cases = {
        "out-of-order": ok,
        "NaN": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, world_T_gripper=nan_pose),
        "orthonormal": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, world_T_gripper=scaled),
        "4x4": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, world_T_gripper=np.eye(3)),
        "positive integer": dataclasses.replace(ok, stamp_ns=-3),
        "max_lead_s": dataclasses.replace(ok, stamp_ns=T0 + 10_000 * SEC),
        "never issued": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, instance_id=999),
        "segment_id": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, segment_id=-4),
        "ActionKind": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, kind="pick"),  # type: ignore[arg-type]
        "at or before": dataclasses.replace(ok, stamp_ns=T0 + 6 * SEC, segment_id=3, frame_stamp_ns=T0 + 7 * SEC),
    }
    for needle, event in cases.items():
        with pytest.raises(ActionError, match=needle):
            mem.record_action(event)
    after = mem.stats()
    assert after["actions"] == before["actions"] and after["actions_rejected"] == len(cases)
    with pytest.raises(ActionError, match="ActionEvent"):
        mem.record_action("pick the mug")  # type: ignore[arg-type]


def test_save_load_keeps_the_actions_and_what_the_gripper_holds(encoder, tmp_path):
    mem, _ = pick_and_place(encoder, place_event=False)
    mem.save(tmp_path / "m")
    loaded = SpatioSemanticMemory.load(tmp_path / "m", encoder)
    assert loaded.actions() == mem.actions()
    assert loaded.state.actions.holding == mem.state.actions.holding is not None
    # the held object is put down after the reload: still the same instance
    world, _ = kitchen_world()
    rec = loaded.record_action(ActionEvent(ActionKind.PLACE, T0 + 40 * SEC, gripper_at((2.0, 0.3, 0.83))))
    assert rec.resolved_by == "held" and rec.instance_id == mem.state.actions.holding


def test_a_frame_older_than_a_reported_pick_does_not_put_the_object_back(encoder):
    # ROS: the manipulation stack's event can overtake camera frames still queued for the memory
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mug = mem.record_action(ActionEvent(ActionKind.PICK, T0 + 5 * SEC, gripper_at(world.entities[10].center),
                                        label="mug")).instance_id
    assert mug is not None
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 3 * SEC))  # taken before the pick: the mug is still there
    hist = mem.history(instance_id=mug)
    assert len(hist.placements) == 1 and hist.placements[0].vanished_ns == T0 + 5 * SEC
    assert hist.placements[0].last_seen_ns == T0 + 3 * SEC
    assert mem.locate("red mug").status is QueryStatus.NOT_FOUND
    assert mem.count("red mug", include_vanished=True).count == 1
