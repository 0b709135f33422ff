"""Validation of a saved voxel map (:meth:`robomem.core.voxel_map.VoxelMap.from_state_dict`): every array's
dtype, shape and consistency checked before anything is built."""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

import numpy as np
import torch

from robomem.config import VoxelConfig
from robomem.core.negative_evidence import _StateReader
from robomem.core.types import NO_INSTANCE
from robomem.core.voxel_ops import _np, unpack_keys
from robomem.errors import PersistenceError

STATE_VERSION = 1


class VoxelArrays(NamedTuple):
    """A saved map's validated rows (N voxels, storage order) and its next uid."""

    next_uid: int
    keys: np.ndarray  # (N,) int64 packed voxel keys
    uids: np.ndarray  # (N,) int64
    positions: np.ndarray  # (N, 3) float32 world, m
    colors: np.ndarray  # (N, 3) float32 RGB
    features: np.ndarray  # (N, D) float16
    counts: np.ndarray  # (N,) int32
    feature_counts: np.ndarray  # (N,) int32
    first_seen_ns: np.ndarray  # (N,) int64
    last_seen_ns: np.ndarray  # (N,) int64
    instance_ids: np.ndarray  # (N,) int64
    misses: np.ndarray  # (N,) int32


def read_voxel_state(config: VoxelConfig, state: Mapping[str, np.ndarray], feature_dim: int) -> VoxelArrays:
    """The validated arrays of a :meth:`~robomem.core.voxel_map.VoxelMap.state_dict`.

    Raises :class:`PersistenceError` naming the offending array."""
    get = _StateReader(state, "", "voxel map state")
    version = int(get.scalar("version", np.int64))
    if version != STATE_VERSION:
        raise PersistenceError(
            f"voxel map state has version {version}, this robomem reads version {STATE_VERSION}; "
            "re-create the memory or use the matching robomem version"
        )
    vs = get.scalar("voxel_size", np.float64)
    if not math.isclose(vs, config.voxel_size, rel_tol=1e-9):
        raise PersistenceError(
            f"voxel map was saved with voxel_size={vs} but the config says {config.voxel_size}; "
            "load it with the config it was saved with"
        )
    fd = int(get.scalar("feature_dim", np.int64))
    if fd != feature_dim:
        raise PersistenceError(
            f"voxel map was saved with feature_dim={fd} but {feature_dim} was requested; "
            "load it with the encoder it was built with"
        )
    next_uid = int(get.scalar("next_uid", np.int64))
    keys = get.array("keys", np.int64, (None,))
    n = keys.shape[0]
    uids = get.array("uids", np.int64, (n,))
    positions = get.array("positions", np.float32, (n, 3))
    colors = get.array("colors", np.float32, (n, 3))
    features = get.array("features", np.float16, (n, fd))
    counts = get.array("counts", np.int32, (n,))
    fcounts = get.array("feature_counts", np.int32, (n,))
    first = get.array("first_seen_ns", np.int64, (n,))
    last = get.array("last_seen_ns", np.int64, (n,))
    inst = get.array("instance_ids", np.int64, (n,))
    misses = get.array("misses", np.int32, (n,))

    def bad(msg: str) -> PersistenceError:
        return PersistenceError(f"voxel map state: {msg}; the file is corrupt, restore it from a backup")

    if n:
        if keys.min() < 0 or len(np.unique(keys)) != n:
            raise bad("voxel keys must be unique and >= 0")
        if len(np.unique(uids)) != n or uids.min() < 0 or uids.max() >= next_uid:
            raise bad(f"uids must be unique and in [0, next_uid={next_uid})")
        if not np.all(np.isfinite(positions)):
            raise bad("positions contain NaN or inf")
        centers = (_np(unpack_keys(torch.as_tensor(keys))).astype(np.float64) + 0.5) * vs
        if np.max(np.abs(positions.astype(np.float64) - centers)) > 0.5 * vs + 1e-3:
            raise bad("positions do not lie in the voxels their keys name")
        if not np.all(np.isfinite(colors)) or colors.min() < 0 or colors.max() > 255:
            raise bad("colors must be finite and in [0, 255]")
        if fd and not np.all(np.isfinite(features)):
            raise bad("features contain NaN or inf")
        if counts.min() < 1 or fcounts.min() < 0 or np.any(fcounts > counts):
            raise bad("need counts >= 1 and 0 <= feature_counts <= counts")
        if np.any(first > last) or first.min() < 0:
            raise bad("need 0 <= first_seen_ns <= last_seen_ns")
        if inst.min() < NO_INSTANCE:
            raise bad("instance_ids must be >= -1")
        if misses.min() < 0:
            raise bad("misses must be >= 0")
    elif next_uid < 0:
        raise bad("next_uid must be >= 0")
    return VoxelArrays(next_uid, keys, uids, positions, colors, features, counts, fcounts, first, last, inst, misses)
