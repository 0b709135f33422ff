"""State-level updates shared by the ingest pipeline and action recording.

Each keeps the parts of a :class:`~robomem.core.state.MemoryState` consistent with each other (objects,
voxels, scene graph, keyframes, action log, pending index updates).
"""

from __future__ import annotations

from typing import Optional, Sequence

from robomem.core.scene_graph import compute_relations
from robomem.core.state import MemoryState
from robomem.core.types import NodeKind, Relation


def update_relations(state: MemoryState, instance_ids: Sequence[int], stamp_ns: int) -> None:
    """Recompute the scene-graph relations and the receptacle/room context of the instances' current places."""
    receptacles = [
        (i.instance_id, i.current.box) for i in state.objects.present() if i.kind is NodeKind.RECEPTACLE
    ]
    for iid in instance_ids:
        inst = state.objects.get(iid)
        state.graph.upsert_instance(iid, inst.kind, inst.label, stamp_ns)
        if not inst.present:
            continue
        rels = compute_relations(inst.current.box, receptacles, state.regions, state.config.graph, self_id=iid)
        state.graph.set_relations(iid, rels, stamp_ns)
        receptacle_id: Optional[int] = None
        room: Optional[str] = None
        for rel, ref in rels:
            if ref.kind is NodeKind.ROOM and rel in (Relation.IN, Relation.PART_OF):
                room = ref.name
            elif ref.kind is NodeKind.RECEPTACLE and rel in (Relation.ON, Relation.IN):
                receptacle_id = ref.instance_id
        state.objects.set_context(iid, receptacle_id, room)


def absorb_merged(state: MemoryState, keep_id: int, drop_id: int, stamp_ns: int) -> None:
    """After ``state.objects`` merged ``drop_id`` into ``keep_id``: move the other parts' references over."""
    state.voxels.relabel_instance(drop_id, keep_id)
    if not state.graph.has_instance(keep_id):
        inst = state.objects.get(keep_id)
        state.graph.upsert_instance(keep_id, inst.kind, inst.label, stamp_ns)
    if state.graph.has_instance(drop_id):
        state.graph.merge_instances(keep_id, drop_id)
    state.keyframes.relabel_instance(drop_id, keep_id)
    state.actions.instance_merged(keep_id, drop_id)
    state.pending.instance_removed(drop_id)
    state.pending.instance_changed(keep_id)
    state.count("instances_merged")


def merge_instances(state: MemoryState, keep_id: int, drop_id: int, stamp_ns: int) -> None:
    """``drop_id`` is ``keep_id`` seen at a later place: one instance from now on (see ObjectStore.merge)."""
    state.objects.merge(keep_id, drop_id)
    absorb_merged(state, keep_id, drop_id, stamp_ns)
    update_relations(state, [keep_id], stamp_ns)
