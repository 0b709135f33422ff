"""Saving and loading a whole memory as a versioned directory.

Layout (``FORMAT_VERSION`` 1)::

    memory/
      manifest.json        format name, version, encoder name/dim, config, sha256 + size of every file
      memory.json          stamps, counters, regions
      voxels.npz           VoxelMap state (positions, colours, features, times, instance ids, uids)
      negative.npz         negative evidence (coarse "seen empty at t" grid, removal events)
      objects.json         instances and their placements;  object_features.npy  (N, D) float32
      graph.json           temporal scene graph
      keyframes.npz        keyframe store
      trajectory.json      the robot's room visits
      instance_index.bin / voxel_index.bin   vector indices

This module decides *what* the directory holds; :mod:`robomem.core.atomic_store` decides *how* it gets there
and back: a save never replaces anything that is not a robomem memory, writes a temporary sibling directory
that replaces the target only once complete (the previous save is kept as ``<name>.previous`` until the swap is
done), and every filesystem failure is a :class:`~robomem.errors.PersistenceError` naming the path. Loading
removes the leftovers of killed saves, checks the manifest (which must list every file of :data:`FORMAT`) and
every checksum *before* building anything, and falls back to ``<name>.previous`` when the target is missing or
damaged; a truncated, edited or foreign directory gives a PersistenceError and never a half-loaded memory.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from robomem.config import MemoryConfig, from_dict, to_plain
from robomem.core import atomic_store
from robomem.core.atomic_store import StoreFormat
from robomem.core.types import Box3D, Region
from robomem.encoders.base import Encoder
from robomem.errors import ConfigError, IndexBackendError, PersistenceError

if TYPE_CHECKING:
    from robomem.core.memory import SpatioSemanticMemory

log = logging.getLogger(__name__)

FORMAT_NAME = "robomem-memory"
FORMAT_VERSION = 1
MANIFEST = atomic_store.MANIFEST


FORMAT = StoreFormat(
    name=FORMAT_NAME,
    version=FORMAT_VERSION,
    required_files=(
        "memory.json", "voxels.npz", "negative.npz", "objects.json", "object_features.npy", "graph.json",
        "keyframes.npz", "trajectory.json", "instance_index.bin", "voxel_index.bin",
    ),
)
"""The memory directory format: the manifest must list (and checksum) every one of these files."""


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, separators=(",", ":")))


def save_memory(memory: SpatioSemanticMemory, directory: Union[str, Path]) -> Path:
    """Write ``memory`` to ``directory`` atomically; returns the absolute directory. Caller holds the memory lock.

    Raises PersistenceError (nothing on disk changed) for an empty path, a target that exists and is not a
    robomem memory, or any filesystem failure; see :mod:`robomem.core.atomic_store`.
    """

    def fill(tmp: Path) -> dict[str, Any]:
        _savez(tmp / "voxels.npz", memory.voxels.state_dict())
        _savez(tmp / "negative.npz", memory.voxels.negative.state_dict())
        meta, feats = memory.objects.state()
        _write_json(tmp / "objects.json", meta)
        np.save(tmp / "object_features.npy", feats)
        _write_json(tmp / "graph.json", memory.graph.to_dict())
        _savez(tmp / "keyframes.npz", memory.keyframes.state_dict())
        _write_json(tmp / "trajectory.json", memory.trajectory.state())
        memory.instance_index.save(tmp / "instance_index.bin")
        memory.voxel_index.save(tmp / "voxel_index.bin")
        _write_json(
            tmp / "memory.json",
            {
                "first_stamp_ns": memory._first_stamp,
                "last_stamp_ns": memory._last_stamp,
                "counters": memory.counters,
                "regions": [{"name": r.name, "min": list(r.box.min_xyz), "max": list(r.box.max_xyz)}
                            for r in memory.regions()],
            },
        )
        return {"encoder": {"name": memory.encoder.name, "dim": memory.encoder.dim},
                "config": to_plain(memory.config)}

    return atomic_store.save(directory, FORMAT, fill)


def _npz(directory: Path, name: str) -> dict[str, np.ndarray]:
    try:
        with np.load(directory / name, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PersistenceError(f"{directory / name} cannot be read ({exc})") from None


def _json(directory: Path, name: str) -> Any:
    try:
        return json.loads((directory / name).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PersistenceError(f"{directory / name} cannot be read ({exc})") from None


def read_saved_config(directory: Union[str, Path]) -> MemoryConfig:
    """The config a memory directory was saved with (checksums verified), e.g. to build its encoder."""
    with atomic_store.open_store(directory, FORMAT) as opened:
        manifest = opened.manifest
    try:
        return from_dict(MemoryConfig, manifest["config"])
    except (ConfigError, KeyError) as exc:
        raise PersistenceError(f"{directory}: the saved config is invalid ({exc})") from None


def load_memory(
    directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None
) -> SpatioSemanticMemory:
    """Build a memory from ``directory``. ``config`` overrides the saved one (geometry settings must match)."""
    return load_memory_from(directory, encoder, config)[0]


def load_memory_from(
    directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None
) -> tuple[SpatioSemanticMemory, atomic_store.Opened]:
    """:func:`load_memory`, also saying which directory was read: ``opened.fallback_reason`` is set when the
    target was missing or damaged and its ``<name>.previous`` was loaded instead."""
    with atomic_store.open_store(directory, FORMAT) as opened:
        return _build(opened.directory, opened.manifest, encoder, config), opened


def _build(
    directory: Path, manifest: dict[str, Any], encoder: Encoder, config: Optional[MemoryConfig]
) -> SpatioSemanticMemory:
    from robomem.core.episodic import KeyframeStore
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.core.objects import ObjectStore
    from robomem.core.scene_graph import TemporalSceneGraph
    from robomem.core.trajectory import Trajectory
    from robomem.core.voxel_map import NegativeEvidence, VoxelMap
    from robomem.index.base import load_index

    enc = manifest.get("encoder")
    enc = enc if isinstance(enc, dict) else {}
    if enc.get("dim") != encoder.dim or enc.get("name") != encoder.name:
        raise PersistenceError(
            f"{directory} was built with encoder {enc.get('name')!r} (dim {enc.get('dim')}); it cannot be queried "
            f"with encoder {encoder.name!r} (dim {encoder.dim}): load it with the same encoder"
        )
    try:
        saved_config = from_dict(MemoryConfig, manifest["config"])
    except (ConfigError, KeyError) as exc:
        raise PersistenceError(f"{directory}: the saved config is invalid ({exc})") from None
    if config is not None and config.voxel.voxel_size != saved_config.voxel.voxel_size:
        raise PersistenceError(
            f"{directory} uses voxel_size {saved_config.voxel.voxel_size} m; a config with voxel_size "
            f"{config.voxel.voxel_size} m cannot load it (leave voxel_size as saved)"
        )
    cfg = config or saved_config
    try:
        mem_meta = _json(directory, "memory.json")
        regions = [Region(str(r["name"]), Box3D(tuple(r["min"]), tuple(r["max"])))  # type: ignore[arg-type]
                   for r in mem_meta["regions"]]
        memory = SpatioSemanticMemory(cfg, encoder, regions)
        voxels = VoxelMap.from_state_dict(cfg.voxel, _npz(directory, "voxels.npz"), encoder.dim)
        voxels.negative = NegativeEvidence.from_state_dict(cfg.voxel, _npz(directory, "negative.npz"))
        features = np.load(io.BytesIO((directory / "object_features.npy").read_bytes()), allow_pickle=False)
        objects = ObjectStore.from_state(cfg.objects, _json(directory, "objects.json"), features)
        graph = TemporalSceneGraph.from_dict(cfg.graph, _json(directory, "graph.json"))
        keyframes = KeyframeStore.from_state_dict(cfg.episodic, _npz(directory, "keyframes.npz"))
        trajectory = Trajectory.from_state(_json(directory, "trajectory.json"))
        instance_index = load_index(directory / "instance_index.bin", cfg.index)
        voxel_index = load_index(directory / "voxel_index.bin", cfg.index)
        first_stamp, last_stamp = mem_meta.get("first_stamp_ns"), mem_meta.get("last_stamp_ns")
        counters = {str(k): int(v) for k, v in mem_meta.get("counters", {}).items()}
    except PersistenceError:
        raise
    except IndexBackendError as exc:
        raise PersistenceError(f"{directory}: {exc}") from None
    except OSError as exc:
        raise PersistenceError(f"{directory}: cannot read it ({exc})") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PersistenceError(f"{directory}: malformed content ({type(exc).__name__}: {exc})") from None
    if instance_index.dim != encoder.dim or voxel_index.dim != encoder.dim:
        raise PersistenceError(f"{directory}: index dimension does not match the encoder ({encoder.dim})")
    memory.voxels = voxels
    memory.objects = objects
    memory.graph = graph
    memory.keyframes = keyframes
    memory.trajectory = trajectory
    memory.instance_index = instance_index
    memory.voxel_index = voxel_index
    memory._first_stamp = first_stamp
    memory._last_stamp = last_stamp
    memory.counters.update(counters)
    return memory
