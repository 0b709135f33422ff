"""End-to-end tests of the memory facade on rendered box worlds (real Open3D, real FAISS, hashing encoder)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robomem.config import EncoderConfig, MemoryConfig, VoxelConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.query_types import ChangeKind, QueryStatus
from robomem.core.types import Frame, NodeKind, Relation
from robomem.encoders.base import create_encoder
from robomem.errors import FrameError
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def make_memory(encoder, regions, **voxel_overrides) -> SpatioSemanticMemory:
    cfg = MemoryConfig(voxel=dataclasses.replace(VoxelConfig(), pixel_stride=1, **voxel_overrides))
    return SpatioSemanticMemory(cfg, encoder, regions)


def look(memory, world, view, t):
    return memory.ingest(world.frame(view[0], view[1], t))


def test_moved_object_keeps_identity_with_two_intervals(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    for i in range(3):
        look(mem, world, VIEW_TABLE1, T0 + i * SEC)
    look(mem, world, VIEW_TABLE2, T0 + 5 * SEC)
    mugs = mem.locate("red mug")
    assert mugs.status is QueryStatus.OK
    mug_id = mugs.matches[0].instance_id
    assert mugs.matches[0].room == "kitchen"
    assert mugs.matches[0].receptacle_label == "wooden kitchen table"

    # the robot picks the mug up and puts it on the coffee table
    world.put_on(10, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE1, T0 + 60 * SEC)  # sees table 1 empty (two frames of evidence) -> mug vanishes
    look(mem, world, VIEW_TABLE1, T0 + 61 * SEC)
    gone = mem.locate("red mug")
    assert gone.status is QueryStatus.NOT_FOUND
    look(mem, world, VIEW_TABLE2, T0 + 120 * SEC)  # sees the mug at its new place -> same instance

    assert mem.count("red mug").count == 1
    hist = mem.history(instance_id=mug_id)
    assert hist.status is QueryStatus.OK
    assert len(hist.placements) == 2
    first, second = hist.placements
    assert first.room == "kitchen" and second.room == "living room"
    assert first.vanished_ns == T0 + 60 * SEC
    assert second.first_seen_ns == T0 + 120 * SEC and second.vanished_ns is None

    now = mem.locate("red mug")
    assert now.matches[0].instance_id == mug_id
    assert now.matches[0].receptacle_label == "white coffee table"
    assert np.linalg.norm(np.subtract(now.matches[0].position[:2], (-1.7, 0.2))) < 0.15

    # time travel: where was it at t=2s?  and what changed since t=30s?
    before = mem.where_at(T0 + 2 * SEC, instance_id=mug_id)
    assert before.status is QueryStatus.OK and before.placement.room == "kitchen"
    ch = mem.changes(T0 + 30 * SEC, T0 + 200 * SEC)
    kinds = {(c.instance_id, c.kind) for c in ch.changes}
    assert (mug_id, ChangeKind.MOVED) in kinds
    kitchen_changes = mem.changes(T0 + 30 * SEC, T0 + 200 * SEC, region="kitchen")
    assert any(c.instance_id == mug_id for c in kitchen_changes.changes)
    assert mem.changes(T0 + 30 * SEC, T0 + 200 * SEC, region="bathroom").status is QueryStatus.BAD_REQUEST

    # scene graph: ON table 1 before, ON table 2 now
    rel_then = mem.relations(mug_id, T0 + 2 * SEC)
    rel_now = mem.relations(mug_id)
    on_then = {
        e.target.instance_id
        for e in rel_then.edges
        if e.relation is Relation.ON and e.source.instance_id == mug_id
    }
    assert len(on_then) == 1
    table1 = mem.locate("wooden kitchen table").matches[0].instance_id
    table2 = mem.locate("white coffee table").matches[0].instance_id
    assert on_then == {table1}
    on_intervals = {e.target.instance_id: e.intervals for e in rel_now.edges if e.relation is Relation.ON}
    assert table2 in on_intervals and on_intervals[table1][-1].end_ns is not None

    state = mem.state_at(T0 + 2 * SEC)
    mug_then = [i for i in state.instances if i.instance_id == mug_id]
    assert mug_then and mug_then[0].room == "kitchen"


def test_seen_elsewhere_first_is_merged_when_old_place_seen_empty(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug_id = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE2, T0 + 10 * SEC)  # new place seen first: looks like a second mug for now
    assert mem.count("red mug").count == 2
    look(mem, world, VIEW_TABLE1, T0 + 20 * SEC)  # old place empty -> the two are one mug that moved
    look(mem, world, VIEW_TABLE1, T0 + 21 * SEC)
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug_id)
    assert len(hist.placements) == 2 and hist.placements[1].room == "living room"
    assert mem.stats()["instances_merged"] == 1


def test_removed_object_gone_from_locate_but_in_history_and_past_state(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug = mem.locate("red mug").matches[0]
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE1, T0 + 30 * SEC)  # two frames of seen-empty evidence (one could be noise)
    look(mem, world, VIEW_TABLE1, T0 + 31 * SEC)
    assert mem.locate("red mug").status is QueryStatus.NOT_FOUND
    assert mem.locate("red mug", include_vanished=True).matches[0].instance_id == mug.instance_id
    hist = mem.history(instance_id=mug.instance_id)
    assert hist.placements[-1].vanished_ns == T0 + 30 * SEC
    assert any(i.instance_id == mug.instance_id for i in mem.state_at(T0 + SEC).instances)
    assert not any(i.instance_id == mug.instance_id for i in mem.state_at(T0 + 31 * SEC).instances)
    last = mem.last_seen(text="red mug")
    assert last.status is QueryStatus.OK and last.instance.present is False
    # negative evidence: "looked at the mug's place at t and it was empty"
    # (the mug's coarse cell also holds the table top, so the cell itself is "observed", and the removal
    # event carries the emptied place)
    observed = mem.voxels.negative.last_observed_ns(np.asarray([mug.position], dtype=np.float32))
    assert int(observed[0]) == T0 + 31 * SEC  # the last look
    events = [e for e in mem.voxels.negative.events(T0, T0 + 60 * SEC) if e.instance_id == mug.instance_id]
    assert len(events) == 1 and events[0].stamp_ns == T0 + 30 * SEC
    assert np.linalg.norm(np.subtract(events[0].centroid, mug.position)) < 0.1


def test_occluded_voxels_survive(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug_id = mem.locate("red mug").matches[0].instance_id
    n_before = mem.voxels.instance_voxel_counts()[mug_id]
    # a big box appears between the camera and the table: the mug is hidden, not gone
    world.add(50, "cardboard box", (1.2, 0.0, 0.6), (0.3, 2.0, 1.2), color=(150, 120, 60))
    look(mem, world, VIEW_TABLE1, T0 + 10 * SEC)
    assert mem.voxels.instance_voxel_counts()[mug_id] == n_before
    assert mem.locate("red mug").status is QueryStatus.OK


def test_removal_off_keeps_stale_objects(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions, removal=False)
    look(mem, world, VIEW_TABLE1, T0)
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE1, T0 + 30 * SEC)  # two frames of seen-empty evidence (one could be noise)
    look(mem, world, VIEW_TABLE1, T0 + 31 * SEC)
    assert mem.locate("red mug").status is QueryStatus.OK  # what a static map believes


def test_static_scene_does_not_grow(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    for i in range(3):
        look(mem, world, VIEW_TABLE1, T0 + i * SEC)
    ref = mem.stats()
    for i in range(3, 40):
        look(mem, world, VIEW_TABLE1, T0 + i * SEC)
    after = mem.stats()
    for key in ("voxels", "instances", "keyframes", "graph_nodes", "graph_edges", "room_visits"):
        assert after[key] == ref[key], key
    assert mem.count("red mug").count == 1
    summary = mem.locate("red mug").matches[0]
    assert summary.last_seen_ns == T0 + 39 * SEC and summary.first_seen_ns == T0


def test_keyframes_and_room_visits(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    look(mem, world, VIEW_TABLE2, T0 + 10 * SEC)
    kf = mem.keyframes_for("red mug", k=3)
    assert kf.status is QueryStatus.OK
    mug_id = mem.locate("red mug").matches[0].instance_id
    assert all(mug_id in k.visible_instance_ids for k in kf.keyframes)
    assert kf.keyframes[0].thumbnail is not None and kf.keyframes[0].thumbnail.dtype == np.uint8
    visits = mem.room_visits()
    assert [v.room for v in visits.visits] == ["kitchen", "living room"]
    assert visits.visits[0].exit_ns == T0 + 10 * SEC
    assert mem.keyframes_for("purple elephant", k=3).status is QueryStatus.NOT_FOUND


def test_unknown_words_and_bad_queries_get_clear_answers(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    res = mem.locate("zxqv flurble")
    assert res.status is QueryStatus.NOT_FOUND and "threshold" in res.message
    assert mem.locate("").status is QueryStatus.BAD_REQUEST
    assert mem.locate("mug", k=0).status is QueryStatus.BAD_REQUEST
    assert mem.history(instance_id=9999).status is QueryStatus.BAD_REQUEST
    assert mem.changes(T0 + 10, T0).status is QueryStatus.BAD_REQUEST
    assert mem.where_at(-5, text="mug").status is QueryStatus.BAD_REQUEST
    assert mem.locate(feature=np.zeros(encoder.dim)).status is QueryStatus.BAD_REQUEST


def _bad(frame: Frame, **changes) -> Frame:
    return dataclasses.replace(frame, **changes)


def test_bad_frames_are_rejected_and_memory_unchanged(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    good = world.frame(*VIEW_TABLE1, T0 + 10 * SEC)
    mem.ingest(good)
    before = mem.stats()
    h, w = good.depth.shape
    rot_scaled = good.world_T_camera.copy()
    rot_scaled[:3, :3] *= 1.1
    nan_pose = good.world_T_camera.copy()
    nan_pose[0, 3] = np.nan
    cases = {
        "out-of-order": _bad(good, stamp_ns=T0),
        "rgb must be uint8": _bad(good, rgb=good.rgb.astype(np.float32)),
        "HxWx3": _bad(good, rgb=good.rgb[:, :, 0]),
        "register depth": _bad(good, depth=good.depth[:-1]),
        "no valid pixel": _bad(good, depth=np.full((h, w), np.nan, dtype=np.float32)),
        "not supported": _bad(good, depth=good.depth.astype(np.int32)),
        "not orthonormal": _bad(good, world_T_camera=rot_scaled),
        "NaN or inf": _bad(good, world_T_camera=nan_pose),
        "4x4": _bad(good, world_T_camera=np.eye(3)),
        "intrinsics are for": _bad(good, intrinsics=dataclasses.replace(good.intrinsics, width=w + 1)),
        "instance_mask must be": _bad(good, instance_mask=good.instance_mask[:, :-1]),
        "integer segment ids": _bad(good, instance_mask=good.instance_mask.astype(np.float32)),
        "depth_scale": _bad(good, depth=(good.depth * 1000).astype(np.uint16), depth_scale=-1.0),
    }
    for needle, frame in cases.items():
        with pytest.raises(FrameError, match=needle):
            mem.ingest(frame)
    after = mem.stats()
    assert after["frames_rejected"] == before["frames_rejected"] + len(cases)
    for key in ("voxels", "instances", "keyframes", "graph_edges", "frames_ingested"):
        assert after[key] == before[key]
    # partially invalid depth is a counted drop, not an error; uint16 millimetres work
    partial = good.depth.copy()
    partial[: h // 2] = np.nan
    stats = mem.ingest(_bad(good, depth=partial, stamp_ns=T0 + 11 * SEC))
    assert stats.pixels_dropped_invalid_depth == (h // 2) * w
    mm = (good.depth * 1000).round().astype(np.uint16)
    assert mem.ingest(_bad(good, depth=mm, stamp_ns=T0 + 12 * SEC)).points_in > 0


def test_no_mask_frames_build_geometry_only(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    stats = look_no_mask = mem.ingest(world.frame(*VIEW_TABLE1, T0, with_mask=False))
    assert look_no_mask.voxels_added > 0 and stats.instances_seen == 0
    assert mem.locate("mug").status is QueryStatus.NOT_FOUND


def test_receptacles_are_typed(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    kinds = {i.label: i.kind for i in mem.instances()}
    assert kinds["wooden kitchen table"] is NodeKind.RECEPTACLE
    assert kinds["red ceramic mug"] is NodeKind.OBJECT


def test_clustering_without_masks_finds_separate_objects(encoder):
    from robomem.config import ObjectConfig
    from tests.core._scene import BoxWorld

    world = BoxWorld()
    world.add(1, "", (2.0, -0.6, 0.2), (0.4, 0.4, 0.4))
    world.add(2, "", (2.0, 0.6, 0.2), (0.4, 0.4, 0.4))
    cfg = MemoryConfig(objects=ObjectConfig(cluster_unlabelled=True))
    mem = SpatioSemanticMemory(cfg, encoder)
    for i in range(3):
        mem.ingest(world.frame((0.0, 0.0, 1.2), (2.0, 0.0, 0.2), T0 + i * SEC, with_mask=False))
    insts = mem.instances()
    assert len(insts) == 2
    ys = sorted(i.position[1] for i in insts)
    assert ys[0] < -0.3 and ys[1] > 0.3


def test_persistent_mask_ids_track_objects_by_id(encoder):
    from robomem.config import MaskIdMode, ObjectConfig

    world, regions = kitchen_world()
    cfg = MemoryConfig(objects=ObjectConfig(mask_ids=MaskIdMode.PERSISTENT))
    mem = SpatioSemanticMemory(cfg, encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mug_id = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.3, 0.2))
    # seen at the new place before the old one is re-checked: the tracker id says it is the same mug
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 10 * SEC))
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug_id)
    assert [p.room for p in hist.placements] == ["kitchen", "living room"]
    assert hist.placements[0].vanished_ns == T0 + 10 * SEC


def test_flat_object_removed_from_a_table_vanishes_by_seen_through_evidence(encoder):
    # a 6 cm book: per-voxel carving (margin 10 cm) cannot clear it, the instance-level check does
    world, regions = kitchen_world()
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE2, T0))
    book = mem.locate("blue paper book").matches[0].instance_id
    world.entities[11].visible = False
    stats = mem.ingest(world.frame(*VIEW_TABLE2, T0 + 10 * SEC))
    assert stats.voxels_removed == 0 or mem.voxels.instance_voxel_counts().get(book, 0) > 0
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 11 * SEC))  # a second frame of evidence
    assert mem.locate("blue paper book").status is QueryStatus.NOT_FOUND
    assert mem.history(instance_id=book).placements[-1].vanished_ns == T0 + 10 * SEC
    # seen from elsewhere (out of view), nothing vanishes
    mem2 = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    mem2.ingest(world.frame(*VIEW_TABLE1, T0))
    mug = mem2.locate("red mug").matches[0].instance_id
    mem2.ingest(world.frame(*VIEW_TABLE2, T0 + 10 * SEC))
    assert mem2.history(instance_id=mug).placements[-1].vanished_ns is None


def test_move_seen_in_one_frame_is_one_instance(encoder):
    # one wide view sees the old place empty and the mug at its new place in the same frame: the instance
    # created for the new sighting is merged into the old one within that frame
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    wide = ((0.0, -3.5, 2.2), (0.0, 0.0, 0.6))
    mem.ingest(world.frame(*wide, T0))
    mug_id = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.2, 0.0))
    mem.ingest(world.frame(*wide, T0 + 10 * SEC))
    mem.ingest(world.frame(*wide, T0 + 11 * SEC))  # the second frame of seen-empty evidence
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug_id)
    assert [p.room for p in hist.placements] == ["kitchen", "living room"]
    assert mem.relations(mug_id).status is QueryStatus.OK


def test_object_seen_again_where_it_vanished_keeps_one_placement(encoder):
    world, regions = kitchen_world()
    mem = make_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug_id = mem.locate("red mug").matches[0].instance_id
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE1, T0 + 10 * SEC)
    look(mem, world, VIEW_TABLE1, T0 + 11 * SEC)
    assert mem.locate("red mug").status is QueryStatus.NOT_FOUND
    world.entities[10].visible = True
    look(mem, world, VIEW_TABLE1, T0 + 20 * SEC)
    hist = mem.history(instance_id=mug_id)
    assert len(hist.placements) == 1 and hist.placements[0].vanished_ns is None
    assert hist.placements[0].last_seen_ns == T0 + 20 * SEC
    assert mem.locate("red mug").matches[0].instance_id == mug_id
