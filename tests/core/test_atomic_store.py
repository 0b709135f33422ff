"""Saving never destroys data; a killed save heals itself on the next save/load (robomem.core.atomic_store).

Every test here was a defect of the first version: ``save("")`` / ``save(".")`` / a user directory / a regular
file were silently replaced, filesystem errors escaped as raw OSError, a killed save left full-size temporary
directories behind, and a kill in the swap window left only ``<name>.previous``, which load ignored.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from robomem.config import EncoderConfig, MemoryConfig
from robomem.core import atomic_store
from robomem.core.atomic_store import MARKER
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.persistence import FORMAT
from robomem.core.types import CameraIntrinsics, Frame
from robomem.encoders.base import create_encoder
from robomem.errors import PersistenceError

SEC = 1_000_000_000
T0 = 1_767_254_400 * SEC


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def tiny_frame(k: int) -> Frame:
    """A 32x24 view of a wall with one labelled segment; stamp T0 + k s (k identifies the save generation)."""
    h, w = 24, 32
    mask = np.full((h, w), -1, np.int32)
    mask[6:18, 8:24] = 1
    return Frame(rgb=np.full((h, w, 3), 128, np.uint8), depth=np.full((h, w), 1.5, np.float32),
                 intrinsics=CameraIntrinsics(30.0, 30.0, 15.5, 11.5, w, h), world_T_camera=np.eye(4),
                 stamp_ns=T0 + k * SEC, instance_mask=mask, instance_labels={1: "red mug"})


def memory_at(encoder, k: int) -> SpatioSemanticMemory:
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    mem.ingest(tiny_frame(k))
    return mem


def generation(mem: SpatioSemanticMemory) -> int:
    return (mem.time_range()[1] - T0) // SEC


def user_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------- safe targets


def test_empty_path_is_refused_and_nothing_is_written(encoder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mem = memory_at(encoder, 1)
    for bad in ("", "   "):
        with pytest.raises(PersistenceError, match="empty"):
            mem.save(bad)
        with pytest.raises(PersistenceError, match="empty"):
            SpatioSemanticMemory.load(bad, encoder)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["dot", "absolute"])
def test_a_users_directory_is_never_replaced(encoder, tmp_path, monkeypatch, how):
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "notes.txt").write_text("precious")
    (home / "docs" / "thesis.tex").write_text("more precious")
    before = user_files(home)
    monkeypatch.chdir(home)
    mem = memory_at(encoder, 1)
    with pytest.raises(PersistenceError, match=r"is not a robomem memory.*refusing to overwrite") as exc:
        mem.save("." if how == "dot" else str(home))
    assert str(home) in str(exc.value) and "'notes.txt'" in str(exc.value)
    assert user_files(home) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no temporary debris either


def test_a_regular_file_is_never_replaced(encoder, tmp_path):
    f = tmp_path / "memory"
    f.write_text("not a directory")
    with pytest.raises(PersistenceError, match="not a directory.*refusing to replace"):
        memory_at(encoder, 1).save(f)
    assert f.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory"]


def test_foreign_previous_slot_and_foreign_format_are_refused(encoder, tmp_path):
    mem = memory_at(encoder, 1)
    prev = tmp_path / "mem.previous"
    prev.mkdir()
    (prev / "photo.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(PersistenceError, match="previous-save slot"):
        mem.save(tmp_path / "mem")
    assert (prev / "photo.jpg").read_bytes() == b"\xff\xd8" and not (tmp_path / "mem").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"format": "someone-elses", "files": {}}))
    with pytest.raises(PersistenceError, match="not a robomem memory"):
        mem.save(other)
    old = tmp_path / "old"
    mem.save(old)
    m = json.loads((old / "manifest.json").read_text())
    m["version"] = 0
    (old / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(PersistenceError, match="format version 0"):
        mem.save(old)


def test_an_empty_directory_and_an_own_memory_are_replaced(encoder, tmp_path):
    target = tmp_path / "mem"
    target.mkdir()
    memory_at(encoder, 1).save(target)
    memory_at(encoder, 2).save(target)
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]


def test_a_memory_is_never_saved_inside_another_one(encoder, tmp_path):
    """A memory saved inside another was deleted with it the next time the outer one was saved."""
    outer = tmp_path / "mem"
    memory_at(encoder, 1).save(outer)
    for inner in (outer / "sub", outer / "a" / "b"):
        with pytest.raises(PersistenceError, match=r"inside the robomem memory .*mem.*choose a directory outside"):
            memory_at(encoder, 2).save(inner)
    memory_at(encoder, 3).save(outer)
    assert generation(SpatioSemanticMemory.load(outer, encoder)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]


@pytest.mark.parametrize("what", ["file", "directory", "symlink"])
def test_what_a_user_put_into_a_memory_is_never_deleted(encoder, tmp_path, what):
    """A save replaced (and deleted) a memory directory together with the user's files in it."""
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(target)
    extra = target / "notes"
    if what == "file":
        extra.write_text("my notes about this map")
    elif what == "directory":
        extra.mkdir()
        (extra / "photo.jpg").write_bytes(b"\xff\xd8")
    else:
        (tmp_path / "elsewhere").write_text("x")
        extra.symlink_to(tmp_path / "elsewhere")
    before = user_files(target)
    with pytest.raises(PersistenceError, match=r"robomem did not write: 'notes'.*refusing to overwrite"):
        memory_at(encoder, 2).save(target)
    assert user_files(target) == before and generation(SpatioSemanticMemory.load(target, encoder)) == 1
    # the same directory as a stale ``.previous`` next to a good save: loading leaves it in place
    target.rename(tmp_path / "mem.previous")
    memory_at(encoder, 3).save(tmp_path / "other")
    (tmp_path / "other").rename(target)
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 3
    assert user_files(tmp_path / "mem.previous") == before


@pytest.mark.parametrize("extra", [{}, {"photo.jpg": b"\xff\xd8"}])
def test_a_hand_written_manifest_does_not_make_a_directory_a_memory(encoder, tmp_path, extra):
    """A directory holding a manifest.json with the right format name (and the user's files) was replaced."""
    d = tmp_path / "album"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"format": FORMAT.name, "version": FORMAT.version}))
    for name, data in extra.items():
        (d / name).write_bytes(data)
    before = user_files(d)
    with pytest.raises(PersistenceError, match="not a robomem memory.*refusing to overwrite"):
        memory_at(encoder, 1).save(d)
    with pytest.raises(PersistenceError, match="lists no files"):
        SpatioSemanticMemory.load(d, encoder)
    assert user_files(d) == before and sorted(p.name for p in tmp_path.iterdir()) == ["album"]


def test_paths_no_file_can_have_are_persistence_errors(encoder, tmp_path):
    mem = memory_at(encoder, 1)
    for bad, message in [(str(tmp_path / "a\0b"), "NUL character"),
                         (str(tmp_path / ("x" * 300)), r"File name too long \(ENAMETOOLONG\)"),
                         (str(tmp_path / "loop"), "Symlink loop")]:
        (tmp_path / "loop").unlink(missing_ok=True)
        (tmp_path / "loop").symlink_to(tmp_path / "loop")
        with pytest.raises(PersistenceError, match=message):
            mem.save(bad)
        with pytest.raises(PersistenceError, match=message):
            SpatioSemanticMemory.load(bad, encoder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_a_saved_memory_has_the_usual_permissions(encoder, tmp_path):
    """mkdtemp made every saved memory 0700: another user (a planner, a backup job) could not read it."""
    umask = os.umask(0o022)
    try:
        target = memory_at(encoder, 1).save(tmp_path / "mem")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in target.iterdir())


# --------------------------------------------------------------------------------------------- filesystem errors


def test_parent_that_is_a_file_gives_persistence_error_with_path_and_cause(encoder, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(PersistenceError, match=r"blocker.*(Not a directory|File exists)"):
        memory_at(encoder, 1).save(blocker / "mem")
    assert blocker.read_text() == "x"


def test_disk_full_mid_save_keeps_the_previous_save_and_leaves_no_debris(encoder, tmp_path, monkeypatch):
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(target)
    manifest = (target / "manifest.json").read_bytes()

    def full(step: str) -> None:
        if step == "file_written":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_store, "FAULT_HOOK", full)
    with pytest.raises(PersistenceError, match=r"cannot save to .*mem.*No space left on device \(ENOSPC\)"):
        memory_at(encoder, 2).save(target)
    assert (target / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 1


def test_index_write_failure_is_a_persistence_error(encoder, tmp_path, monkeypatch):
    mem = memory_at(encoder, 1)

    def boom(path):
        raise RuntimeError("faiss: write error")

    monkeypatch.setattr(mem.voxel_index, "save", boom)
    with pytest.raises(PersistenceError, match="faiss: write error"):
        mem.save(tmp_path / "mem")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0,
                    reason="root ignores directory permissions (the ENOSPC and not-a-directory tests cover it)")
def test_read_only_directory_gives_persistence_error(encoder, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(PersistenceError, match="Permission denied"):
            memory_at(encoder, 1).save(ro / "mem")
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------------------------- self-healing


def _fake_leftover(parent: Path, name: str, marker: bool = True) -> Path:
    d = parent / name
    d.mkdir()
    (d / "voxels.npz").write_bytes(b"\0" * 100_000)
    if marker:
        (d / MARKER).touch()
    return d


def test_leftovers_of_killed_saves_are_removed_by_the_next_save_and_load(encoder, tmp_path):
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(target)
    _fake_leftover(tmp_path, ".mem.tmp-abc123")
    (tmp_path / ".mem.tmp-empty").mkdir()
    memory_at(encoder, 2).save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]
    _fake_leftover(tmp_path, ".mem.trash-xyz")
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]


def test_a_lookalike_directory_that_is_not_ours_is_left_alone(encoder, tmp_path, caplog):
    target = tmp_path / "mem"
    stranger = _fake_leftover(tmp_path, ".mem.tmp-users-own", marker=False)
    with caplog.at_level(logging.WARNING, logger="robomem.core.atomic_store"):
        memory_at(encoder, 1).save(target)
    assert stranger.is_dir() and "leaving" in caplog.text


def test_load_falls_back_to_previous_when_the_target_is_missing_and_says_so(encoder, tmp_path, caplog):
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(target)
    target.rename(tmp_path / "mem.previous")  # a save killed between its two renames
    with caplog.at_level(logging.WARNING, logger="robomem.core.atomic_store"):
        mem, opened = SpatioSemanticMemory.load_from(target, encoder)
    assert generation(mem) == 1 and opened.directory == tmp_path / "mem.previous"
    assert "does not exist" in opened.fallback_reason and "loading the previous save" in caplog.text
    memory_at(encoder, 3).save(target)  # the next save puts a target back and drops the previous one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 3


def test_load_falls_back_to_previous_when_the_target_is_damaged(encoder, tmp_path):
    target = tmp_path / "mem"
    memory_at(encoder, 2).save(target)
    # both exist only when a save was killed after its swap: put an older save next to it, damage the target
    memory_at(encoder, 1).save(tmp_path / "keep")
    (tmp_path / "keep").rename(tmp_path / "mem.previous")
    data = (target / "objects.json").read_bytes()
    (target / "objects.json").write_bytes(data[: len(data) // 2])
    mem, opened = SpatioSemanticMemory.load_from(target, encoder)
    assert generation(mem) == 1 and "truncated" in opened.fallback_reason
    # a save now keeps the good previous save and discards the damaged target
    memory_at(encoder, 4).save(target)
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]


def test_a_stale_previous_next_to_a_good_target_is_removed_on_load(encoder, tmp_path):
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(tmp_path / "mem")
    memory_at(encoder, 0).save(tmp_path / "x")
    (tmp_path / "x").rename(tmp_path / "mem.previous")  # a save killed after its swap, before the cleanup
    assert generation(SpatioSemanticMemory.load(target, encoder)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem"]


# --------------------------------------------------------------------------------------------- manifest


def _rewrite_manifest(target: Path, edit) -> None:
    m = json.loads((target / "manifest.json").read_text())
    edit(m)
    (target / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(files={}), "lists no files"),
        (lambda m: m["files"].pop("graph.json"), r"does not list \['graph.json'\]"),
        (lambda m: m["files"].update({"../../etc/passwd": {"bytes": 1, "sha256": "x"}}), "invalid file name"),
        (lambda m: m["files"].update({"graph.json": 5}), "integer 'bytes'"),
        (lambda m: m.update(encoder="oops"), "built with encoder None"),
    ],
)
def test_an_incomplete_or_edited_manifest_is_refused(encoder, tmp_path, edit, message):
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(target)
    _rewrite_manifest(target, edit)
    with pytest.raises(PersistenceError, match=message):
        SpatioSemanticMemory.load(target, encoder)


def test_every_required_file_is_in_the_manifest(encoder, tmp_path):
    target = tmp_path / "mem"
    memory_at(encoder, 1).save(target)
    listed = set(json.loads((target / "manifest.json").read_text())["files"])
    assert set(FORMAT.required_files) <= listed
    assert listed == {p.name for p in target.iterdir()} - {"manifest.json"}
