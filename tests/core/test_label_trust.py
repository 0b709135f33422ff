"""Per-frame segments from a detector whose labels are exact: look-alikes (close text features) stay distinct
objects; furniture is never re-identified as moved (robomem.core.label_trust, robomem.core.objects)."""

from __future__ import annotations

import numpy as np

from robomem.config import ObjectConfig
from robomem.core.instances import SegmentObservation
from robomem.core.label_trust import MIN_SAMPLES, LabelTrust
from robomem.core.objects import ObjectStore
from robomem.core.types import NodeKind

SEC = 1_000_000_000
DIM = 8


def feat(*parts: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(parts)] = parts
    return v / np.linalg.norm(v)


RED = feat(1.0)
WHITE = feat(0.85, float(np.sqrt(1 - 0.85**2)))  # cosine 0.85 to RED: passes the 0.8 feature gate
GREY = feat(0.93, float(np.sqrt(1 - 0.93**2)))  # cosine 0.93 to RED: above reid_similarity 0.9
BOOK, TABLE = feat(0, 0, 1.0), feat(0, 0, 0, 1.0)


def seg(sid: int, label: str, centre: tuple[float, float, float], feature: np.ndarray,
        kind: NodeKind = NodeKind.OBJECT, size: float = 0.08) -> SegmentObservation:
    g = np.linspace(-size / 2, size / 2, 4)
    pts = np.stack(np.meshgrid(g, g, g), axis=-1).reshape(-1, 3) + np.asarray(centre)
    return SegmentObservation(sid, label, kind, pts.astype(np.float32), feature)


def trained_store(flicker_every: int = 0) -> tuple[ObjectStore, int, int]:
    """A store that saw a red mug and a book in place for MIN_SAMPLES frames; every ``flicker_every``-th frame
    the mug was called a "red plastic cup" (a detector with label confusion). Returns (store, mug, book)."""
    store = ObjectStore(ObjectConfig())
    for k in range(MIN_SAMPLES + 2):
        mug_label = "red plastic cup" if flicker_every and k % flicker_every == 1 else "red plastic mug"
        store.assign([seg(1, mug_label, (1.0, 0.0, 0.8), RED), seg(2, "blue book", (3.0, 0.0, 0.8), BOOK)],
                     k * SEC)
    by_label = {i.label: i.instance_id for i in store.all()}
    return store, by_label["red plastic mug"], by_label["blue book"]


def test_label_trust_needs_enough_agreeing_same_place_pairs():
    store, _, _ = trained_store()
    assert store.labels.exact
    noisy, _, _ = trained_store(flicker_every=5)  # 20 % of the mug's sightings carry another label
    assert not noisy.labels.exact
    assert not LabelTrust().exact  # nothing measured yet
    assert not LabelTrust().distinct("white plastic mug", {"red plastic mug": 3})


def test_with_exact_labels_a_look_alike_where_the_mug_stood_is_another_object_and_the_mug_is_displaced():
    """A white mug stands where the red mug was (the red one was taken without the robot seeing it): its
    feature is close (0.85) and the boxes overlap, but its label was never the red mug's: a new instance, and the
    red mug gets seen-empty evidence (another object is at its place)."""
    store, mug, _ = trained_store()
    t = (MIN_SAMPLES + 10) * SEC
    res = store.assign([seg(7, "white plastic mug", (1.0, 0.0, 0.8), WHITE)], t)
    white = res.segment_to_instance[7]
    assert white != mug and res.created == (white,)
    assert store.displaced == [mug]
    assert store.get(mug).label_votes == {"red plastic mug": MIN_SAMPLES + 2}


def test_with_flickering_labels_the_same_segment_stays_the_mug():
    """The tolerant gates stay for a detector that confuses labels: the same sighting is the red mug."""
    store, mug, _ = trained_store(flicker_every=5)
    res = store.assign([seg(7, "white plastic mug", (1.0, 0.0, 0.8), WHITE)], (MIN_SAMPLES + 10) * SEC)
    assert res.segment_to_instance[7] == mug
    assert store.displaced == []


def test_with_exact_labels_a_vanished_object_is_not_re_identified_by_feature_across_labels():
    """The red mug vanished; a grey mug (feature cosine 0.93 >= reid_similarity) appears elsewhere: with exact
    labels it is a new object, not the red mug moved; a red mug appearing there is the red mug moved."""
    store, mug, _ = trained_store()
    t = (MIN_SAMPLES + 10) * SEC
    store.mark_vanished(mug, t)
    res = store.assign([seg(7, "grey plastic mug", (5.0, 2.0, 0.8), GREY)], t + SEC)
    assert res.created and res.moved == ()
    assert len(store.get(mug).placements) == 1
    res = store.assign([seg(8, "red plastic mug", (6.0, -2.0, 0.8), RED)], t + 2 * SEC)
    assert res.moved == (mug,)


def test_a_vanished_receptacle_is_never_re_identified_as_moved_far_away():
    """Furniture does not move: a table seen empty (its place carved, wrongly) and an identical-looking table
    seen in another room is a second table; the first keeps its one place and is found again there."""
    store = ObjectStore(ObjectConfig())
    table_seg = seg(1, "brown wooden table", (2.0, 2.0, 0.4), TABLE, NodeKind.RECEPTACLE, size=0.8)
    res = store.assign([table_seg], 0)
    table = res.segment_to_instance[1]
    store.mark_vanished(table, 10 * SEC)
    res = store.assign([seg(2, "brown wooden table", (9.0, 6.0, 0.4), TABLE, NodeKind.RECEPTACLE, size=0.8)],
                       20 * SEC)
    other = res.segment_to_instance[2]
    assert other != table and res.moved == () and res.created == (other,)
    assert len(store.get(table).placements) == 1
    assert store.deferred_reid(table) is None
    res = store.assign([table_seg], 30 * SEC)
    assert res.segment_to_instance[1] == table and store.get(table).present


def test_with_exact_unique_labels_an_object_seen_elsewhere_is_the_same_object_moved():
    """The red mug, not looked at since, is seen on another table: with exact labels and one red mug ever seen
    at a time it is the mug moved (one instance, two places), not a second red mug."""
    store, mug, _ = trained_store()
    t = (MIN_SAMPLES + 10) * SEC
    res = store.assign([seg(7, "red plastic mug", (6.0, 3.0, 0.8), RED)], t)
    assert res.moved == (mug,) and res.segment_to_instance[7] == mug
    assert len(store.get(mug).placements) == 2 and store.get(mug).placements[0].vanished_ns == t


def test_two_objects_with_one_label_in_one_frame_make_the_label_ambiguous():
    """Once two red mugs were seen in one frame, a red mug elsewhere may be the other one: a new instance (with a
    moved-object hypothesis), the first mug stays where it was."""
    store, mug, _ = trained_store()
    t = (MIN_SAMPLES + 10) * SEC
    store.assign([seg(1, "red plastic mug", (1.0, 0.0, 0.8), RED), seg(5, "red plastic mug", (1.6, 0.0, 0.8), RED)],
                 t)
    assert "red plastic mug" in store.labels.duplicates
    res = store.assign([seg(7, "red plastic mug", (6.0, 3.0, 0.8), RED)], t + SEC)
    assert res.moved == () and res.segment_to_instance[7] != mug
    assert len(store.get(mug).placements) == 1


def test_an_object_the_robot_put_down_and_never_saw_there_seen_elsewhere_is_that_object_moved():
    """The robot put the red mug down (a place known from the gripper only); later, with exact unique labels, a
    red mug far from there is the mug moved on (someone took it), not a second red mug."""
    store, mug, _ = trained_store()
    t = (MIN_SAMPLES + 10) * SEC
    store.pick(mug, t)
    store.place(mug, (4.0, 0.0, 0.8), seg(0, "", (4.0, 0.0, 0.8), RED).box, t + 5 * SEC)
    res = store.assign([seg(7, "red plastic mug", (8.0, 3.0, 0.8), RED)], t + 3600 * SEC)
    assert res.moved == (mug,) and len(store.get(mug).placements) == 3
