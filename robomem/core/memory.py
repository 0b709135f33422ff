"""The memory facade: one object that ingests frames and answers the query API.

It only orchestrates; the work is done by its parts, each usable on its own:

* :class:`~robomem.core.voxel_map.VoxelMap` - voxels with features/timestamps, free-space removal,
  negative evidence;
* :class:`~robomem.core.objects.ObjectStore` - instances, placements, re-identification;
* :class:`~robomem.core.scene_graph.TemporalSceneGraph` - rooms/receptacles/objects, timed relations;
* :class:`~robomem.core.episodic.KeyframeStore` - novelty-subsampled keyframes;
* :class:`~robomem.core.trajectory.Trajectory` - the robot's room visits;
* two :class:`~robomem.index.base.VectorIndex` es (instances, voxels) kept in sync by id;
* :class:`~robomem.core.query.QueryEngine` - the read side.

The encoder is injected (built by :func:`robomem.encoders.base.create_encoder` or by the caller).
All public methods are thread-safe (one re-entrant lock): a ROS node may ingest on a worker thread and
answer services from another.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from robomem.config import MemoryConfig
from robomem.core.api import MemoryQueries
from robomem.core.episodic import KeyframeStore
from robomem.core.frame import CheckedFrame, check_frame
from robomem.core.geometry import backproject
from robomem.core.objects import ObjectStore, SegmentObservation
from robomem.core.query import QueryEngine
from robomem.core.query_types import (
    ChangesResult,
    CountResult,
    HistoryResult,
    InstanceResult,
    InstanceSummary,
    KeyframesResult,
    LocateResult,
    RelationsResult,
    RoomVisitsResult,
    StateResult,
)
from robomem.core.scene_graph import TemporalSceneGraph, compute_relations
from robomem.core.trajectory import Trajectory
from robomem.core.types import NO_INSTANCE, Frame, IngestStats, NodeKind, Region, Relation
from robomem.core.voxel_map import VoxelMap, resolve_device
from robomem.encoders.base import Encoder
from robomem.index.base import VectorIndex, create_index

log = logging.getLogger(__name__)


def cluster_segments(
    points_world: np.ndarray,
    pixel_index: np.ndarray,
    image_hw: tuple[int, int],
    voxel_size: float,
    eps: float,
    min_points: int,
) -> np.ndarray:
    """Segment a frame without masks: drop the floor, DBSCAN the rest (Open3D) on voxel centres.

    Returns an (H, W) int32 segment mask (-1 = no segment). Segments get no label; their features come
    from image crops when the encoder has an image tower. The floor is the lowest horizontal RANSAC plane.
    """
    import open3d as o3d

    h, w = image_hw
    mask = np.full(h * w, NO_INSTANCE, dtype=np.int32)
    keys = np.floor(points_world / voxel_size).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    centres = (uniq.astype(np.float64) + 0.5) * voxel_size
    keep = np.ones(len(centres), dtype=bool)
    if len(centres) >= 50:
        o3d.utility.random.seed(0)  # RANSAC: same frame -> same segments
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(centres))
        plane, inliers = pcd.segment_plane(distance_threshold=1.5 * voxel_size, ransac_n=3, num_iterations=200)
        normal = np.asarray(plane[:3], dtype=np.float64)
        normal = normal / max(float(np.linalg.norm(normal)), 1e-9)
        if abs(normal[2]) > 0.95 and len(inliers) > 0.1 * len(centres):
            floor_z = float(np.median(centres[inliers, 2]))
            if floor_z <= float(np.percentile(centres[:, 2], 10)) + voxel_size:
                keep[np.asarray(inliers)] = False
    idx = np.nonzero(keep)[0]
    if len(idx) == 0:
        return mask.reshape(h, w)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(centres[idx]))
    labels_kept = np.asarray(pcd.cluster_dbscan(eps=max(eps, 3.0 * voxel_size), min_points=3))
    labels = np.full(len(centres), -1, dtype=np.int64)
    labels[idx] = labels_kept
    point_labels = labels[inverse]
    mask[pixel_index] = point_labels.astype(np.int32)
    counts = np.bincount(point_labels[point_labels >= 0], minlength=1) if (point_labels >= 0).any() else np.zeros(1)
    small = np.nonzero(counts < min_points)[0]
    if len(small):
        mask[np.isin(mask, small)] = NO_INSTANCE
    return mask.reshape(h, w)


class SpatioSemanticMemory(MemoryQueries):
    """Dynamic spatio-semantic memory. See the module docstring."""

    def __init__(self, config: MemoryConfig, encoder: Encoder, regions: Sequence[Region] = ()) -> None:
        config.validate()
        self.config = config
        self.encoder = encoder
        self.lock = threading.RLock()
        self.device = resolve_device(config.voxel.device)
        if config.voxel.torch_threads > 0 and torch.get_num_threads() != config.voxel.torch_threads:
            torch.set_num_threads(config.voxel.torch_threads)
        self.voxels = VoxelMap(config.voxel, feature_dim=encoder.dim, device=self.device)
        self.objects = ObjectStore(config.objects)
        self.graph = TemporalSceneGraph(config.graph)
        self.keyframes = KeyframeStore(config.episodic)
        self.trajectory = Trajectory()
        self.instance_index: VectorIndex = create_index(encoder.dim, config.index)
        self.voxel_index: VectorIndex = create_index(encoder.dim, config.index)
        self._regions: list[Region] = []
        self._first_stamp: Optional[int] = None
        self._last_stamp: Optional[int] = None
        self._text_cache: dict[str, np.ndarray] = {}
        self._dirty_instances: set[int] = set()
        self._removed_instances: set[int] = set()
        self._dirty_voxels: list[np.ndarray] = []
        self._removed_voxels: list[np.ndarray] = []
        self.counters: dict[str, int] = {
            "frames_ingested": 0,
            "frames_rejected": 0,
            "pixels_dropped_invalid_depth": 0,
            "pixels_dropped_out_of_range": 0,
            "voxels_removed": 0,
            "instances_moved": 0,
            "instances_merged": 0,
        }
        self.queries = QueryEngine(self)
        self.set_regions(regions)

    # =========================================================================================== write side
    def set_regions(self, regions: Sequence[Region]) -> None:
        """Name the rooms (world-frame boxes). Later frames and relations use them."""
        with self.lock:
            self._regions = list(regions)
            for r in self._regions:
                self.graph.set_room(r.name, r.box)

    def ingest(self, frame: Frame) -> IngestStats:
        """Add one RGB-D frame. Raises FrameError (memory unchanged) when the frame is rejected."""
        with self.lock:
            try:
                checked = check_frame(frame, self._last_stamp)
            except Exception:
                self.counters["frames_rejected"] += 1
                raise
            return self._ingest_checked(checked)

    def _text_feature(self, label: str) -> np.ndarray:
        feat = self._text_cache.get(label)
        if feat is None:
            feat = np.asarray(self.encoder.encode_text([label])[0], dtype=np.float32)
            if len(self._text_cache) > 10000:
                self._text_cache.clear()
            self._text_cache[label] = feat
        return feat

    def _segments(
        self, checked: CheckedFrame, points: np.ndarray, pixel_index: np.ndarray
    ) -> tuple[list[SegmentObservation], np.ndarray]:
        """Split the frame's points by segment. Returns (segments, per-point segment id (N,) int64)."""
        frame = checked.frame
        if frame.instance_mask is None:
            if not self.config.objects.cluster_unlabelled or len(points) == 0:
                return [], np.full(len(points), NO_INSTANCE, dtype=np.int64)
            mask = cluster_segments(points, pixel_index, frame.rgb.shape[:2], self.config.voxel.voxel_size,
                                    self.config.objects.cluster_eps, self.config.objects.min_points)
            frame = dataclasses.replace(frame, instance_mask=mask)
        assert frame.instance_mask is not None
        seg_of_point = frame.instance_mask.reshape(-1)[pixel_index].astype(np.int64)
        valid = seg_of_point != NO_INSTANCE
        if not valid.any():
            return [], seg_of_point
        order = np.argsort(seg_of_point, kind="stable")
        sorted_ids = seg_of_point[order]
        uniq, starts = np.unique(sorted_ids, return_index=True)
        bounds = list(starts[1:]) + [len(sorted_ids)]
        segments: list[SegmentObservation] = []
        crops: list[tuple[int, np.ndarray]] = []
        for seg_id, a, b in zip(uniq.tolist(), starts.tolist(), bounds):
            if seg_id == NO_INSTANCE or b - a < self.config.objects.min_points:
                continue
            label = frame.instance_labels.get(seg_id, "")
            kind = NodeKind.RECEPTACLE if seg_id in frame.receptacle_ids else NodeKind.OBJECT
            feature: Optional[np.ndarray] = self._text_feature(label) if label else None
            pts = points[order[a:b]]
            segments.append(SegmentObservation(seg_id, label, kind, pts, feature))
            if feature is None and self.encoder.supports_images:
                crops.append((len(segments) - 1, self._crop(frame, seg_id)))
        if crops:
            feats = self.encoder.encode_images([c for _, c in crops])
            for (i, _), f in zip(crops, feats):
                s = segments[i]
                segments[i] = SegmentObservation(s.segment_id, s.label, s.kind, s.points_world, f.astype(np.float32))
        return segments, seg_of_point

    @staticmethod
    def _crop(frame: Frame, seg_id: int) -> np.ndarray:
        assert frame.instance_mask is not None
        vs, us = np.nonzero(frame.instance_mask == seg_id)
        return frame.rgb[vs.min() : vs.max() + 1, us.min() : us.max() + 1]

    def _ingest_checked(self, checked: CheckedFrame) -> IngestStats:
        frame = checked.frame
        stamp = int(frame.stamp_ns)
        cfg = self.config.voxel
        depth_t = torch.from_numpy(checked.depth_m).to(self.device)
        pose_t = torch.from_numpy(checked.world_T_camera).to(self.device)
        points_t, pixel_t, _n_invalid, n_oor = backproject(
            depth_t, frame.intrinsics, pose_t, cfg.pixel_stride, cfg.min_depth, cfg.max_depth
        )
        points = points_t.cpu().numpy()
        pixel_index = pixel_t.cpu().numpy()

        # 1. free-space removal (before the new surface is integrated)
        carved_per_instance: dict[int, int] = {}
        n_removed = 0
        if cfg.removal:
            carve = self.voxels.carve(depth_t, frame.intrinsics, pose_t, stamp)
            carved_per_instance = dict(carve.removed_per_instance)
            n_removed = len(carve.removed_uids)
            if n_removed:
                self._removed_voxels.append(np.asarray(carve.removed_uids, dtype=np.int64))

        # 2. segments -> instances
        segments, seg_of_point = self._segments(checked, points, pixel_index)
        assign = self.objects.assign(segments, stamp)
        instance_of_point = np.full(len(points), NO_INSTANCE, dtype=np.int64)
        feature_rows = np.full(len(points), -1, dtype=np.int64)
        table: list[np.ndarray] = []
        if assign.segment_to_instance:
            seg_ids = np.fromiter(assign.segment_to_instance.keys(), dtype=np.int64)
            inst_ids = np.fromiter(assign.segment_to_instance.values(), dtype=np.int64)
            order = np.argsort(seg_ids)
            seg_ids, inst_ids = seg_ids[order], inst_ids[order]
            pos = np.clip(np.searchsorted(seg_ids, seg_of_point), 0, len(seg_ids) - 1)
            hit = seg_ids[pos] == seg_of_point
            instance_of_point[hit] = inst_ids[pos[hit]]
            seg_feature = {s.segment_id: s.feature for s in segments}
            row_of_seg = np.full(len(seg_ids), -1, dtype=np.int64)
            for j, sid in enumerate(seg_ids.tolist()):
                f = seg_feature.get(sid)
                if f is not None:
                    row_of_seg[j] = len(table)
                    table.append(f)
            feature_rows[hit] = row_of_seg[pos[hit]]
        feature_table = torch.from_numpy(np.stack(table)).to(self.device) if table else None

        # 3. voxels
        colors = frame.rgb.reshape(-1, 3)[pixel_index]
        integ = self.voxels.integrate(
            points_t,
            torch.from_numpy(np.ascontiguousarray(colors)).to(self.device),
            stamp,
            instance_ids=torch.from_numpy(instance_of_point).to(self.device),
            feature_rows=torch.from_numpy(feature_rows).to(self.device) if table else None,
            feature_table=feature_table,
        )
        if table:
            self._dirty_voxels.append(np.concatenate([integ.added_uids, integ.updated_uids]).astype(np.int64))
            self._compact_voxel_queues()

        # 4. instances: peaks, vanishing, deferred re-identification
        for iid in set(assign.segment_to_instance.values()):  # graph nodes first: a merge below may involve them
            inst = self.objects.get(iid)
            self.graph.upsert_instance(iid, inst.kind, inst.label, stamp)
        counts = self.voxels.instance_voxel_counts()
        self.objects.note_voxels({i: counts.get(i, 0) for i in assign.segment_to_instance.values()})
        seen_through: list[int] = []
        if cfg.removal and frame.instance_mask is not None:
            seen_through = self._seen_through(checked, set(assign.segment_to_instance.values()))
        merged_away = self._handle_vanished(counts, carved_per_instance, stamp, seen_through)

        # 5. scene graph + contexts for the instances seen now
        seen = sorted(set(assign.segment_to_instance.values()) - merged_away)
        self._update_relations(seen, stamp)
        self._dirty_instances.update(seen)

        # 6. keyframes, trajectory
        def embed() -> Optional[np.ndarray]:
            if not self.encoder.supports_images:
                return None
            return np.asarray(self.encoder.encode_images([frame.rgb])[0], dtype=np.float32)

        kf = self.keyframes.consider(
            stamp, checked.world_T_camera, frame.rgb, seen, embed, embed_when_novel=self.encoder.supports_images
        )
        self.trajectory.update(stamp, checked.world_T_camera, self._regions)

        if self._first_stamp is None:
            self._first_stamp = stamp
        self._last_stamp = stamp
        c = self.counters
        c["frames_ingested"] += 1
        c["pixels_dropped_invalid_depth"] += checked.n_invalid_depth
        c["pixels_dropped_out_of_range"] += int(n_oor)
        c["voxels_removed"] += n_removed
        c["instances_moved"] += len(assign.moved)
        return IngestStats(
            stamp_ns=stamp,
            points_in=len(points),
            pixels_dropped_invalid_depth=checked.n_invalid_depth,
            pixels_dropped_out_of_range=int(n_oor),
            voxels_added=len(integ.added_uids),
            voxels_updated=len(integ.updated_uids),
            voxels_removed=n_removed,
            instances_seen=len(seen),
            instances_created=len(assign.created),
            instances_moved=len(assign.moved),
            keyframe_added=kf is not None,
        )

    def _seen_through(self, checked: CheckedFrame, segmented: set[int]) -> list[int]:
        """Present instances this frame looked through (see ``ObjectConfig.seen_through_*``)."""
        ocfg = self.config.objects
        intr = checked.frame.intrinsics
        inst_ids = self.voxels.instance_ids
        if len(inst_ids) == 0:
            return []
        present = [i.instance_id for i in self.objects.present() if i.instance_id not in segmented]
        if not present:
            return []
        cand = torch.as_tensor(present, dtype=inst_ids.dtype, device=inst_ids.device)
        sel = torch.isin(inst_ids, cand)
        if not bool(sel.any()):
            return []
        pts = self.voxels.positions[sel].double().cpu().numpy()
        owner = inst_ids[sel].cpu().numpy()
        # only voxels at the instance's current place count (voxels left at an earlier place are not the object)
        boxes = {i: self.objects.get(i).current.box for i in present}
        owner_ids = np.asarray(sorted(boxes), dtype=np.int64)
        lo = np.asarray([boxes[i].min_xyz for i in owner_ids.tolist()]) - self.config.voxel.voxel_size
        hi = np.asarray([boxes[i].max_xyz for i in owner_ids.tolist()]) + self.config.voxel.voxel_size
        row = np.searchsorted(owner_ids, owner)
        here = np.all((pts >= lo[row]) & (pts <= hi[row]), axis=1)
        pts, owner = pts[here], owner[here]
        if len(pts) == 0:
            return []
        camera_T_world = np.linalg.inv(checked.world_T_camera)
        p_cam = pts @ camera_T_world[:3, :3].T + camera_T_world[:3, 3]
        z = p_cam[:, 2]
        ok = (z > self.config.voxel.min_depth) & (z < self.config.voxel.removal_max_depth)
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

    def _handle_vanished(
        self, counts: dict[int, int], carved: dict[int, int], stamp: int, seen_through: Sequence[int] = ()
    ) -> set[int]:
        merged_away: set[int] = set()
        vanished = self.objects.check_vanished(counts, carved, stamp)
        vanished += [i for i in seen_through if self.objects.mark_vanished(i, stamp)]
        for gone in vanished:
            if self.graph.has_instance(gone):
                self.graph.close_all(gone, stamp)
            merged = self.objects.deferred_reid(gone)
            if merged is not None:
                self.voxels.relabel_instance(merged, gone)
                if not self.graph.has_instance(gone):
                    inst = self.objects.get(gone)
                    self.graph.upsert_instance(gone, inst.kind, inst.label, stamp)
                if self.graph.has_instance(merged):
                    self.graph.merge_instances(gone, merged)
                self.keyframes.relabel_instance(merged, gone)
                self._removed_instances.add(merged)
                self._dirty_instances.discard(merged)
                self._dirty_instances.add(gone)
                merged_away.add(merged)
                self.counters["instances_merged"] += 1
                self._update_relations([gone], stamp)
        return merged_away

    def _update_relations(self, instance_ids: Sequence[int], stamp: int) -> None:
        receptacles = [
            (i.instance_id, i.current.box) for i in self.objects.present() if i.kind is NodeKind.RECEPTACLE
        ]
        for iid in instance_ids:
            inst = self.objects.get(iid)
            self.graph.upsert_instance(iid, inst.kind, inst.label, stamp)
            if not inst.present:
                continue
            rels = compute_relations(inst.current.box, receptacles, self._regions, self.config.graph, self_id=iid)
            self.graph.set_relations(iid, rels, stamp)
            receptacle_id: Optional[int] = None
            room: Optional[str] = None
            for rel, ref in rels:
                if ref.kind is NodeKind.ROOM and rel in (Relation.IN, Relation.PART_OF):
                    room = ref.name
                elif ref.kind is NodeKind.RECEPTACLE and rel in (Relation.ON, Relation.IN):
                    receptacle_id = ref.instance_id
            self.objects.set_context(iid, receptacle_id, room)

    def _compact_voxel_queues(self) -> None:
        """Keep the pending index updates bounded by the map size, however long no query comes."""
        pending = sum(len(a) for a in self._dirty_voxels)
        if pending > max(4 * len(self.voxels), 1_000_000):
            self._dirty_voxels = [np.unique(np.concatenate(self._dirty_voxels))]
        pending = sum(len(a) for a in self._removed_voxels)
        if pending > 1_000_000:
            self._removed_voxels = [np.unique(np.concatenate(self._removed_voxels))]

    def sync_indices(self) -> None:
        """Apply pending instance/voxel feature changes to the vector indices (done before each query)."""
        with self.lock:
            if self._removed_instances:
                self.instance_index.remove(np.fromiter(self._removed_instances, dtype=np.int64))
                self._removed_instances.clear()
            if self._dirty_instances:
                ids, vecs = [], []
                for iid in sorted(self._dirty_instances):
                    if iid in self.objects:
                        f = self.objects.get(iid).feature
                        if f is not None:
                            ids.append(iid)
                            vecs.append(f)
                if ids:
                    self.instance_index.add(np.asarray(ids, dtype=np.int64), np.stack(vecs).astype(np.float32))
                self._dirty_instances.clear()
            if self._removed_voxels:
                removed = np.unique(np.concatenate(self._removed_voxels))
                self.voxel_index.remove(removed)
                self._removed_voxels = []
            if self._dirty_voxels:
                dirty = np.unique(np.concatenate(self._dirty_voxels))
                self._dirty_voxels = []
                rows = self.voxels.rows_for_uids(dirty)
                keep = rows >= 0
                rows, dirty = rows[keep], dirty[keep]
                if len(rows):
                    feats = self.voxels.features[torch.from_numpy(rows).to(self.device)].float().cpu().numpy()
                    nz = np.linalg.norm(feats, axis=1) > 0
                    if nz.any():
                        self.voxel_index.add(dirty[nz], feats[nz])

    # =========================================================================================== read side
    def locate(
        self,
        text: Optional[str] = None,
        feature: Optional[np.ndarray] = None,
        k: int = 5,
        include_vanished: bool = False,
    ) -> LocateResult:
        return self.queries.locate(text, feature, k, include_vanished)

    def locate_voxels(self, text: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """DynaMem-style voxel retrieval: (positions (k,3) float32, scores (k,)) of the best-matching voxels."""
        return self.queries.locate_voxels(text, k)

    def last_seen(self, instance_id: Optional[int] = None, text: Optional[str] = None) -> InstanceResult:
        return self.queries.last_seen(instance_id, text)

    def where_at(self, t_ns: int, instance_id: Optional[int] = None, text: Optional[str] = None) -> InstanceResult:
        return self.queries.where_at(t_ns, instance_id, text)

    def history(self, instance_id: Optional[int] = None, text: Optional[str] = None) -> HistoryResult:
        return self.queries.history(instance_id, text)

    def changes(self, t0_ns: int, t1_ns: int, region: Optional[str] = None) -> ChangesResult:
        return self.queries.changes(t0_ns, t1_ns, region)

    def count(self, text: str, min_score: Optional[float] = None, include_vanished: bool = False) -> CountResult:
        return self.queries.count(text, min_score, include_vanished)

    def relations(self, instance_id: int, t_ns: Optional[int] = None) -> RelationsResult:
        return self.queries.relations(instance_id, t_ns)

    def state_at(self, t_ns: int) -> StateResult:
        return self.queries.state_at(t_ns)

    def keyframes_for(
        self, text: Optional[str] = None, k: int = 5, instance_id: Optional[int] = None
    ) -> KeyframesResult:
        return self.queries.keyframes_for(text, k, instance_id)

    def room_visits(self, t0_ns: Optional[int] = None, t1_ns: Optional[int] = None) -> RoomVisitsResult:
        return self.queries.room_visits(t0_ns, t1_ns)

    def instances(self, include_vanished: bool = True) -> list[InstanceSummary]:
        return self.queries.instances(include_vanished)

    def regions(self) -> Sequence[Region]:
        return tuple(self._regions)

    def time_range(self) -> tuple[int, int]:
        with self.lock:
            if self._first_stamp is None or self._last_stamp is None:
                return (0, 0)
            return (self._first_stamp, self._last_stamp)

    def voxel_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """(points_world (N,3) float32, colors (N,3) uint8) of every voxel, for visualisation."""
        with self.lock:
            return (
                self.voxels.positions.cpu().numpy().astype(np.float32),
                self.voxels.colors.cpu().numpy().clip(0, 255).astype(np.uint8),
            )

    def stats(self) -> dict[str, int]:
        """Sizes and counters (for diagnostics)."""
        with self.lock:
            out = dict(self.counters)
            out.update(
                voxels=len(self.voxels),
                instances=len(self.objects),
                instances_present=len(self.objects.present()),
                keyframes=len(self.keyframes),
                graph_nodes=self.graph.graph.number_of_nodes(),
                graph_edges=self.graph.graph.number_of_edges(),
                room_visits=len(self.trajectory),
            )
            return out

    # =========================================================================================== persistence
    def save(self, directory: Union[str, Path]) -> Path:
        """Write the whole memory to ``directory`` atomically (see :mod:`robomem.core.persistence`)."""
        from robomem.core.persistence import save_memory

        with self.lock:
            self.sync_indices()
            return save_memory(self, directory)  # the raw path: "" must be refused, not read as "."

    @classmethod
    def load(
        cls, directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None
    ) -> SpatioSemanticMemory:
        """Read a memory written by :meth:`save`. Raises PersistenceError; never returns a half-loaded memory."""
        from robomem.core.persistence import load_memory

        return load_memory(directory, encoder, config)

    def replace_state(self, other: SpatioSemanticMemory) -> None:
        """Swap this memory's contents for ``other``'s (used by a LoadMemory service: all or nothing)."""
        with self.lock:
            for name in (
                "config", "voxels", "objects", "graph", "keyframes", "trajectory", "instance_index",
                "voxel_index", "_regions", "_first_stamp", "_last_stamp", "_dirty_instances",
                "_removed_instances", "_dirty_voxels", "_removed_voxels", "counters",
            ):
                setattr(self, name, getattr(other, name))
            self._text_cache.clear()
            self.queries = QueryEngine(self)

    def reset(self) -> None:
        """Forget everything (keeps config, encoder and regions)."""
        with self.lock:
            fresh = SpatioSemanticMemory(self.config, self.encoder, self._regions)
            self.replace_state(fresh)
