"""Negative evidence of the voxel map: a coarse sparse grid of when each place was looked at and seen empty,
and the removal events (see :class:`NegativeEvidence`)."""

from __future__ import annotations

import collections
import math
from typing import Mapping, NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor

from robomem.config import VoxelConfig
from robomem.core.geometry import camera_rays, transform_points
from robomem.core.types import NO_INSTANCE, CameraIntrinsics
from robomem.core.voxel_ops import (
    _OFFSET,
    ArrayLike,
    _check_range,
    _insert_sorted,
    _np,
    _pack_points,
    _to_tensor,
    pack_keys,
    resolve_device,
)
from robomem.errors import PersistenceError


class RemovalEvent(NamedTuple):
    """Voxels of one instance removed by one carve: when, whose, where (centroid, world m) and how many.

    Unlabelled (``NO_INSTANCE``) voxels produce no event (they may be scattered over the whole view)."""

    stamp_ns: int
    instance_id: int
    centroid: tuple[float, float, float]
    n_voxels: int


class NegativeEvidence:
    """Coarse sparse grid of "the robot looked here at t" and "this was seen empty at t", plus removal events.

    Cells are ``config.negative_cell_size`` cubes keyed by packed integer cell coordinates (a sorted-key
    sparse grid, so its size is bounded by the explored space; re-observing a static scene adds nothing).
    Per cell: ``last_observed_ns`` (a sampled ray passed through it or ended on a surface in it) and
    ``last_empty_ns`` (a sampled ray passed through it at least ``removal_margin`` in front of the surface
    and *no* sampled surface of the same frame lay in it). A cell is therefore never marked empty in a frame
    that sees a surface inside it: the cell holding a small object that stood on the floor keeps the floor
    and is never "empty"; query a point away from other surfaces (e.g. the removed voxels' centroid) or use
    :meth:`events`. ``last_empty_ns == last_observed_ns`` means "empty the last time it was looked at".

    Rays are sampled on a pixel grid of step ``negative_pixel_stride`` and marched at half-cell steps up to
    ``min(depth - removal_margin, removal_max_depth)``; surfaces are sampled 2x denser (stride / 2).
    Removal events are kept in a bounded FIFO (``max_events``): one per instance per carve that removed
    some of its voxels, so a static scene produces none.
    """

    def __init__(self, config: VoxelConfig, device: torch.device, max_events: int = 10_000) -> None:
        self.config = config
        self.device = device
        self.max_events = max_events
        self._keys = torch.zeros(0, dtype=torch.int64, device=device)
        self._observed = torch.zeros(0, dtype=torch.int64, device=device)
        self._empty = torch.zeros(0, dtype=torch.int64, device=device)
        self._events: collections.deque[RemovalEvent] = collections.deque(maxlen=max_events)

    def __len__(self) -> int:
        """Number of cells ever observed."""
        return int(self._keys.numel())

    # ---------------------------------------------------------------------------------------- update

    def update(self, depth_m: Tensor, intrinsics: CameraIntrinsics, world_T_camera: Tensor, stamp_ns: int) -> None:
        """Record one depth image: (H, W) float32 z-depth, metres (0/NaN/inf or < ``min_depth``: invalid)."""
        cfg = self.config
        cell = cfg.negative_cell_size
        d_min = max(cfg.min_depth, 1e-6)
        T = world_T_camera.to(device=self.device, dtype=torch.float32)

        # free-space samples along sparse rays through the centres of the stride x stride pixel cells
        s = cfg.negative_pixel_stride
        off = s // 2
        d = depth_m[off::s, off::s].to(torch.float32)
        rays = camera_rays(intrinsics, s, self.device)[: d.shape[0], : d.shape[1]].clone()
        rays[..., 0] += off / float(intrinsics.fx)
        rays[..., 1] += off / float(intrinsics.fy)
        d = d.reshape(-1)
        rays = rays.reshape(-1, 3)
        t_end = torch.clamp(d - cfg.removal_margin, min=0.0, max=cfg.removal_max_depth)
        keep = (d >= d_min) & (d < math.inf) & (t_end > 0)
        rays, t_end = rays[keep], t_end[keep]
        free_keys = torch.zeros(0, dtype=torch.int64, device=self.device)
        if rays.numel():
            step_z = 0.5 * cell / torch.linalg.norm(rays, dim=1)  # half a cell along the ray, in z units
            n_steps = int(math.ceil(float((t_end / step_z).max()))) + 1
            k = torch.arange(n_steps, device=self.device, dtype=torch.float32)
            # samples past a ray's end collapse onto its end point (and are dropped as repeats below)
            tz = torch.minimum(k[None, :] * step_z[:, None], t_end[:, None])  # (R, K)
            rays_world = transform_points(T, rays) - T[:3, 3]  # ray directions in the world
            pts = rays_world[:, None, :] * tz[..., None] + T[:3, 3]  # (R, K, 3)
            flat_pts = pts.reshape(-1, 3)
            _check_range(flat_pts, cell, "depth rays")
            keys = _pack_points(flat_pts, cell).reshape(tz.shape)
            fresh = torch.ones_like(keys, dtype=torch.bool)
            fresh[:, 1:] = keys[:, 1:] != keys[:, :-1]  # consecutive repeats along a ray: same cell
            free_keys = torch.unique(keys[fresh])

        # surface samples, 2x denser than the rays
        s2 = max(1, s // 2)
        d2 = depth_m[::s2, ::s2].to(torch.float32)
        rays2 = camera_rays(intrinsics, s2, self.device)
        surf = torch.nonzero(((d2 >= d_min) & (d2 <= cfg.max_depth)).reshape(-1)).squeeze(1)
        pts2 = transform_points(T, rays2.reshape(-1, 3).index_select(0, surf) * d2.reshape(-1)[surf][:, None])
        _check_range(pts2, cell, "depth points")
        surf_keys = torch.unique(_pack_points(pts2, cell))

        empty_keys = free_keys
        if surf_keys.numel() and free_keys.numel():  # both sorted: membership by searchsorted
            pos = torch.searchsorted(surf_keys, free_keys).clamp(max=surf_keys.numel() - 1)
            empty_keys = free_keys[surf_keys[pos] != free_keys]
        observed_keys = torch.unique(torch.cat((free_keys, surf_keys)))
        self._touch(observed_keys, empty_keys, stamp_ns)

    def _touch(self, observed_keys: Tensor, empty_keys: Tensor, stamp_ns: int) -> None:
        if observed_keys.numel() == 0:
            return
        n = self._keys.numel()
        pos = torch.searchsorted(self._keys, observed_keys)
        found = torch.zeros_like(observed_keys, dtype=torch.bool)
        if n:
            found = self._keys[pos.clamp(max=n - 1)] == observed_keys
        new = ~found
        if bool(new.any()):
            new_keys = observed_keys[new]
            ins = pos[new]
            zeros = torch.zeros(new_keys.numel(), dtype=torch.int64, device=self.device)
            _, self._observed = _insert_sorted(self._keys, self._observed, new_keys, zeros, ins)
            self._keys, self._empty = _insert_sorted(self._keys, self._empty, new_keys, zeros, ins)
        obs_pos = torch.searchsorted(self._keys, observed_keys)
        self._observed[obs_pos] = int(stamp_ns)
        if empty_keys.numel():
            self._empty[torch.searchsorted(self._keys, empty_keys)] = int(stamp_ns)

    def add_events(self, events: list[RemovalEvent]) -> None:
        self._events.extend(events)

    # ----------------------------------------------------------------------------------------- query

    def _lookup(self, values: Tensor, points_world: ArrayLike) -> np.ndarray:
        pts = _to_tensor(points_world, self.device, torch.float32).reshape(-1, 3)
        n = self._keys.numel()
        if n == 0 or pts.shape[0] == 0:
            return np.zeros(pts.shape[0], np.int64)
        coords = torch.floor(pts / self.config.negative_cell_size).to(torch.int64)
        inside = ((coords >= -_OFFSET) & (coords < _OFFSET)).all(dim=1)
        keys = pack_keys(coords.clamp(-_OFFSET, _OFFSET - 1))
        pos = torch.searchsorted(self._keys, keys).clamp(max=n - 1)
        hit = (self._keys[pos] == keys) & inside
        return _np(torch.where(hit, values[pos], torch.zeros_like(keys)))

    def last_empty_ns(self, points_world: ArrayLike) -> np.ndarray:
        """(M,) int64: last time the cell of each (M, 3) world point was seen empty; 0 = never."""
        return self._lookup(self._empty, points_world)

    def last_observed_ns(self, points_world: ArrayLike) -> np.ndarray:
        """(M,) int64: last time the cell of each (M, 3) world point was looked at; 0 = never."""
        return self._lookup(self._observed, points_world)

    def events(self, t0_ns: int = 0, t1_ns: Optional[int] = None) -> list[RemovalEvent]:
        """Removal events with ``t0_ns <= stamp_ns <= t1_ns`` (``t1_ns`` None: unbounded), oldest first."""
        return [e for e in self._events if e.stamp_ns >= t0_ns and (t1_ns is None or e.stamp_ns <= t1_ns)]

    # ------------------------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, np.ndarray]:
        ev = list(self._events)
        return {
            "cell_size": np.array(self.config.negative_cell_size, dtype=np.float64),
            "cell_keys": _np(self._keys).copy(),
            "last_observed_ns": _np(self._observed).copy(),
            "last_empty_ns": _np(self._empty).copy(),
            "event_stamp_ns": np.array([e.stamp_ns for e in ev], dtype=np.int64),
            "event_instance_id": np.array([e.instance_id for e in ev], dtype=np.int64),
            "event_centroid": np.array([e.centroid for e in ev], dtype=np.float32).reshape(-1, 3),
            "event_n_voxels": np.array([e.n_voxels for e in ev], dtype=np.int64),
        }

    @classmethod
    def from_state_dict(
        cls,
        config: VoxelConfig,
        state: Mapping[str, np.ndarray],
        device: Optional[torch.device] = None,
        max_events: int = 10_000,
        prefix: str = "",
    ) -> NegativeEvidence:
        """Rebuild from :meth:`state_dict`; raises :class:`PersistenceError` on any inconsistency."""
        dev = device if device is not None else resolve_device(config.device)
        get = _StateReader(state, prefix, "negative evidence")
        cell_size = get.scalar("cell_size", np.float64)
        if not math.isclose(cell_size, config.negative_cell_size, rel_tol=1e-9):
            raise PersistenceError(
                f"negative evidence was saved with negative_cell_size={cell_size} but the config says "
                f"{config.negative_cell_size}; load it with the config it was saved with"
            )
        keys = get.array("cell_keys", np.int64, (None,))
        c = keys.shape[0]
        observed = get.array("last_observed_ns", np.int64, (c,))
        empty = get.array("last_empty_ns", np.int64, (c,))
        if c and (np.any(np.diff(keys) <= 0) or keys.min() < 0):
            raise PersistenceError(
                f"{get.where}: cell_keys must be strictly increasing and >= 0; file is corrupt"
            )
        if np.any(observed < 0) or np.any(empty < 0) or np.any(empty > observed):
            raise PersistenceError(
                f"{get.where}: need 0 <= last_empty_ns <= last_observed_ns for every cell; file is corrupt"
            )
        stamps = get.array("event_stamp_ns", np.int64, (None,))
        e = stamps.shape[0]
        inst = get.array("event_instance_id", np.int64, (e,))
        cent = get.array("event_centroid", np.float32, (e, 3))
        nvox = get.array("event_n_voxels", np.int64, (e,))
        if not np.all(np.isfinite(cent)) or np.any(nvox <= 0) or np.any(inst < NO_INSTANCE):
            raise PersistenceError(
                f"{get.where}: removal events need finite centroids, n_voxels > 0 and instance ids >= -1"
            )
        out = cls(config, dev, max_events=max_events)
        out._keys = torch.as_tensor(keys, device=dev)
        out._observed = torch.as_tensor(observed, device=dev)
        out._empty = torch.as_tensor(empty, device=dev)
        out._events.extend(
            RemovalEvent(int(s), int(i), (float(p[0]), float(p[1]), float(p[2])), int(k))
            for s, i, p, k in zip(stamps, inst, cent, nvox, strict=True)
        )
        return out


class _StateReader:
    """Typed, shape-checked access to a state dict, raising PersistenceError with the offending key."""

    def __init__(self, state: Mapping[str, np.ndarray], prefix: str, where: str) -> None:
        self.state, self.prefix, self.where = state, prefix, where

    def array(self, key: str, dtype: type, shape: tuple[Optional[int], ...]) -> np.ndarray:
        full = self.prefix + key
        if full not in self.state:
            raise PersistenceError(
                f"{self.where}: state has no {full!r}; the file is truncated or from another robomem version"
            )
        a = self.state[full]
        if not isinstance(a, np.ndarray) or a.dtype != np.dtype(dtype):
            got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise PersistenceError(
                f"{self.where}: {full!r} must be {np.dtype(dtype)}, got {got}; file is corrupt"
            )
        if a.ndim != len(shape) or any(s is not None and s != a.shape[i] for i, s in enumerate(shape)):
            want = tuple("N" if s is None else s for s in shape)
            raise PersistenceError(
                f"{self.where}: {full!r} has shape {a.shape}, expected {want}; the arrays are inconsistent "
                "(truncated or corrupt file)"
            )
        return a

    def scalar(self, key: str, dtype: type) -> float:
        return float(self.array(key, dtype, ()))
