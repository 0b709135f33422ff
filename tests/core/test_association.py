"""Memory under realistic perception: per-frame segments, detector noise, moved-object hypotheses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robomem.config import EncoderConfig
from robomem.core.association import AssociationGates, SegmentView, TrackView, associate
from robomem.core.hypotheses import HypothesisStatus
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.query_types import QueryStatus
from robomem.core.types import ActionEvent, ActionKind, Box3D, NodeKind
from robomem.encoders.base import create_encoder
from tests.core._noisy import look, noisy_detector_memory
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def test_moved_object_seen_at_new_place_first_keeps_one_identity_once_the_old_place_is_seen_empty(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    look(mem, world, VIEW_TABLE2, T0 + 5 * SEC)
    mug_id = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE2, T0 + 60 * SEC)  # the mug at the coffee table, its old place not seen since
    open_h = mem.hypotheses()
    assert len(open_h) == 1 and open_h[0].old_id == mug_id
    last = mem.last_seen(instance_id=mug_id)
    assert "probably moved to" in last.message and "living room" in last.message
    assert "has not been seen since" in last.message
    assert last.instance is not None and last.instance.open_move is not None
    look(mem, world, VIEW_TABLE1, T0 + 120 * SEC)  # old place seen empty: it was a move
    assert mem.hypotheses() == ()
    resolved = mem.hypotheses(open_only=False)
    assert [h.status for h in resolved] == [HypothesisStatus.MOVED]
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug_id)
    assert [p.room for p in hist.placements] == ["kitchen", "living room"]
    assert mem.locate("red mug").matches[0].room == "living room"


def test_a_look_alike_seen_while_the_first_is_still_in_place_is_a_second_object(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    world.add(12, "red ceramic mug", (0, 0, 0), (0.12, 0.12, 0.15), color=(220, 30, 30))
    world.put_on(12, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE2, T0 + 60 * SEC)
    assert len(mem.hypotheses()) == 1
    look(mem, world, VIEW_TABLE1, T0 + 120 * SEC)  # the first mug is still there: two mugs
    assert [h.status for h in mem.hypotheses(open_only=False)] == [HypothesisStatus.DISTINCT]
    assert mem.count("red mug").count == 2


def test_a_flickering_label_stays_one_instance_with_label_counts(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    for k in range(8):
        world.entities[10].label = "red ceramic cup" if k % 3 == 2 else "red ceramic mug"
        mem.ingest(world.frame(*VIEW_TABLE1, T0 + k * SEC))
    objs = [i for i in mem.instances() if i.kind is NodeKind.OBJECT]
    assert len(objs) == 1
    assert objs[0].label == "red ceramic mug"  # the most frequent label, not the last one
    inst = mem.state.objects.get(objs[0].instance_id)
    assert inst.label_votes == {"red ceramic mug": 6, "red ceramic cup": 2}


def test_a_single_spurious_segment_leaves_no_instance(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    n_before = len(mem.instances())
    world.add(20, "green plastic bottle", (2.3, 0.8, 0.1), (0.1, 0.1, 0.2), color=(20, 200, 20))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 3 * SEC))  # one frame with a segment that is not there again
    del world.entities[20]
    for k in range(4, 40, 5):
        mem.ingest(world.frame(*VIEW_TABLE1, T0 + k * SEC))
    assert len(mem.instances()) == n_before
    assert mem.locate("green bottle").status is QueryStatus.NOT_FOUND
    assert mem.state.objects.candidates() == 0  # dropped: its place was looked at without it


def test_a_missed_detection_never_removes_an_instance(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug = mem.locate("red mug").matches[0].instance_id
    for k in range(3):  # the detector misses the mug; its depth is still there
        f = world.frame(*VIEW_TABLE1, T0 + (10 + k) * SEC)
        mask = f.instance_mask.copy()
        mask[mask == 10] = -1
        mem.ingest(dataclasses.replace(f, instance_mask=mask, instance_labels={1: "wooden kitchen table"}))
    res = mem.locate("red mug")
    assert res.status is QueryStatus.OK and res.matches[0].instance_id == mug and res.matches[0].present


def test_one_frame_of_seen_empty_evidence_does_not_remove_an_object(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    world.entities[10].visible = False
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 10 * SEC))  # one frame (could be noise)
    assert mem.locate("red mug").status is QueryStatus.OK
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 11 * SEC))  # confirmed: gone since the first empty frame
    assert mem.locate("red mug").status is QueryStatus.NOT_FOUND
    last = mem.last_seen(text="red mug")
    assert last.placement is not None and last.placement.vanished_ns == T0 + 10 * SEC


def test_a_pick_of_an_object_seen_once_makes_what_was_picked_a_fact(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE2, T0)
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 10 * SEC))  # the mug seen in one frame: only a candidate
    assert mem.locate("red mug").status is QueryStatus.NOT_FOUND
    pose = np.eye(4)
    pose[:3, 3] = world.entities[10].center
    pick = mem.record_action(ActionEvent(ActionKind.PICK, T0 + 11 * SEC, pose, segment_id=10,
                                         frame_stamp_ns=T0 + 10 * SEC))
    assert pick.resolved_by == "segment" and pick.label == "red ceramic mug"
    res = mem.actions(kind=ActionKind.PICK)
    assert res.status is QueryStatus.OK and [a.label for a in res.actions] == ["red ceramic mug"]


def test_save_load_keeps_hypotheses_and_action_events(encoder, tmp_path):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug_id = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE2, T0 + 60 * SEC)
    book = mem.locate("blue book").matches[0]
    pose = np.eye(4)
    pose[:3, 3] = book.position
    mem.record_action(ActionEvent(ActionKind.PICK, T0 + 62 * SEC, pose, instance_id=book.instance_id))
    before = mem.hypotheses()
    assert len(before) == 1
    mem.save(tmp_path / "m")
    loaded = SpatioSemanticMemory.load(tmp_path / "m", encoder)
    assert loaded.hypotheses() == before
    assert [a.label for a in loaded.actions().actions] == ["blue paper book"]
    # evidence after the load still resolves it
    look(loaded, world, VIEW_TABLE1, T0 + 120 * SEC)
    assert [h.status for h in loaded.hypotheses(open_only=False)] == [HypothesisStatus.MOVED]
    assert loaded.count("red mug", include_vanished=True).count == 1
    assert loaded.history(instance_id=mug_id).placements[-1].room == "living room"


def test_association_is_joint_not_greedy():
    """Two segments, two tracks: the greedy nearest choice for the first segment would leave the second one
    unmatched; the joint assignment matches both."""
    gates = AssociationGates(match_distance=0.5, match_similarity=0.8, overlap_min=0.3, overlap_similarity=0.5)
    f = np.array([1.0, 0.0], dtype=np.float32)

    def box(c):
        return Box3D((c[0] - 0.05, c[1] - 0.05, c[2] - 0.05), (c[0] + 0.05, c[1] + 0.05, c[2] + 0.05))

    tracks = [TrackView(1, NodeKind.OBJECT, (0.0, 0.0, 0.0), box((0.0, 0.0, 0.0)), f, {"mug": 3}),
              TrackView(2, NodeKind.OBJECT, (0.45, 0.0, 0.0), box((0.45, 0.0, 0.0)), f, {"mug": 3})]
    segs = [SegmentView(NodeKind.OBJECT, (0.2, 0.0, 0.0), box((0.2, 0.0, 0.0)), f, "mug"),
            SegmentView(NodeKind.OBJECT, (-0.25, 0.0, 0.0), box((-0.25, 0.0, 0.0)), f, "mug")]
    assert associate(segs, tracks, gates) == {0: 2, 1: 1}
    # a different kind or a far segment never matches
    far = [SegmentView(NodeKind.RECEPTACLE, (0.0, 0.0, 0.0), box((0.0, 0.0, 0.0)), f, "mug"),
           SegmentView(NodeKind.OBJECT, (3.0, 0.0, 0.0), box((3.0, 0.0, 0.0)), f, "mug")]
    assert associate(far, tracks, gates) == {}
