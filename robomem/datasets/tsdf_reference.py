"""Open3D's TSDF (``o3d.t.geometry.VoxelBlockGrid``) as the reference surface for map quality, and the
coverage / precision metrics used by ``benchmarks/bench_ingest.py`` and ``robomem ingest-dir --compare-tsdf``.

* **coverage** at ``tol``: the fraction of the TSDF's surface points (``extract_point_cloud``, weight >= 3) that
  have a map point within ``tol`` (does the map cover the surface?);
* **precision** at ``tol``: the fraction of the map's points within ``tol`` of a TSDF surface point (is what the
  map holds really surface?).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np

from robomem.core.types import CameraIntrinsics


@dataclass(frozen=True)
class SurfaceMetrics:
    coverage: float
    precision: float
    n_map: int
    n_reference: int


class TsdfReference:
    """Incremental Open3D TSDF integration (CPU), timed separately from everything else."""

    def __init__(self, voxel_size: float = 0.05, depth_max: float = 6.0, block_count: int = 40000) -> None:
        import open3d as o3d

        self._o3d = o3d
        self.depth_max = depth_max
        self.vbg = o3d.t.geometry.VoxelBlockGrid(
            attr_names=("tsdf", "weight", "color"),
            attr_dtypes=(o3d.core.float32, o3d.core.float32, o3d.core.float32),
            attr_channels=((1), (1), (3)),  # type: ignore[arg-type]  # ints are accepted at run time
            voxel_size=voxel_size,
            block_resolution=16,
            block_count=block_count,
            device=o3d.core.Device("CPU:0"),
        )
        self.seconds = 0.0
        self.frames = 0

    def prepare(self, depth: np.ndarray, rgb: np.ndarray, intrinsics: CameraIntrinsics, world_T_camera: np.ndarray,
                depth_scale: float) -> tuple[Any, Any, Any, Any, float]:
        """Convert one frame to Open3D tensors (untimed): depth (uint16 units or float m), RGB uint8."""
        o3d = self._o3d
        if depth.dtype == np.uint16:
            # Open3D takes (uint16 depth, uint8 colour) or (float depth, float colour)
            d = o3d.t.geometry.Image(o3d.core.Tensor.from_numpy(np.ascontiguousarray(depth)))
            c = o3d.t.geometry.Image(o3d.core.Tensor.from_numpy(np.ascontiguousarray(rgb, dtype=np.uint8)))
            scale = 1.0 / depth_scale
        else:
            d = o3d.t.geometry.Image(o3d.core.Tensor.from_numpy(np.ascontiguousarray(depth, dtype=np.float32)))
            c = o3d.t.geometry.Image(o3d.core.Tensor.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32) / 255.0))
            scale = 1.0
        K = o3d.core.Tensor.from_numpy(intrinsics.as_matrix())
        ext = o3d.core.Tensor.from_numpy(np.ascontiguousarray(np.linalg.inv(world_T_camera)))
        return d, c, K, ext, scale

    def integrate_prepared(self, prepared: tuple[Any, Any, Any, Any, float]) -> None:
        d, c, K, ext, scale = prepared
        t = time.perf_counter()
        blocks = self.vbg.compute_unique_block_coordinates(d, K, ext, scale, self.depth_max)
        self.vbg.integrate(blocks, d, c, K, K, ext, scale, self.depth_max)
        self.seconds += time.perf_counter() - t
        self.frames += 1

    def integrate(self, depth: np.ndarray, rgb: np.ndarray, intrinsics: CameraIntrinsics,
                  world_T_camera: np.ndarray, depth_scale: float = 0.001) -> None:
        self.integrate_prepared(self.prepare(depth, rgb, intrinsics, world_T_camera, depth_scale))

    @property
    def rate_hz(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def surface(self, weight_threshold: float = 3.0) -> np.ndarray:
        """(M, 3) float32 TSDF zero-crossing points with weight >= ``weight_threshold``."""
        pcd = self.vbg.extract_point_cloud(weight_threshold)
        return np.asarray(pcd.point.positions.numpy(), dtype=np.float32).reshape(-1, 3)


def nearest_distances(query: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(Q,) distance from each query point to its nearest point of ``points`` (inf if there are none)."""
    import open3d as o3d

    if len(points) == 0:
        return np.full(len(query), np.inf)
    if len(query) == 0:
        return np.zeros(0)
    a = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(query, dtype=np.float64)))
    b = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    return np.asarray(a.compute_point_cloud_distance(b))


def surface_metrics(map_points: np.ndarray, reference: np.ndarray, tol: float = 0.05) -> SurfaceMetrics:
    """Coverage and precision of ``map_points`` against ``reference`` surface points at ``tol`` metres."""
    cov = float(np.mean(nearest_distances(reference, map_points) <= tol)) if len(reference) else 0.0
    prec = float(np.mean(nearest_distances(map_points, reference) <= tol)) if len(map_points) else 0.0
    return SurfaceMetrics(cov, prec, len(map_points), len(reference))


def tsdf_of(frames: Iterable[tuple[np.ndarray, np.ndarray, CameraIntrinsics, np.ndarray, float]],
            voxel_size: float = 0.05, depth_max: float = 6.0, reference: Optional[TsdfReference] = None
            ) -> TsdfReference:
    """Integrate (depth, rgb, intrinsics, world_T_camera, depth_scale) frames into a TSDF."""
    ref = reference or TsdfReference(voxel_size, depth_max)
    for depth, rgb, intr, pose, scale in frames:
        ref.integrate(depth, rgb, intr, pose, scale)
    return ref
