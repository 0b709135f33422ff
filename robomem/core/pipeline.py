"""Ingest as a pipeline of steps over the memory's state.

One validated frame goes through :data:`DEFAULT_STEPS` in order; each step is a function
``step(state, ctx)`` that reads what earlier steps left in the per-frame :class:`FrameContext` and updates
the :class:`~robomem.core.state.MemoryState` (and the context, for later steps). To add a stage (dense
per-pixel features, a tracker, ...) build ``IngestPipeline(DEFAULT_STEPS).with_step(name, fn, after=...)``
and give it to the memory; a step must only touch the state through the parts' own methods.

Default order (the order matters: free space is carved before the new surface is integrated; instances are
assigned before voxels so voxels carry instance ids; vanishing is decided after integration):

``backproject`` -> ``carve`` -> ``segment`` -> ``associate`` -> ``integrate`` -> ``vanish`` ->
``relations`` -> ``actions`` -> ``keyframes`` -> ``trajectory`` -> ``bookkeeping``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from robomem.core.actions import resolve_pending
from robomem.core.candidates import candidates_missed
from robomem.core.features import TextFeatures
from robomem.core.frame import CheckedFrame
from robomem.core.geometry import backproject
from robomem.core.late_reid import late_reidentify
from robomem.core.objects import AssignResult, SegmentObservation
from robomem.core.segmentation import frame_segments
from robomem.core.state import MemoryState
from robomem.core.types import NO_INSTANCE, IngestStats
from robomem.core.updates import absorb_merged, merge_instances, update_relations
from robomem.core.voxel_map import IntegrateResult
from robomem.encoders.base import Encoder
from robomem.errors import MemoryStateError

log = logging.getLogger(__name__)


@dataclass(eq=False)
class FrameContext:
    """Per-frame scratch space handed from step to step (discarded after the frame).

    Filled in order: ``points*``/``pixel_index`` (backproject, (N,3) world points and their flat pixel
    indices), ``carved_per_instance``/``n_removed`` (carve), ``segments``/``seg_of_point`` (segment),
    ``assign``/``instance_of_point``/``feature_rows``/``feature_table`` (associate), ``integ`` (integrate),
    ``merged_away`` (vanish), ``seen`` (relations), ``keyframe_added`` (keyframes).
    """

    checked: CheckedFrame
    encoder: Encoder
    text_feature: TextFeatures
    stamp_ns: int
    depth_t: Tensor
    pose_t: Tensor
    points_t: Optional[Tensor] = None
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    pixel_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_out_of_range: int = 0
    carved_per_instance: dict[int, int] = field(default_factory=dict)
    n_removed: int = 0
    segments: list[SegmentObservation] = field(default_factory=list)
    seg_of_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    assign: Optional[AssignResult] = None
    instance_of_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    feature_rows: Optional[np.ndarray] = None
    feature_table: Optional[Tensor] = None
    integ: Optional[IntegrateResult] = None
    merged_away: set[int] = field(default_factory=set)
    seen: list[int] = field(default_factory=list)
    keyframe_added: bool = False

    @property
    def assigned(self) -> AssignResult:
        if self.assign is None:
            raise MemoryStateError("pipeline step order: 'associate' must run before this step")
        return self.assign

    @property
    def segmented_instances(self) -> set[int]:
        return set(self.assign.segment_to_instance.values()) if self.assign is not None else set()


IngestStep = Callable[[MemoryState, FrameContext], None]


# ============================================================================================ shared helpers
def handle_vanished(
    state: MemoryState,
    counts: dict[int, int],
    carved: dict[int, int],
    stamp_ns: int,
    seen_through: Sequence[int] = (),
    segmented: frozenset[int] = frozenset(),
    checked: Optional[CheckedFrame] = None,
) -> set[int]:
    """One frame's seen-empty evidence (carved away, seen through; for instances with evidence already or voxels
    carved in this frame, their box seen through) for the instances it did not segment; close the places of those
    that vanish now (after ``objects.vanish_min_frames`` such frames) and resolve / merge newer sightings of them
    (deferred re-id).

    Returns the ids merged away (they no longer exist)."""
    merged_away: set[int] = set()
    evidence = set(state.objects.carved_away(counts, carved)) | set(seen_through)
    if checked is not None:
        # with evidence already, or some voxels carved now (a partial carve alone is no evidence: its reference is
        # the instance's peak voxel count, which depends on how close it was ever seen)
        streaking = [i.instance_id for i in state.objects.present()
                     if (i.miss_streak > 0 or carved.get(i.instance_id, 0) > 0)
                     and i.instance_id not in evidence and i.instance_id not in segmented]
        evidence |= set(box_seen_through(state, checked, streaking))
    vanished = state.objects.note_empty(sorted(evidence - set(segmented)), stamp_ns)
    for gone in vanished:
        if state.graph.has_instance(gone):
            state.graph.close_all(gone, stamp_ns)
        merged = state.objects.deferred_reid(gone)
        if merged is not None:
            absorb_merged(state, gone, merged, stamp_ns)
            merged_away.add(merged)
            update_relations(state, [gone], stamp_ns)
    return merged_away


def box_seen_through(state: MemoryState, checked: CheckedFrame, instance_ids: Sequence[int]) -> list[int]:
    """Instances whose box centre is in view with the frame's depth there behind the whole box (the view passes
    through where they were). For instances whose voxels are already gone (carved), so that evidence over several
    frames can accumulate."""
    if not instance_ids:
        return []
    vcfg = state.config.voxel
    intr = checked.frame.intrinsics
    camera_T_world = np.linalg.inv(checked.world_T_camera)
    out: list[int] = []
    for iid in instance_ids:
        box = state.objects.get(iid).current.box
        c = np.asarray(box.center, dtype=np.float64)
        half = 0.5 * float(np.max(np.subtract(box.max_xyz, box.min_xyz)))
        p = camera_T_world[:3, :3] @ c + camera_T_world[:3, 3]
        z = float(p[2])
        if not (vcfg.min_depth < z < vcfg.removal_max_depth):
            continue
        u = int(round(intr.fx * p[0] / z + intr.cx))
        v = int(round(intr.fy * p[1] / z + intr.cy))
        if not (0 <= u < intr.width and 0 <= v < intr.height):
            continue
        d = float(checked.depth_m[v, u])
        if d > z + half + state.config.objects.seen_through_margin:
            out.append(iid)
    return out


def seen_through(state: MemoryState, checked: CheckedFrame, segmented: set[int]) -> list[int]:
    """Present instances this frame looked through (see ``ObjectConfig.seen_through_*``)."""
    ocfg = state.config.objects
    vcfg = state.config.voxel
    intr = checked.frame.intrinsics
    inst_ids = state.voxels.instance_ids
    if len(inst_ids) == 0:
        return []
    present = [i.instance_id for i in state.objects.present() if i.instance_id not in segmented]
    if not present:
        return []
    cand = torch.as_tensor(present, dtype=inst_ids.dtype, device=inst_ids.device)
    sel = torch.isin(inst_ids, cand)
    if not bool(sel.any()):
        return []
    pts = state.voxels.positions[sel].double().cpu().numpy()
    owner = inst_ids[sel].cpu().numpy()
    # only voxels at the instance's current place count (voxels left at an earlier place are not the object)
    boxes = {i: state.objects.get(i).current.box for i in present}
    owner_ids = np.asarray(sorted(boxes), dtype=np.int64)
    lo = np.asarray([boxes[i].min_xyz for i in owner_ids.tolist()]) - vcfg.voxel_size
    hi = np.asarray([boxes[i].max_xyz for i in owner_ids.tolist()]) + vcfg.voxel_size
    row = np.searchsorted(owner_ids, owner)
    here = np.all((pts >= lo[row]) & (pts <= hi[row]), axis=1)
    pts, owner = pts[here], owner[here]
    if len(pts) == 0:
        return []
    camera_T_world = np.linalg.inv(checked.world_T_camera)
    p_cam = pts @ camera_T_world[:3, :3].T + camera_T_world[:3, 3]
    z = p_cam[:, 2]
    ok = (z > vcfg.min_depth) & (z < vcfg.removal_max_depth)
    u = np.full(len(z), -1, dtype=np.int64)
    v = np.full(len(z), -1, dtype=np.int64)
    u[ok] = np.round(intr.fx * p_cam[ok, 0] / z[ok] + intr.cx).astype(np.int64)
    v[ok] = np.round(intr.fy * p_cam[ok, 1] / z[ok] + intr.cy).astype(np.int64)
    ok &= (u >= 0) & (u < intr.width) & (v >= 0) & (v < intr.height)
    d = np.zeros(len(z), dtype=np.float32)
    d[ok] = checked.depth_m[v[ok], u[ok]]
    ok &= d > 0
    if not ok.any():
        return []
    through = ok & (d > z + ocfg.seen_through_margin)
    ids, inv = np.unique(owner[ok], return_inverse=True)
    n_view = np.bincount(inv, minlength=len(ids))
    n_through = np.bincount(inv, weights=through[ok].astype(np.float64), minlength=len(ids))
    all_ids, n_all = np.unique(owner, return_counts=True)
    n_total = n_all[np.searchsorted(all_ids, ids)]
    # most of the instance must be in view (not a sliver at the image border / around an occluder's edge)
    gone = (
        (n_view >= ocfg.seen_through_min_voxels)
        & (n_view >= 0.5 * n_total)
        & (n_through >= ocfg.seen_through_fraction * n_view)
    )
    return [int(i) for i in ids[gone]]


# ============================================================================================ the steps
def step_backproject(state: MemoryState, ctx: FrameContext) -> None:
    cfg = state.config.voxel
    # flying pixels at depth edges dropped, sampled depths smoothed (VoxelConfig.edge_jump / depth_smoothing);
    # the carve step reads the same filtered depth
    ctx.depth_t = state.voxels.filter_depth(ctx.depth_t)
    points_t, pixel_t, _n_invalid, n_oor = backproject(
        ctx.depth_t, ctx.checked.frame.intrinsics, ctx.pose_t, cfg.pixel_stride, cfg.min_depth, cfg.max_depth
    )
    ctx.points_t = points_t
    ctx.points = points_t.cpu().numpy()
    ctx.pixel_index = pixel_t.cpu().numpy()
    ctx.n_out_of_range = int(n_oor)


def step_carve(state: MemoryState, ctx: FrameContext) -> None:
    """Free-space removal, before the new surface is integrated."""
    if not state.config.voxel.removal:
        return
    carve = state.voxels.carve(ctx.depth_t, ctx.checked.frame.intrinsics, ctx.pose_t, ctx.stamp_ns)
    ctx.carved_per_instance = dict(carve.removed_per_instance)
    ctx.n_removed = len(carve.removed_uids)
    if ctx.n_removed:
        state.pending.removed_voxels.append(np.asarray(carve.removed_uids, dtype=np.int64))


def step_segment(state: MemoryState, ctx: FrameContext) -> None:
    ctx.segments, ctx.seg_of_point = frame_segments(
        ctx.checked, ctx.points, ctx.pixel_index, state.config, ctx.encoder, ctx.text_feature
    )


def step_associate(state: MemoryState, ctx: FrameContext) -> None:
    """Segments -> instances; per-point instance ids and feature rows for the voxel integration."""
    assign = state.objects.assign(ctx.segments, ctx.stamp_ns)
    ctx.assign = assign
    n = len(ctx.points)
    instance_of_point = np.full(n, NO_INSTANCE, dtype=np.int64)
    feature_rows = np.full(n, -1, dtype=np.int64)
    table: list[np.ndarray] = []
    if assign.segment_to_instance:
        seg_ids = np.fromiter(assign.segment_to_instance.keys(), dtype=np.int64)
        inst_ids = np.fromiter(assign.segment_to_instance.values(), dtype=np.int64)
        order = np.argsort(seg_ids)
        seg_ids, inst_ids = seg_ids[order], inst_ids[order]
        seg_of_point = ctx.seg_of_point
        pos = np.clip(np.searchsorted(seg_ids, seg_of_point), 0, len(seg_ids) - 1)
        hit = seg_ids[pos] == seg_of_point
        instance_of_point[hit] = inst_ids[pos[hit]]
        seg_feature = {s.segment_id: s.feature for s in ctx.segments}
        row_of_seg = np.full(len(seg_ids), -1, dtype=np.int64)
        for j, sid in enumerate(seg_ids.tolist()):
            f = seg_feature.get(sid)
            if f is not None:
                row_of_seg[j] = len(table)
                table.append(f)
        feature_rows[hit] = row_of_seg[pos[hit]]
    ctx.instance_of_point = instance_of_point
    ctx.feature_rows = feature_rows if table else None
    ctx.feature_table = torch.from_numpy(np.stack(table)).to(state.device) if table else None


def step_integrate(state: MemoryState, ctx: FrameContext) -> None:
    assert ctx.points_t is not None
    colors = ctx.checked.frame.rgb.reshape(-1, 3)[ctx.pixel_index]
    integ = state.voxels.integrate(
        ctx.points_t,
        torch.from_numpy(np.ascontiguousarray(colors)).to(state.device),
        ctx.stamp_ns,
        instance_ids=torch.from_numpy(ctx.instance_of_point).to(state.device),
        feature_rows=torch.from_numpy(ctx.feature_rows).to(state.device) if ctx.feature_rows is not None else None,
        feature_table=ctx.feature_table,
    )
    ctx.integ = integ
    if ctx.feature_table is not None:
        state.pending.dirty_voxels.append(np.concatenate([integ.added_uids, integ.updated_uids]).astype(np.int64))
        state.pending.compact(len(state.voxels))


def step_vanish(state: MemoryState, ctx: FrameContext) -> None:
    """Instances: voxel peaks, vanishing (carved / seen through), deferred and late re-identification
    (:mod:`robomem.core.late_reid`); tentative candidates whose place was looked at without them
    (:func:`~robomem.core.candidates.candidates_missed`)."""
    assign = ctx.assigned
    segmented = ctx.segmented_instances
    for iid in segmented:  # graph nodes first: a merge below may involve them
        inst = state.objects.get(iid)
        state.graph.upsert_instance(iid, inst.kind, inst.label, ctx.stamp_ns)
    counts = state.voxels.instance_voxel_counts()
    state.objects.note_voxels({i: counts.get(i, 0) for i in assign.segment_to_instance.values()})
    through: list[int] = []
    looked = state.config.voxel.removal and ctx.checked.frame.instance_mask is not None
    if looked:
        # seen through, or another object (a label it was never seen with, labels exact) stands at its place
        through = seen_through(state, ctx.checked, segmented) + list(state.objects.displaced)
        pool = state.objects.tentative
        if len(pool):
            pool.missed(candidates_missed(pool, ctx.checked, state.config.voxel,
                                          set(assign.segment_to_candidate.values())))
    ctx.merged_away = handle_vanished(state, counts, ctx.carved_per_instance, ctx.stamp_ns, through,
                                      frozenset(segmented), ctx.checked if looked else None)
    for iid in sorted(segmented - ctx.merged_away):  # a young instance whose feature settled on a vanished one
        keep = late_reidentify(state.objects, iid)
        if keep is not None:
            merge_instances(state, keep, iid, ctx.stamp_ns)
            ctx.merged_away.add(iid)


def step_relations(state: MemoryState, ctx: FrameContext) -> None:
    """Scene graph + receptacle/room context for the instances seen now."""
    ctx.seen = sorted(ctx.segmented_instances - ctx.merged_away)
    update_relations(state, ctx.seen, ctx.stamp_ns)
    state.pending.dirty_instances.update(ctx.seen)


def step_actions(state: MemoryState, ctx: FrameContext) -> None:
    """Keep the frame's segment -> instance map for action hints; resolve actions that waited for this frame."""
    mapping = ctx.assigned.segment_to_instance
    if mapping or ctx.assigned.segment_to_candidate or state.actions.pending():
        state.actions.remember_frame(ctx.stamp_ns, dict(mapping))
    if state.actions.pending():
        resolve_pending(state, ctx.text_feature)


def step_keyframes(state: MemoryState, ctx: FrameContext) -> None:
    encoder = ctx.encoder
    rgb = ctx.checked.frame.rgb

    def embed() -> Optional[np.ndarray]:
        if not encoder.supports_images:
            return None
        return np.asarray(encoder.encode_images([rgb])[0], dtype=np.float32)

    kf = state.keyframes.consider(
        ctx.stamp_ns, ctx.checked.world_T_camera, rgb, ctx.seen, embed, embed_when_novel=encoder.supports_images
    )
    ctx.keyframe_added = kf is not None


def step_trajectory(state: MemoryState, ctx: FrameContext) -> None:
    state.trajectory.update(ctx.stamp_ns, ctx.checked.world_T_camera, state.regions)


def step_bookkeeping(state: MemoryState, ctx: FrameContext) -> None:
    state.note_stamp(ctx.stamp_ns)
    state.count("frames_ingested")
    state.count("pixels_dropped_invalid_depth", ctx.checked.n_invalid_depth)
    state.count("pixels_dropped_out_of_range", ctx.n_out_of_range)
    state.count("voxels_removed", ctx.n_removed)
    state.count("instances_moved", len(ctx.assigned.moved))
    state.version += 1


DEFAULT_STEPS: tuple[tuple[str, IngestStep], ...] = (
    ("backproject", step_backproject),
    ("carve", step_carve),
    ("segment", step_segment),
    ("associate", step_associate),
    ("integrate", step_integrate),
    ("vanish", step_vanish),
    ("relations", step_relations),
    ("actions", step_actions),
    ("keyframes", step_keyframes),
    ("trajectory", step_trajectory),
    ("bookkeeping", step_bookkeeping),
)


class IngestPipeline:
    """An ordered, named list of ingest steps (see the module docstring)."""

    def __init__(self, steps: Sequence[tuple[str, IngestStep]] = DEFAULT_STEPS) -> None:
        names = [n for n, _ in steps]
        if len(set(names)) != len(names):
            raise MemoryStateError(f"ingest steps must have unique names, got {names}")
        self.steps: tuple[tuple[str, IngestStep], ...] = tuple(steps)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.steps)

    def with_step(self, name: str, step: IngestStep, after: str) -> IngestPipeline:
        """A new pipeline with ``step`` inserted right after the step named ``after``."""
        if after not in self.names:
            raise MemoryStateError(f"no ingest step named {after!r}; steps: {', '.join(self.names)}")
        out: list[tuple[str, IngestStep]] = []
        for n, s in self.steps:
            out.append((n, s))
            if n == after:
                out.append((name, step))
        return IngestPipeline(out)

    def without_step(self, name: str) -> IngestPipeline:
        if name not in self.names:
            raise MemoryStateError(f"no ingest step named {name!r}; steps: {', '.join(self.names)}")
        return IngestPipeline([(n, s) for n, s in self.steps if n != name])

    def run(
        self, state: MemoryState, checked: CheckedFrame, encoder: Encoder, text_feature: TextFeatures
    ) -> IngestStats:
        """Ingest one validated frame into ``state``; returns what it did."""
        ctx = FrameContext(
            checked=checked,
            encoder=encoder,
            text_feature=text_feature,
            stamp_ns=int(checked.frame.stamp_ns),
            depth_t=torch.from_numpy(checked.depth_m).to(state.device),
            pose_t=torch.from_numpy(checked.world_T_camera).to(state.device),
        )
        for _name, step in self.steps:
            step(state, ctx)
        assign = ctx.assign
        integ = ctx.integ
        return IngestStats(
            stamp_ns=ctx.stamp_ns,
            points_in=len(ctx.points),
            pixels_dropped_invalid_depth=checked.n_invalid_depth,
            pixels_dropped_out_of_range=ctx.n_out_of_range,
            voxels_added=len(integ.added_uids) if integ is not None else 0,
            voxels_updated=len(integ.updated_uids) if integ is not None else 0,
            voxels_removed=ctx.n_removed,
            instances_seen=len(ctx.seen),
            instances_created=len(assign.created) if assign is not None else 0,
            instances_moved=len(assign.moved) if assign is not None else 0,
            keyframe_added=ctx.keyframe_added,
        )
