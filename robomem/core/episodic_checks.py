"""Input validation and array helpers of :mod:`robomem.core.episodic` (stamps, poses, RGB images, instance ids,
thumbnails, saved-state arrays).
"""

from __future__ import annotations

from typing import Iterable, Optional

import cv2
import numpy as np

from robomem.errors import FrameError, PersistenceError


def _thumbnail(rgb: np.ndarray, width: int) -> np.ndarray:
    """Resize to ``width`` pixels wide keeping the aspect ratio (never upscales)."""
    h, w = rgb.shape[:2]
    tw = min(int(width), w)
    th = max(1, int(round(h * tw / w)))
    if (tw, th) == (w, h):
        return np.ascontiguousarray(rgb).copy()
    return np.ascontiguousarray(cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA))


def _resized(a: np.ndarray, cap: int, fill: object) -> np.ndarray:
    out = np.full((cap,) + a.shape[1:], fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _check_stamp(stamp_ns: object) -> int:
    if isinstance(stamp_ns, bool) or not isinstance(stamp_ns, (int, np.integer)):
        raise FrameError(f"keyframe stamp_ns must be an integer number of nanoseconds, got {stamp_ns!r}")
    return int(stamp_ns)


def _check_pose(world_T_camera: np.ndarray) -> np.ndarray:
    """A float64 copy of a 4x4 rigid transform, or FrameError saying what is wrong."""
    T = np.array(world_T_camera, dtype=np.float64)
    if T.shape != (4, 4):
        raise FrameError(f"world_T_camera must be 4x4, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise FrameError("world_T_camera contains NaN or inf; check the pose source")
    if not np.allclose(T[3], (0.0, 0.0, 0.0, 1.0), atol=1e-6):
        raise FrameError(f"world_T_camera last row must be [0, 0, 0, 1], got {T[3].tolist()}")
    R = T[:3, :3]
    if not np.allclose(R.T @ R, np.eye(3), atol=1e-3) or np.linalg.det(R) <= 0.0:
        raise FrameError("world_T_camera rotation is not a proper rotation (R^T R != I or det <= 0); "
                         "orthonormalise the pose")
    return T


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise FrameError(f"keyframe rgb must be an (H, W, 3) uint8 array, got {dtype} {shape}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise FrameError(f"keyframe rgb is empty (shape {rgb.shape})")


def _check_ids(ids: Iterable[int]) -> frozenset[int]:
    out = set()
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise FrameError(f"visible instance ids must be integers, got {i!r}")
        out.add(int(i))
    return frozenset(out)


def _scalar_int(a: np.ndarray, name: str) -> int:
    if a.shape != () or a.dtype.kind not in "iu":
        raise PersistenceError(f"keyframes: {name} must be an integer scalar, got {a.dtype} {a.shape}")
    return int(a)


def _int_array(a: np.ndarray, name: str, ndim: int, shape: Optional[tuple[int, ...]] = None) -> np.ndarray:
    if a.ndim != ndim or a.dtype.kind not in "iu" or (shape is not None and a.shape != shape):
        want = shape if shape is not None else f"{ndim}-D"
        raise PersistenceError(f"keyframes: {name} must be an integer array of shape {want}, "
                               f"got {a.dtype} {a.shape}")
    return a.astype(np.int64)


def _offsets(a: np.ndarray, name: str, n: int, total: int) -> np.ndarray:
    off = _int_array(a, name, 1, (n + 1,))
    if off[0] != 0 or off[-1] != total or np.any(np.diff(off) < 0):
        raise PersistenceError(
            f"keyframes: {name} must rise from 0 to {total} (the packed array's length), got "
            f"{off[:3].tolist()}...{off[-1:].tolist()}"
        )
    return off
