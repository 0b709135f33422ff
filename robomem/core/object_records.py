"""The :class:`~robomem.core.objects.ObjectStore` as JSON metadata plus a feature matrix (save/load).

Pure conversions: :func:`objects_to_json` writes what :func:`objects_from_json` reads back; the store only
wires the parsed pieces into its indexes (:meth:`ObjectStore.state` / :meth:`ObjectStore.from_state`).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from robomem.core.hypotheses import HypothesisBook
from robomem.core.instances import ObjectInstance, placement_from_json, placement_to_json
from robomem.core.types import NodeKind
from robomem.errors import PersistenceError


def objects_to_json(instances: Iterable[ObjectInstance], next_id: int, merged_into: dict[int, int],
                    hypotheses: HypothesisBook) -> tuple[dict[str, Any], np.ndarray]:
    """(JSON-able metadata, (N, D) float32 feature matrix with rows in metadata order; D=0 if none)."""
    insts = list(instances)
    meta: list[dict[str, Any]] = []
    feats: list[np.ndarray] = []
    dim = next((i.feature.shape[0] for i in insts if i.feature is not None), 0)
    for inst in insts:
        meta.append(
            {
                "id": inst.instance_id,
                "kind": inst.kind.value,
                "label": inst.label,
                "present": inst.present,
                "n_observations": inst.n_observations,
                "peak_voxels": inst.peak_voxels,
                "label_votes": inst.label_votes,
                "source_key": inst.source_key,
                "provisional": inst.provisional,
                "miss_streak": inst.miss_streak,
                "miss_since_ns": inst.miss_since_ns,
                "has_feature": inst.feature is not None,
                "placements": [placement_to_json(p) for p in inst.placements],
            }
        )
        feats.append(inst.feature if inst.feature is not None else np.zeros(dim, np.float32))
    matrix = np.stack(feats).astype(np.float32) if feats and dim else np.zeros((len(meta), dim), np.float32)
    merged = [[int(a), int(b)] for a, b in sorted(merged_into.items())]
    return {"next_id": next_id, "instances": meta, "merged_into": merged, "hypotheses": hypotheses.to_json()}, matrix


def objects_from_json(
    meta: dict[str, Any], features: np.ndarray
) -> tuple[int, list[ObjectInstance], dict[int, int], HypothesisBook]:
    """Parse :func:`objects_to_json` output: (next id, instances, merged-into map, hypotheses).

    Raises PersistenceError on any malformed record."""
    try:
        next_id = int(meta["next_id"])
        rows = meta["instances"]
        if features.ndim != 2 or features.shape[0] != len(rows):
            raise PersistenceError(
                f"objects: {len(rows)} instances but a feature matrix of shape {features.shape}"
            )
        instances: list[ObjectInstance] = []
        for row, entry in enumerate(rows):
            inst = ObjectInstance(
                instance_id=int(entry["id"]),
                kind=NodeKind(entry["kind"]),
                label=str(entry["label"]),
                feature=features[row].astype(np.float32) if entry["has_feature"] else None,
                placements=[placement_from_json(p) for p in entry["placements"]],
                present=bool(entry["present"]),
                n_observations=int(entry["n_observations"]),
                peak_voxels=int(entry["peak_voxels"]),
                label_votes={str(k): int(v) for k, v in entry["label_votes"].items()},
                source_key=None if entry["source_key"] is None else int(entry["source_key"]),
                provisional=bool(entry["provisional"]),
                miss_streak=int(entry.get("miss_streak", 0)),
                miss_since_ns=None if entry.get("miss_since_ns") is None else int(entry["miss_since_ns"]),
            )
            if inst.miss_streak < 0:
                raise PersistenceError(f"objects: instance {inst.instance_id} has a negative miss streak")
            if not inst.placements:
                raise PersistenceError(f"objects: instance {inst.instance_id} has no placement")
            instances.append(inst)
        merged_into = {int(a): int(b) for a, b in meta["merged_into"]}
        hypotheses = HypothesisBook.from_json(meta.get("hypotheses"), {i.instance_id for i in instances})
    except PersistenceError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise PersistenceError(f"objects: malformed instance record ({type(exc).__name__}: {exc})") from None
    return next_id, instances, merged_into, hypotheses
