"""Late re-identification: a young instance whose appearance has settled may be a vanished object that moved.

Under label noise a moved object's first sightings at its new place can carry confused labels ("black leather
towel", "black cotton toy"), so the candidate's feature missed ``reid_similarity`` to the vanished instance it is
and it became a new instance. As more sightings come in, the young instance's running-mean feature settles; when it
then reaches ``reid_similarity`` to a vanished instance last seen before it was first seen (the same test as at
confirmation), it is merged into that instance (one identity, one more place). Instances known to be two objects
(a ``DISTINCT`` hypothesis between them), objects whose exact labels differ and receptacles are never merged.
"""

from __future__ import annotations

from typing import Optional

from robomem.config import MaskIdMode
from robomem.core.hypotheses import HypothesisStatus
from robomem.core.instances import cosine
from robomem.core.objects import ObjectStore
from robomem.core.types import NodeKind

YOUNG_OBSERVATIONS = 30
"""Sightings up to which an instance with a single place is re-checked against vanished ones."""


def late_reidentify(store: ObjectStore, instance_id: int) -> Optional[int]:
    """The vanished instance that young ``instance_id`` is (see the module docstring), or None."""
    young = store.find(instance_id)
    if (store.config.mask_ids is MaskIdMode.PERSISTENT or young is None or young.feature is None
            or len(young.placements) != 1 or young.provisional or young.n_observations > YOUNG_OBSERVATIONS
            or young.kind is not NodeKind.OBJECT):  # furniture does not move
        return None
    distinct = {frozenset((h.old_id, h.new_id)) for h in store.hypotheses.all()
                if h.status is HypothesisStatus.DISTINCT}
    best = None
    best_key = (store.config.reid_similarity, -1)
    for old in store.all():
        if old.present or old.kind is not young.kind or old.instance_id == instance_id:
            continue
        if old.current.last_seen_ns > young.first_seen_ns or frozenset((old.instance_id, instance_id)) in distinct:
            continue
        if store.labels.distinct(young.label, old.label_votes):  # exact labels (robomem.core.label_trust)
            continue
        sim = cosine(old.feature, young.feature)
        if sim is None:
            continue
        key = (round(sim, 4), old.current.vanished_ns or 0)
        if key >= best_key:
            best, best_key = old.instance_id, key
    return best
