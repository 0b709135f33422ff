"""A memory directory edited by someone who also rewrote the checksums in its manifest: every edit is refused at
load with a PersistenceError that names the directory, never accepted to fail later in a query or an ingest, and
never a raw exception.

Defects of the first version, each reproduced here: stamps of 2^70 or -5 in ``memory.json`` loaded (and then every
frame was rejected), regions with two coordinates or NaN loaded, an object feature of the wrong size loaded (the next
ingest raised a raw ValueError), another memory's FAISS index loaded silently (queries answered nothing), and a
deeply nested JSON file raised a raw RecursionError.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from robomem.config import EncoderConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.encoders.base import create_encoder
from robomem.errors import PersistenceError
from tests.core.test_atomic_store import generation, memory_at, tiny_frame


@pytest.fixture(scope="module")
def encoder() -> Any:
    return create_encoder(EncoderConfig(backend="hash"))


@pytest.fixture(scope="module")
def saved(encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mem = memory_at(encoder, 1)
    mem.ingest(tiny_frame(2))
    return mem.save(tmp_path_factory.mktemp("saved") / "mem")


def _edit_json(name: str, fn: Callable[[Any], Any]) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        data = json.loads((d / name).read_text())
        (d / name).write_text(json.dumps(fn(data)))

    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda m: {**m, key: value}


def _object_feature(d: Path) -> None:
    np.save(d / "object_features.npy", np.ones((1, 3), np.float32))


def _nan_position(m: dict[str, Any]) -> dict[str, Any]:
    m["instances"][0]["placements"][0]["position"] = [float("nan"), 0.0, 0.0]
    return m


EDITS: dict[str, tuple[Callable[[Path], None], str]] = {
    "stamp beyond int64": (_edit_json("memory.json", _set("last_stamp_ns", 2**70)), r"last_stamp_ns .* 2\^63"),
    "negative stamp": (_edit_json("memory.json", _set("last_stamp_ns", -5)), "last_stamp_ns"),
    "stamps reversed": (_edit_json("memory.json", _set("first_stamp_ns", 2**62)), "do not form a time range"),
    "2-d region": (_edit_json("memory.json", _set("regions", [{"name": "k", "min": [0, 0], "max": [1, 1, 1]}])),
                   "region"),
    "NaN region": (_edit_json("memory.json", _set("regions", [{"name": "k", "min": [float("nan")] * 3,
                                                               "max": [1, 1, 1]}])), "region"),
    "negative counter": (_edit_json("memory.json", _set("counters", {"frames_ingested": -1})), "counter"),
    "feature of another size": (_object_feature, r"feature of shape \(3,\)"),
    "NaN position": (_edit_json("objects.json", _nan_position), "non-finite position"),
    "another index": (lambda d: (d / "instance_index.bin").write_bytes((d / "voxel_index.bin").read_bytes()),
                      "instance_index.bin holds ids"),
    "deeply nested JSON": (lambda d: (d / "graph.json").write_text("[" * 100_000 + "]" * 100_000),
                           "nested too deeply"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_tampered_memory_with_rewritten_checksums_is_refused_at_load(
    saved: Path, encoder: Any, tmp_path: Path, name: str
) -> None:
    edit, message = EDITS[name]
    d = tmp_path / "mem"
    SpatioSemanticMemory.load(saved, encoder).save(d)
    edit(d)
    manifest = json.loads((d / "manifest.json").read_text())
    for f in manifest["files"]:
        data = (d / f).read_bytes()
        manifest["files"][f] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PersistenceError, match=message) as exc:
        SpatioSemanticMemory.load(d, encoder)
    assert str(d) in str(exc.value)


def test_the_untampered_memory_loads_and_ingests(saved: Path, encoder: Any) -> None:
    mem = SpatioSemanticMemory.load(saved, encoder)
    assert generation(mem) == 2
    mem.ingest(tiny_frame(3))
    assert mem.locate("red mug").matches
