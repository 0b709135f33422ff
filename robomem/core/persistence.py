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

Writes are atomic: everything goes to a temporary sibling directory which replaces the target only once
complete (the previous save is kept as ``<name>.previous`` until the swap is done). Loading checks the
manifest and every checksum *before* building anything, so a truncated, edited or foreign directory gives
a :class:`~robomem.errors.PersistenceError` and never a half-loaded memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from robomem.config import MemoryConfig, from_dict, to_plain
from robomem.core.types import Box3D, Region
from robomem.encoders.base import Encoder
from robomem.errors import ConfigError, IndexBackendError, PersistenceError

if TYPE_CHECKING:
    from robomem.core.memory import SpatioSemanticMemory

log = logging.getLogger(__name__)

FORMAT_NAME = "robomem-memory"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, separators=(",", ":")))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_memory(memory: SpatioSemanticMemory, directory: Path) -> Path:
    """Write ``memory`` to ``directory`` atomically; returns the directory. Caller holds the memory lock."""
    directory = Path(directory).absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
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
        files = {}
        for p in sorted(tmp.iterdir()):
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
            files[p.name] = {"sha256": _sha256(p), "bytes": p.stat().st_size}
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "saved_at_unix": time.time(),
            "encoder": {"name": memory.encoder.name, "dim": memory.encoder.dim},
            "config": to_plain(memory.config),
            "files": files,
        }
        _write_json(tmp / MANIFEST, manifest)
        with open(tmp / MANIFEST, "rb+") as f:
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        previous = directory.with_name(directory.name + ".previous")
        if directory.exists():
            if previous.exists():
                shutil.rmtree(previous)
            os.replace(directory, previous)
        os.replace(tmp, directory)
        _fsync_dir(directory.parent)
        if previous.exists():
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved memory to %s (%d files)", directory, len(files))
    return directory


def _read_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        previous = directory.with_name(directory.name + ".previous")
        hint = f"; an earlier save survives at {previous}" if previous.is_dir() else ""
        raise PersistenceError(f"{directory} is not a memory directory (it does not exist){hint}")
    path = directory / MANIFEST
    if not path.is_file():
        raise PersistenceError(f"{directory} has no {MANIFEST}: not a robomem memory (or an interrupted copy)")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PersistenceError(f"{path} is not valid JSON ({exc}); the save is corrupted") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise PersistenceError(f"{path} is not a robomem memory manifest (format {manifest.get('format')!r})"
                               if isinstance(manifest, dict) else f"{path} is not a robomem memory manifest")
    version = manifest.get("version")
    if version != FORMAT_VERSION:
        raise PersistenceError(
            f"{directory} was saved in format version {version}; this robomem reads version {FORMAT_VERSION}. "
            "Use the robomem release that wrote it, or rebuild the memory (e.g. robomem ingest-bag)."
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise PersistenceError(f"{path} lists no files")
    for name, info in files.items():
        f = directory / name
        if not f.is_file():
            raise PersistenceError(f"{directory} is incomplete: {name} is missing")
        size = f.stat().st_size
        if size != info.get("bytes"):
            raise PersistenceError(
                f"{f} is {size} bytes but the manifest says {info.get('bytes')}: truncated or edited"
            )
        if _sha256(f) != info.get("sha256"):
            raise PersistenceError(f"{f} does not match its checksum in the manifest: corrupted or edited")
    return manifest


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


def read_saved_config(directory: Path) -> MemoryConfig:
    """The config a memory directory was saved with (checksums verified), e.g. to build its encoder."""
    manifest = _read_manifest(Path(directory))
    try:
        return from_dict(MemoryConfig, manifest["config"])
    except (ConfigError, KeyError) as exc:
        raise PersistenceError(f"{directory}: the saved config is invalid ({exc})") from None


def load_memory(directory: Path, encoder: Encoder, config: Optional[MemoryConfig] = None) -> SpatioSemanticMemory:
    """Build a memory from ``directory``. ``config`` overrides the saved one (geometry settings must match)."""
    from robomem.core.episodic import KeyframeStore
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.core.objects import ObjectStore
    from robomem.core.scene_graph import TemporalSceneGraph
    from robomem.core.trajectory import Trajectory
    from robomem.core.voxel_map import NegativeEvidence, VoxelMap
    from robomem.index.base import load_index

    directory = Path(directory)
    manifest = _read_manifest(directory)
    enc = manifest.get("encoder", {})
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
    except PersistenceError:
        raise
    except IndexBackendError as exc:
        raise PersistenceError(f"{directory}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
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
    memory._first_stamp = mem_meta.get("first_stamp_ns")
    memory._last_stamp = mem_meta.get("last_stamp_ns")
    memory.counters.update({str(k): int(v) for k, v in mem_meta.get("counters", {}).items()})
    return memory
