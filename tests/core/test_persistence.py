"""Save -> load -> identical answers; corrupted, truncated or foreign directories are refused cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from robomem.config import EncoderConfig, MemoryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.persistence import FORMAT_VERSION
from robomem.encoders.base import create_encoder
from robomem.errors import PersistenceError
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


@pytest.fixture()
def built(encoder):
    world, regions = kitchen_world()
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 5 * SEC))
    world.put_on(10, 2, dxy=(0.3, 0.2))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 60 * SEC))
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 90 * SEC))
    return mem


def answers(mem: SpatioSemanticMemory) -> list:
    mug = mem.locate("red mug", include_vanished=True).matches[0].instance_id
    return [
        mem.locate("red mug"),
        mem.locate("table", k=3),
        mem.history(instance_id=mug),
        mem.where_at(T0 + SEC, text="red mug"),
        mem.changes(T0, T0 + 100 * SEC),
        mem.count("table"),
        mem.relations(mug),
        mem.state_at(T0 + 30 * SEC),
        [(k.keyframe_id, k.stamp_ns, k.visible_instance_ids) for k in mem.keyframes_for("red mug").keyframes],
        mem.room_visits(),
        mem.stats(),
        mem.time_range(),
    ]


def test_roundtrip_identical_answers(built, encoder, tmp_path):
    target = tmp_path / "mem"
    built.save(target)
    loaded = SpatioSemanticMemory.load(target, encoder)
    assert answers(loaded) == answers(built)
    pts_a, col_a = built.voxel_cloud()
    pts_b, col_b = loaded.voxel_cloud()
    np.testing.assert_array_equal(pts_a, pts_b)
    np.testing.assert_array_equal(col_a, col_b)
    # a loaded memory keeps ingesting where it left off
    world, _ = kitchen_world()
    loaded.ingest(world.frame(*VIEW_TABLE1, T0 + 100 * SEC))


def test_saving_twice_replaces_atomically(built, tmp_path):
    target = tmp_path / "mem"
    built.save(target)
    built.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]


def test_failed_save_leaves_previous_save_intact(built, encoder, tmp_path, monkeypatch):
    target = tmp_path / "mem"
    built.save(target)
    manifest_before = (target / "manifest.json").read_bytes()

    def boom(path):
        raise OSError("disk full")

    monkeypatch.setattr(built.voxel_index, "save", boom)
    with pytest.raises(PersistenceError, match=r"cannot save to .*mem.*disk full"):
        built.save(target)
    assert (target / "manifest.json").read_bytes() == manifest_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]
    SpatioSemanticMemory.load(target, encoder)


@pytest.mark.parametrize("victim", ["voxels.npz", "objects.json", "graph.json", "keyframes.npz", "voxel_index.bin"])
def test_truncated_file_is_refused(built, encoder, tmp_path, victim):
    target = tmp_path / "mem"
    built.save(target)
    data = (target / victim).read_bytes()
    (target / victim).write_bytes(data[: len(data) // 2])
    with pytest.raises(PersistenceError, match="truncated"):
        SpatioSemanticMemory.load(target, encoder)


def test_edited_file_is_refused(built, encoder, tmp_path):
    target = tmp_path / "mem"
    built.save(target)
    data = bytearray((target / "objects.json").read_bytes())
    data[10] ^= 0x01
    (target / "objects.json").write_bytes(bytes(data))
    with pytest.raises(PersistenceError, match="checksum"):
        SpatioSemanticMemory.load(target, encoder)


def test_foreign_missing_and_wrong_version(built, encoder, tmp_path):
    with pytest.raises(PersistenceError, match="does not exist"):
        SpatioSemanticMemory.load(tmp_path / "nothing", encoder)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(PersistenceError, match="not a robomem memory"):
        SpatioSemanticMemory.load(foreign, encoder)
    (foreign / "manifest.json").write_text("{not json")
    with pytest.raises(PersistenceError, match="not valid JSON"):
        SpatioSemanticMemory.load(foreign, encoder)
    target = tmp_path / "mem"
    built.save(target)
    m = json.loads((target / "manifest.json").read_text())
    m["version"] = FORMAT_VERSION + 1
    (target / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PersistenceError, match="format version"):
        SpatioSemanticMemory.load(target, encoder)
    (target / "graph.json").unlink()
    m["version"] = FORMAT_VERSION
    (target / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PersistenceError, match="graph.json is missing"):
        SpatioSemanticMemory.load(target, encoder)


def test_wrong_encoder_is_refused(built, tmp_path):
    target = tmp_path / "mem"
    built.save(target)

    class Other:
        name = "other"
        dim = 7
        supports_images = False

    with pytest.raises(PersistenceError, match="same encoder"):
        SpatioSemanticMemory.load(target, Other())  # type: ignore[arg-type]
