"""Voxel-map building blocks (torch): int64 voxel keys (21 bits per axis, x most significant), the sorted
key index merge, and the per-frame reductions of :meth:`robomem.core.voxel_map.VoxelMap.integrate`
(unique cells, majority label, mean feature)."""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from robomem.errors import FrameError

ArrayLike = Union[Tensor, np.ndarray]

_BITS = 21
_OFFSET = 1 << (_BITS - 1)  # coordinates in [-2^20, 2^20) grid units
_MASK = (1 << _BITS) - 1
_DENSE_PAIR_LIMIT = 4_000_000  # voxel x label tables up to this size are counted densely (bincount)
_NEIGHBOUR_DELTAS = tuple(
    (dx << (2 * _BITS)) + (dy << _BITS) + dz
    for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1) if (dx, dy, dz) != (0, 0, 0)
)  # packed-key offsets of the 26 neighbours of a voxel (see pack_keys)


def resolve_device(name: str) -> torch.device:
    """Config device string -> torch.device ("auto": CUDA when available, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# ------------------------------------------------------------------------------------------ key packing


def pack_keys(coords: Tensor) -> Tensor:
    """(N, 3) int64 grid coordinates in ``[-2^20, 2^20)`` -> (N,) int64 keys ordered by (x, y, z)."""
    c = coords + _OFFSET
    return (c[:, 0] << (2 * _BITS)) | (c[:, 1] << _BITS) | c[:, 2]


def unpack_keys(keys: Tensor) -> Tensor:
    """Inverse of :func:`pack_keys`: (N,) int64 -> (N, 3) int64 grid coordinates."""
    x = (keys >> (2 * _BITS)) - _OFFSET
    y = ((keys >> _BITS) & _MASK) - _OFFSET
    z = (keys & _MASK) - _OFFSET
    return torch.stack((x, y, z), dim=1)


def _check_range(points: Tensor, cell: float, what: str) -> None:
    """Raise FrameError if some (N, 3) point's grid coordinate (edge ``cell``) cannot be packed into a key."""
    if points.numel():
        lo, hi = points.aminmax()
        if math.floor(float(lo) / cell) < -_OFFSET or math.floor(float(hi) / cell) >= _OFFSET:
            limit = _OFFSET * cell
            raise FrameError(
                f"{what} lie beyond +-{limit:.0f} m of the world origin, outside the map's range; "
                "check the pose units (metres) and the depth scale"
            )


def _pack_points(points: Tensor, cell: float) -> Tensor:
    """Keys of the grid cells (edge ``cell``) holding (N, 3) points, computed column by column (fast on CPU).

    Call :func:`_check_range` first."""
    x, y, z = (torch.floor(c / cell).to(torch.int64) + _OFFSET for c in points.unbind(1))
    return (x << (2 * _BITS)) | (y << _BITS) | z


def _unique_cells(points: Tensor, cell: float) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.unique(_pack_points(points, cell), return_inverse=True, return_counts=True)``, faster.

    The cells are numbered within the points' bounding box as int32 when the box has fewer than 2^31 cells
    (sorting int32 is ~1.7x faster than int64 on CPU); the numbering follows the key order (x, y, z), so the
    unique keys, inverse and counts are the same. Call :func:`_check_range` first."""
    x, y, z = (torch.floor(c / cell).to(torch.int32) for c in points.unbind(1))
    lo = [int(a.min()) for a in (x, y, z)]
    ext = [int(a.max()) - b + 1 for a, b in zip((x, y, z), lo, strict=True)]
    if ext[0] * ext[1] * ext[2] >= 2 ** 31:
        keys = ((x.to(torch.int64) + _OFFSET) << (2 * _BITS)) | ((y.to(torch.int64) + _OFFSET) << _BITS) \
            | (z.to(torch.int64) + _OFFSET)
        return torch.unique(keys, return_inverse=True, return_counts=True)
    local = (x - lo[0]).mul_(ext[1]).add_(y - lo[1]).mul_(ext[2]).add_(z - lo[2])
    ulocal, inv, cnt = torch.unique(local, return_inverse=True, return_counts=True)
    u = ulocal.to(torch.int64)
    uz = u % ext[2] + (lo[2] + _OFFSET)
    u = u // ext[2]
    uy = u % ext[1] + (lo[1] + _OFFSET)
    ux = u // ext[1] + (lo[0] + _OFFSET)
    return (ux << (2 * _BITS)) | (uy << _BITS) | uz, inv.to(torch.int64), cnt.to(torch.int64)


def _insert_sorted(
    sorted_keys: Tensor, values: Tensor, new_keys: Tensor, new_values: Tensor, ins_pos: Tensor
) -> tuple[Tensor, Tensor]:
    """Merge sorted ``new_keys`` (none already present) and their ``new_values`` into the sorted index
    (``sorted_keys``, aligned ``values``), given ``ins_pos = searchsorted(sorted_keys, new_keys)``.

    O(N + M) moves (bincount + cumsum + two index_copy_), no sort.
    """
    n, m = sorted_keys.numel(), new_keys.numel()
    dev = sorted_keys.device
    new_idx = ins_pos + torch.arange(m, device=dev)
    shift = torch.cumsum(torch.bincount(ins_pos, minlength=n + 1)[:n], 0)  # new keys before each old one
    old_idx = torch.arange(n, device=dev) + shift
    keys = torch.empty(n + m, dtype=sorted_keys.dtype, device=dev)
    keys.index_copy_(0, old_idx, sorted_keys)
    keys.index_copy_(0, new_idx, new_keys)
    vals = torch.empty((n + m,) + tuple(values.shape[1:]), dtype=values.dtype, device=dev)
    vals.index_copy_(0, old_idx, values)
    vals.index_copy_(0, new_idx, new_values)
    return keys, vals


def _to_tensor(x: ArrayLike, device: torch.device, dtype: Optional[torch.dtype] = None) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.ascontiguousarray(x))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device=device)


def _np(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------------------ per-frame reductions


def _l2n(x: Tensor) -> Tensor:
    return x / torch.linalg.norm(x, dim=1, keepdim=True).clamp_min(1e-12)


def _majority(inv: Tensor, labels: Tensor, n_vox: int) -> Tensor:
    """Per voxel, the most frequent label of its points (ties: the smallest label). (n_vox,) int64."""
    lo, hi = torch.aminmax(labels)
    if bool(lo == hi):  # one label for every point (an unsegmented frame): no sort needed
        return lo.expand(n_vox).clone()
    ulab, code = torch.unique(labels, return_inverse=True)
    k = ulab.numel()
    if k == 1:
        return ulab.expand(n_vox).clone()
    if n_vox * k <= _DENSE_PAIR_LIMIT:
        table = torch.bincount(inv * k + code, minlength=n_vox * k).view(n_vox, k)
        return ulab[table.argmax(dim=1)]
    pairs, pcnt = torch.unique(inv * k + code, return_counts=True)
    vox = pairs // k
    # sort pairs by (voxel, count desc): pick the first of each voxel
    order = torch.argsort(vox * (pcnt.max() + 1) + (pcnt.max() - pcnt))
    vox_o = vox[order]
    first = torch.ones_like(vox_o, dtype=torch.bool)
    first[1:] = vox_o[1:] != vox_o[:-1]
    out = torch.empty(n_vox, dtype=torch.int64, device=labels.device)
    out[vox_o[first]] = ulab[(pairs[order] % k)[first]]
    return out


def _mean_features(inv: Tensor, frows: Tensor, table: Tensor, n_vox: int) -> tuple[Tensor, Tensor]:
    """Per voxel, the normalised mean of its points' (normalised) features.

    Returns ((n_vox, D) float32, has (n_vox,) bool)."""
    table_n = _l2n(table)
    has_pt = frows >= 0
    vi, fr = inv[has_pt], frows[has_pt]
    s = table.shape[0]
    has = torch.zeros(n_vox, dtype=torch.bool, device=table.device)
    if vi.numel() == 0:
        return torch.zeros(n_vox, table.shape[1], device=table.device), has
    has[vi] = True
    if n_vox * s <= _DENSE_PAIR_LIMIT:
        w = torch.bincount(vi * s + fr, minlength=n_vox * s).view(n_vox, s).to(table_n.dtype)
        summed = w @ table_n
    else:
        summed = torch.zeros(n_vox, table.shape[1], dtype=table_n.dtype, device=table.device)
        summed.index_add_(0, vi, table_n[fr])
    return _l2n(summed), has
