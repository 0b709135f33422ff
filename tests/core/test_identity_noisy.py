"""Object identity with a noisy detector (``confirm_sightings=2``) across passes and around the robot's own actions."""

from __future__ import annotations

import numpy as np
import pytest

from robomem.config import EncoderConfig, ObjectConfig
from robomem.core.hypotheses import HypothesisStatus
from robomem.core.objects import ObjectStore, SegmentObservation
from robomem.core.query_types import QueryStatus
from robomem.core.types import ActionEvent, ActionKind, NodeKind
from robomem.encoders.base import create_encoder
from tests.core._noisy import look, noisy_detector_memory
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world

HOUR = 3600 * SEC


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def gripper_at(xyz) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = xyz
    return pose


@pytest.mark.parametrize("sightings", [1, 2])
@pytest.mark.parametrize("place_hint", [True, False])
def test_an_object_the_robot_put_down_is_at_its_new_place_with_one_identity(encoder, sightings, place_hint):
    """The robot picks the mug and puts it on the coffee table; the put-down segment is seen once or twice
    (a candidate under confirm_sightings=2): the mug's current place is the coffee table, one instance."""
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug = mem.locate("red mug").matches[0].instance_id
    look(mem, world, VIEW_TABLE2, T0 + 5 * SEC)
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 2 * HOUR))  # the robot looks at the mug as it picks it
    pick = mem.record_action(ActionEvent(ActionKind.PICK, T0 + 2 * HOUR + 2 * SEC,
                                         gripper_at(world.entities[10].center), segment_id=10,
                                         frame_stamp_ns=T0 + 2 * HOUR))
    assert pick.instance_id == mug
    world.put_on(10, 2, dxy=(0.3, 0.2))
    t_place = T0 + 2 * HOUR + 30 * SEC
    mem.ingest(world.frame(*VIEW_TABLE2, t_place))  # the frame taken as it was put down
    hint = {"segment_id": 10, "frame_stamp_ns": t_place} if place_hint else {}
    place = mem.record_action(ActionEvent(ActionKind.PLACE, t_place, gripper_at(world.entities[10].center),
                                          **hint))
    assert place.instance_id == mug
    if sightings == 2:
        mem.ingest(world.frame(*VIEW_TABLE2, t_place + SEC))
    res = mem.locate("red mug")
    assert res.status is QueryStatus.OK and res.matches[0].instance_id == mug
    assert res.matches[0].room == "living room"
    assert mem.count("red mug", include_vanished=True).count == 1
    assert [p.room for p in mem.history(instance_id=mug).placements] == ["kitchen", "living room"]
    assert mem.hypotheses() == ()


def test_an_object_glimpsed_in_one_frame_per_pass_becomes_an_instance_on_a_later_pass(encoder):
    """Driving by, the robot sees the book in one frame; hours later, on another pass, once more: confirmed."""
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 10 * SEC))
    assert mem.locate("blue book").status is QueryStatus.NOT_FOUND  # one sighting: a candidate
    look(mem, world, VIEW_TABLE1, T0 + 20 * SEC)  # elsewhere in between: not evidence against it
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 3 * HOUR))
    res = mem.locate("blue book")
    assert res.status is QueryStatus.OK and res.matches[0].room == "living room"
    assert res.matches[0].first_seen_ns == T0 + 10 * SEC


def test_a_candidate_whose_place_is_looked_at_without_it_is_dropped(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    world.add(20, "green plastic bottle", (2.0, 0.3, 0.8), (0.08, 0.08, 0.12), color=(20, 200, 20))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 3 * SEC))  # one frame with a segment that is not there again
    assert mem.state.objects.candidates() == 1
    del world.entities[20]
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 2 * HOUR))
    assert mem.state.objects.candidates() == 1  # one frame of evidence is not enough
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 2 * HOUR + SEC))
    assert mem.state.objects.candidates() == 0
    world.add(20, "green plastic bottle", (2.0, 0.3, 0.8), (0.08, 0.08, 0.12), color=(20, 200, 20))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 3 * HOUR))  # a new first sighting, not a second one
    assert mem.locate("green bottle").status is QueryStatus.NOT_FOUND


def test_a_candidate_pool_is_bounded(encoder):
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions, max_candidates=1)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + SEC))
    assert mem.state.objects.candidates() == 1  # the mug's candidate made way for the book's


def test_moved_on_before_its_old_place_was_checked_is_still_one_identity(encoder):
    """Mug seen on the kitchen table; then on the coffee table (a look-alike or the mug moved: open hypothesis);
    then gone from the coffee table too; then its kitchen place is seen empty: one mug that went kitchen ->
    living room -> somewhere else."""
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE2, T0 + HOUR)
    assert len(mem.hypotheses()) == 1
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE2, T0 + 2 * HOUR)  # gone from the coffee table
    assert len(mem.hypotheses()) == 1  # still open: its old place has not been seen
    look(mem, world, VIEW_TABLE1, T0 + 3 * HOUR)  # the kitchen place is empty
    assert [h.status for h in mem.hypotheses(open_only=False)] == [HypothesisStatus.MOVED]
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug)
    assert [p.room for p in hist.placements] == ["kitchen", "living room"]
    assert all(p.vanished_ns is not None for p in hist.placements)


def test_picking_the_possible_new_place_object_leaves_the_hypothesis_to_the_old_place(encoder):
    """A robot pick of the object seen at the new place says nothing about whether the old one moved there."""
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug = mem.locate("red mug").matches[0].instance_id
    world.put_on(10, 2, dxy=(0.3, 0.2))
    look(mem, world, VIEW_TABLE2, T0 + HOUR)
    (h,) = mem.hypotheses()
    assert h.old_id == mug
    mem.record_action(ActionEvent(ActionKind.PICK, T0 + HOUR + 5 * SEC, gripper_at(world.entities[10].center),
                                  instance_id=h.new_id))
    assert len(mem.hypotheses()) == 1
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE1, T0 + 2 * HOUR)  # the kitchen place is empty: it was the mug
    assert [x.status for x in mem.hypotheses(open_only=False)] == [HypothesisStatus.MOVED]
    assert mem.count("red mug", include_vanished=True).count == 1
    assert [a.instance_id for a in mem.actions().actions] == [mug]


def test_an_object_seen_again_at_the_place_it_vanished_from_is_revived_under_label_noise(encoder):
    """Its feature is a mix of flickering labels (below reid_similarity to a clean sighting); seen again where it
    was, with a label it was seen with: the same object (the 'gone' was wrong, or it was put back)."""
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions, reid_similarity=0.95)
    for k in range(8):
        world.entities[10].label = "red ceramic cup" if k % 2 else "red ceramic mug"
        mem.ingest(world.frame(*VIEW_TABLE1, T0 + k * SEC))
    mug = mem.locate("red mug").matches[0].instance_id
    inst = mem.state.objects.get(mug)
    clean = encoder.encode_text(["red ceramic mug"])[0]
    assert float(np.dot(inst.feature, clean)) < mem.config.objects.reid_similarity
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE1, T0 + HOUR)
    assert not mem.state.objects.get(mug).present
    world.entities[10].visible = True
    world.entities[10].label = "red ceramic mug"
    look(mem, world, VIEW_TABLE1, T0 + 2 * HOUR)
    assert mem.state.objects.get(mug).present
    assert mem.count("red mug", include_vanished=True).count == 1


def test_a_moved_object_first_seen_under_confused_labels_joins_its_identity_once_its_appearance_settles(encoder):
    """The mug vanished from the kitchen; at the coffee table its first sightings are labelled 'cup' (below
    reid_similarity: a new instance); once its sightings say 'mug' it is merged into the mug (one identity)."""
    world, regions = kitchen_world()
    mem = noisy_detector_memory(encoder, regions)
    look(mem, world, VIEW_TABLE1, T0)
    mug = mem.locate("red mug").matches[0].instance_id
    world.entities[10].visible = False
    look(mem, world, VIEW_TABLE1, T0 + HOUR)
    assert not mem.state.objects.get(mug).present
    world.put_on(10, 2, dxy=(0.3, 0.2))
    world.entities[10].label = "red ceramic cup"
    look(mem, world, VIEW_TABLE2, T0 + 2 * HOUR)
    assert mem.count("red ceramic cup").count == 1  # a second instance so far
    world.entities[10].label = "red ceramic mug"
    look(mem, world, VIEW_TABLE2, T0 + 2 * HOUR + 10 * SEC, n=10)
    assert mem.count("red mug", include_vanished=True).count == 1
    hist = mem.history(instance_id=mug)
    assert [p.room for p in hist.placements] == ["kitchen", "living room"]
    assert mem.locate("red mug").matches[0].instance_id == mug


def _segment(sid, label, center, half, feature):
    g = np.linspace(-half, half, 3)
    pts = np.array([(center[0] + x, center[1] + y, center[2] + z) for x in g for y in g for z in g], np.float32)
    return SegmentObservation(sid, label, NodeKind.OBJECT, pts, np.asarray(feature, np.float32))


@pytest.mark.parametrize("also_seen_itself", [False, True])
def test_a_present_object_seen_under_confused_labels_at_its_place_is_not_a_second_object(also_seen_itself):
    """Two frames of a segment at the mug's place whose label and appearance (each frame alone) fail the association
    gates, but whose mean appearance is the mug's: the mug seen under another label, unless the mug itself was
    segmented in the same frames (then two objects)."""
    store = ObjectStore(ObjectConfig(confirm_sightings=2, min_points=5))
    f, g1, g2 = (1.0, 0.0, 0.0), (0.75, 0.66, 0.0), (0.75, -0.66, 0.0)
    for k in range(2):
        store.assign([_segment(1, "red ceramic mug", (0.0, 0.0, 0.8), 0.05, f)], T0 + k * SEC)
    (mug,) = [i.instance_id for i in store.all()]
    for k, g in enumerate((g1, g2)):
        segs = [_segment(2, "red metal can", (0.12, 0.0, 0.8), 0.02, g)]
        if also_seen_itself:
            segs.append(_segment(1, "red ceramic mug", (0.0, 0.0, 0.8), 0.05, f))
        store.assign(segs, T0 + (10 + k) * SEC)
    assert store.candidates() == 0
    if also_seen_itself:
        assert len(store) == 2
    else:
        assert [i.instance_id for i in store.all()] == [mug]
        assert store.get(mug).label_votes == {"red ceramic mug": 2, "red metal can": 2}
