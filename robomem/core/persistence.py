"""Saving and loading a whole memory state (:class:`~robomem.core.state.MemoryState`) as a versioned directory.

Layout (``FORMAT_VERSION`` 2; version 1 had no ``actions.json``)::

    memory/
      manifest.json        format name, version, encoder name/dim, config, sha256 + size of every file
      memory.json          stamps, counters, regions
      voxels.npz           VoxelMap state (positions, colours, features, times, instance ids, uids)
      negative.npz         negative evidence (coarse "seen empty at t" grid, removal events)
      objects.json         instances and their placements;  object_features.npy  (N, D) float32
      graph.json           temporal scene graph
      keyframes.npz        keyframe store
      trajectory.json      the robot's room visits
      actions.json         the robot's own pick/place events, what they were resolved to, the gripper's content
      instance_index.bin / voxel_index.bin   vector indices

This module decides *what* the directory holds; :mod:`robomem.core.atomic_store` decides *how* it gets there
and back: a save never replaces anything that is not a robomem memory, writes a temporary sibling directory
that replaces the target only once complete (the previous save is kept as ``<name>.previous`` until the swap is
done), and every filesystem failure is a :class:`~robomem.errors.PersistenceError` naming the path. Loading
removes the leftovers of killed saves, checks the manifest (which must list every file of :data:`FORMAT`) and
every checksum *before* building anything, and falls back to ``<name>.previous`` when the target is missing or
damaged; a truncated, edited or foreign directory gives a PersistenceError and never a half-loaded memory.

Every field of the state is covered by an entry of ``_PARTS`` (which also names its files), by the manifest
(``config``, ``feature_dim``) or by :data:`~robomem.core.state.TRANSIENT_FIELDS`: ``save_state`` refuses to
run otherwise, so a field added to the state cannot be silently dropped on save/load.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from robomem.config import MemoryConfig, from_dict, to_plain
from robomem.core import atomic_store
from robomem.core.action_log import ActionLog
from robomem.core.atomic_store import StoreFormat
from robomem.core.episodic import KeyframeStore
from robomem.core.frame import MAX_STAMP_NS
from robomem.core.objects import ObjectStore
from robomem.core.scene_graph import TemporalSceneGraph
from robomem.core.state import COUNTER_NAMES, TRANSIENT_FIELDS, MemoryState, state_field_names
from robomem.core.trajectory import Trajectory
from robomem.core.types import Box3D, Region
from robomem.core.voxel_map import NegativeEvidence, VoxelMap
from robomem.encoders.base import Encoder
from robomem.errors import ConfigError, IndexBackendError, PersistenceError
from robomem.index.base import load_index

log = logging.getLogger(__name__)

FORMAT_NAME = "robomem-memory"
FORMAT_VERSION = 2
MANIFEST = atomic_store.MANIFEST


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, separators=(",", ":")))


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
    except RecursionError:
        raise PersistenceError(f"{directory / name} is nested too deeply to be a robomem file (corrupted)") from None


def read_saved_config(directory: Union[str, Path]) -> MemoryConfig:
    """The config a memory directory was saved with (checksums verified), e.g. to build its encoder."""
    with atomic_store.open_store(directory, FORMAT) as opened:
        manifest = opened.manifest
    try:
        return from_dict(MemoryConfig, manifest["config"])
    except (ConfigError, KeyError) as exc:
        raise PersistenceError(f"{directory}: the saved config is invalid ({exc})") from None


@dataclass(frozen=True)
class _Part:
    """How some fields of :class:`MemoryState` are written to / read from a memory directory.

    ``files``: the files ``write`` creates; ``read(directory, config, feature_dim)`` returns the values of
    exactly ``fields``.
    """

    fields: tuple[str, ...]
    files: tuple[str, ...]
    write: Callable[[MemoryState, Path], None]
    read: Callable[[Path, MemoryConfig, int], dict[str, Any]]


def _write_voxels(state: MemoryState, d: Path) -> None:
    _savez(d / "voxels.npz", state.voxels.state_dict())
    _savez(d / "negative.npz", state.voxels.negative.state_dict())


def _read_voxels(d: Path, cfg: MemoryConfig, dim: int) -> dict[str, Any]:
    voxels = VoxelMap.from_state_dict(cfg.voxel, _npz(d, "voxels.npz"), dim)
    voxels.negative = NegativeEvidence.from_state_dict(cfg.voxel, _npz(d, "negative.npz"))
    return {"voxels": voxels}


def _write_objects(state: MemoryState, d: Path) -> None:
    meta, feats = state.objects.state()
    _write_json(d / "objects.json", meta)
    np.save(d / "object_features.npy", feats)


def _read_objects(d: Path, cfg: MemoryConfig, dim: int) -> dict[str, Any]:
    features = np.load(io.BytesIO((d / "object_features.npy").read_bytes()), allow_pickle=False)
    return {"objects": ObjectStore.from_state(cfg.objects, _json(d, "objects.json"), features)}


def _write_memory_meta(state: MemoryState, d: Path) -> None:
    _write_json(
        d / "memory.json",
        {
            "first_stamp_ns": state.first_stamp_ns,
            "last_stamp_ns": state.last_stamp_ns,
            "counters": state.counters,
            "regions": [{"name": r.name, "min": list(r.box.min_xyz), "max": list(r.box.max_xyz)}
                        for r in state.regions],
        },
    )


def _read_memory_meta(d: Path, cfg: MemoryConfig, dim: int) -> dict[str, Any]:
    meta = _json(d, "memory.json")
    regions = tuple(_region(r) for r in meta["regions"])
    counters = dict.fromkeys(COUNTER_NAMES, 0)
    for k, v in meta.get("counters", {}).items():
        if not _is_int(v) or v < 0:
            raise PersistenceError(f"memory.json: counter {k!r} must be a non-negative integer, got {v!r}")
        counters[str(k)] = int(v)
    first, last = _stamp_or_none(meta.get("first_stamp_ns"), "first"), _stamp_or_none(meta.get("last_stamp_ns"), "last")
    if (first is None) != (last is None) or (first is not None and last is not None and first > last):
        raise PersistenceError(f"memory.json: first_stamp_ns {first} and last_stamp_ns {last} do not form a time range")
    return {"regions": regions, "first_stamp_ns": first, "last_stamp_ns": last, "counters": counters}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _stamp_or_none(v: Any, what: str) -> Optional[int]:
    """A saved stamp: None or an int in (0, 2^63) ns (what every accepted frame has)."""
    if v is None:
        return None
    if not _is_int(v) or not 0 < v <= MAX_STAMP_NS:
        raise PersistenceError(f"memory.json: {what}_stamp_ns must be an integer in (0, 2^63) ns, got {v!r}")
    return int(v)


def _region(r: Any) -> Region:
    """A saved region, checked like regions_file: a name and finite 3-vectors with min < max."""
    name, lo, hi = r["name"], tuple(float(v) for v in r["min"]), tuple(float(v) for v in r["max"])
    if not isinstance(name, str) or not name or len(lo) != 3 or len(hi) != 3 or not all(
        math.isfinite(a) and math.isfinite(b) and a < b for a, b in zip(lo, hi)
    ):
        raise PersistenceError(f"memory.json: region {r!r} needs a name and finite 3-vectors min < max")
    return Region(name, Box3D(lo, hi))  # type: ignore[arg-type]


def _index_part(name: str) -> _Part:
    def write(state: MemoryState, d: Path) -> None:
        getattr(state, name).save(d / f"{name}.bin")

    def read(d: Path, cfg: MemoryConfig, dim: int) -> dict[str, Any]:
        index = load_index(d / f"{name}.bin", cfg.index)
        if index.dim != dim:
            raise PersistenceError(f"{d}: index dimension does not match the encoder ({dim})")
        return {name: index}

    return _Part((name,), (f"{name}.bin",), write, read)


_PARTS: tuple[_Part, ...] = (
    _Part(("regions", "first_stamp_ns", "last_stamp_ns", "counters"), ("memory.json",),
          _write_memory_meta, _read_memory_meta),
    _Part(("voxels",), ("voxels.npz", "negative.npz"), _write_voxels, _read_voxels),
    _Part(("objects",), ("objects.json", "object_features.npy"), _write_objects, _read_objects),
    _Part(("graph",), ("graph.json",), lambda s, d: _write_json(d / "graph.json", s.graph.to_dict()),
          lambda d, c, n: {"graph": TemporalSceneGraph.from_dict(c.graph, _json(d, "graph.json"))}),
    _Part(("keyframes",), ("keyframes.npz",), lambda s, d: _savez(d / "keyframes.npz", s.keyframes.state_dict()),
          lambda d, c, n: {"keyframes": KeyframeStore.from_state_dict(c.episodic, _npz(d, "keyframes.npz"))}),
    _Part(("trajectory",), ("trajectory.json",),
          lambda s, d: _write_json(d / "trajectory.json", s.trajectory.state()),
          lambda d, c, n: {"trajectory": Trajectory.from_state(_json(d, "trajectory.json"))}),
    _Part(("actions",), ("actions.json",), lambda s, d: _write_json(d / "actions.json", s.actions.state()),
          lambda d, c, n: {"actions": ActionLog.from_state(_json(d, "actions.json"))}),
    _index_part("instance_index"),
    _index_part("voxel_index"),
)
_MANIFEST_FIELDS = ("config", "feature_dim")
"""State fields stored in the manifest (the config, and the encoder's dim)."""

FORMAT = StoreFormat(
    name=FORMAT_NAME,
    version=FORMAT_VERSION,
    required_files=tuple(f for p in _PARTS for f in p.files),
)
"""The memory directory format: the manifest must list (and checksum) every one of these files."""


def unsaved_state_fields() -> set[str]:
    """Fields of MemoryState that no part, the manifest or TRANSIENT_FIELDS covers (must be empty)."""
    covered = {f for p in _PARTS for f in p.fields} | set(_MANIFEST_FIELDS) | set(TRANSIENT_FIELDS)
    return set(state_field_names()) - covered


def save_state(state: MemoryState, encoder_name: str, directory: Union[str, Path]) -> Path:
    """Write ``state`` to ``directory`` atomically; returns the absolute directory.

    The caller holds the memory's lock and has synced the state's indices (``state.sync_indices()``).
    Raises PersistenceError (nothing on disk changed) for an empty path, a target that exists and is not a
    robomem memory, or any filesystem failure; see :mod:`robomem.core.atomic_store`.
    """
    missing = unsaved_state_fields()
    if missing:  # a programming error: a MemoryState field without a persistence part
        raise PersistenceError(f"robomem cannot save the state fields {sorted(missing)}: add them to _PARTS")

    def fill(tmp: Path) -> dict[str, Any]:
        for part in _PARTS:
            part.write(state, tmp)
        return {"encoder": {"name": encoder_name, "dim": state.feature_dim}, "config": to_plain(state.config)}

    return atomic_store.save(directory, FORMAT, fill)


def load_state(directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None) -> MemoryState:
    """Build a state from ``directory``. ``config`` overrides the saved one (geometry settings must match)."""
    return load_state_from(directory, encoder, config)[0]


def load_state_from(
    directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None
) -> tuple[MemoryState, atomic_store.Opened]:
    """:func:`load_state`, also saying which directory was read: ``opened.fallback_reason`` is set when the
    target was missing or damaged and its ``<name>.previous`` was loaded instead."""
    with atomic_store.open_store(directory, FORMAT) as opened:
        return _build(opened.directory, opened.manifest, encoder, config), opened


def _build(
    directory: Path, manifest: dict[str, Any], encoder: Encoder, config: Optional[MemoryConfig]
) -> MemoryState:
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
    values: dict[str, Any] = {"config": cfg, "feature_dim": int(encoder.dim)}
    try:
        for part in _PARTS:
            values.update(part.read(directory, cfg, encoder.dim))
        _check_consistent(values, encoder.dim)
    except PersistenceError as exc:
        if str(directory) in str(exc):
            raise
        raise PersistenceError(f"{directory}: {exc}") from None
    except IndexBackendError as exc:
        raise PersistenceError(f"{directory}: {exc}") from None
    except OSError as exc:
        raise PersistenceError(f"{directory}: cannot read it ({exc})") from exc
    except Exception as exc:  # content that passed its checksum but is not what robomem writes: never a raw error
        raise PersistenceError(f"{directory}: malformed content ({type(exc).__name__}: {exc})") from None
    return MemoryState(device=values["voxels"].device, **values)


def _check_consistent(values: dict[str, Any], dim: int) -> None:
    """Cross-file checks of a loaded state (each part checked its own file): files edited with their checksums
    rewritten must fail here, at load, and not later in a query or an ingest."""
    objects = values["objects"]
    with_feature = set()
    for inst in objects.all():
        iid = inst.instance_id
        if not 0 <= iid <= MAX_STAMP_NS:
            raise PersistenceError(f"objects: instance id {iid} is out of range")
        if inst.feature is not None:
            f = np.asarray(inst.feature)
            if f.shape != (dim,) or not np.all(np.isfinite(f)):
                raise PersistenceError(f"objects: instance {iid} has a feature of shape {f.shape} (the encoder's is "
                                       f"({dim},)) or non-finite values")
            with_feature.add(iid)
        for pl in inst.placements:
            stamps = [pl.first_seen_ns, pl.last_seen_ns] + ([] if pl.vanished_ns is None else [pl.vanished_ns])
            if not all(_is_int(t) and 0 <= t <= MAX_STAMP_NS for t in stamps) or pl.first_seen_ns > pl.last_seen_ns:
                raise PersistenceError(f"objects: instance {iid} has a placement with impossible stamps {stamps}")
            if not all(math.isfinite(v) for v in (*pl.position, *pl.box.min_xyz, *pl.box.max_xyz)):
                raise PersistenceError(f"objects: instance {iid} has a non-finite position or box")
    stray = sorted(set(values["instance_index"].ids().tolist()) - with_feature)
    if stray:
        raise PersistenceError(f"instance_index.bin holds ids {stray[:5]} that are no instance with a feature in "
                               "objects.json (the index belongs to another memory or was edited)")
    uids = values["voxel_index"].ids()
    if len(uids) and (values["voxels"].rows_for_uids(uids) < 0).any():
        raise PersistenceError("voxel_index.bin holds ids that are no voxel of voxels.npz (the index belongs to "
                               "another memory or was edited)")
