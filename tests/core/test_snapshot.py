"""Queries that never wait for a write (robomem.core.snapshot): while an ingest or a save holds the memory's lock,
a query answers from the newest complete snapshot; otherwise from the live state. No timing: a pipeline step
(and the store's fault hook) parks the writer mid-write on an Event, so the reader provably runs while the
write holds the lock; the test fails by deadlock (joined with a generous bound) if the reader waited for it.

The probe of the first version: services answered under the same lock that ingest holds, so one 4000x3000
frame held every query for 6.3 s and a 640x480 flood pushed Locate's p99 over 1 s.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest

from robomem.config import EncoderConfig, MemoryConfig
from robomem.core import atomic_store
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.pipeline import IngestPipeline
from robomem.core.query_types import QueryStatus
from robomem.core.snapshot import SnapshotMemory, copy_read_side
from robomem.encoders.base import create_encoder
from tests.core.test_atomic_store import SEC, T0, tiny_frame

BOUND_S = 60.0  # only a deadlock guard: a correct reader returns at once


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


class Gate:
    """An ingest step that parks the writer (holding the memory's lock) until released."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, state: Any, ctx: Any) -> None:
        if self.armed:
            self.reached.set()
            assert self.release.wait(BOUND_S)


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


def last_seen_k(result: Any) -> int:
    return (result.matches[0].last_seen_ns - T0) // SEC


def test_a_query_during_an_ingest_answers_from_the_last_complete_state(encoder) -> None:
    gate = Gate()
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, pipeline=IngestPipeline().with_step("gate", gate, "associate"))
    reads = SnapshotMemory(mem, period_s=0.0)
    assert reads.locate("red mug").status is QueryStatus.NOT_FOUND  # a reader is active from now on
    reads.ingest(tiny_frame(1))
    assert reads.counters["snapshot_copies"] == 1
    gate.armed = True
    writer, _ = in_thread(lambda: reads.ingest(tiny_frame(2)))
    assert gate.reached.wait(BOUND_S)  # frame 2 is half ingested: associated, not integrated, lock held
    reader, got = in_thread(lambda: reads.locate("red mug"))
    reader.join(BOUND_S)
    assert not reader.is_alive(), "the query waited for the ingest"
    assert got[0].status is QueryStatus.OK and last_seen_k(got[0]) == 1  # consistent: all of frame 1, none of 2
    assert reads.counters["reads_snapshot"] == 1
    gate.release.set()
    writer.join(BOUND_S)
    assert last_seen_k(reads.locate("red mug")) == 2  # no write in progress: the live state
    assert reads.stats()["frames_ingested"] == 2 and reads.time_range()[1] == T0 + 2 * SEC


def test_a_query_during_a_save_does_not_wait_for_it(encoder, tmp_path, monkeypatch) -> None:
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    reads = SnapshotMemory(mem)
    reads.locate("red mug")
    reads.ingest(tiny_frame(1))
    gate = Gate()
    gate.armed = True
    monkeypatch.setattr(atomic_store, "FAULT_HOOK", lambda step: gate(None, None) if step == "file_written" else None)
    saver, saved = in_thread(lambda: reads.save(tmp_path / "m"))
    assert gate.reached.wait(BOUND_S)
    reader, got = in_thread(lambda: reads.instances())
    reader.join(BOUND_S)
    assert not reader.is_alive(), "the query waited for the save"
    assert [i.label for i in got[0]] == ["red mug"]
    gate.release.set()
    saver.join(BOUND_S)
    assert saved and SpatioSemanticMemory.load(saved[0], encoder).stats()["frames_ingested"] == 1


def test_a_reader_holding_the_lock_delays_no_query_when_the_snapshot_is_current(encoder) -> None:
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    reads = SnapshotMemory(mem, period_s=0.0)
    reads.locate("red mug")
    reads.ingest(tiny_frame(1))  # copied right after: the snapshot is of the current version
    with mem.lock:  # e.g. the voxel cloud for RViz being read
        reader, got = in_thread(lambda: reads.locate("red mug"))
        reader.join(BOUND_S)
        assert not reader.is_alive(), "the query waited for a reader although nothing changed"
        assert got[0].status is QueryStatus.OK and last_seen_k(got[0]) == 1
    mem.ingest(tiny_frame(2))  # written behind the snapshot's back: it is stale now
    with mem.lock:
        reader, got = in_thread(lambda: reads.locate("red mug"))
        reader.join(0.2)
        assert reader.is_alive(), "a stale snapshot answered while no write was in progress"
    reader.join(BOUND_S)
    assert last_seen_k(got[0]) == 2  # the live state, once the lock was free


def test_no_copies_without_readers_and_none_while_nothing_changed(encoder, tmp_path) -> None:
    reads = SnapshotMemory(SpatioSemanticMemory(MemoryConfig(), encoder), period_s=0.0)
    for k in range(1, 4):
        reads.ingest(tiny_frame(k))
    assert reads.counters["snapshot_copies"] == 0  # offline ingest never pays for snapshots
    reads.locate("red mug")
    reads.ingest(tiny_frame(4))
    assert reads.counters["snapshot_copies"] == 1
    reads.save(tmp_path / "m")  # nothing changed since: the snapshot is current
    assert reads.counters["snapshot_copies"] == 1


def test_reset_and_load_drop_the_old_snapshot(encoder) -> None:
    gate = Gate()
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, pipeline=IngestPipeline().with_step("gate", gate, "associate"))
    reads = SnapshotMemory(mem, period_s=0.0)
    reads.locate("red mug")
    reads.ingest(tiny_frame(1))
    mem.reset()
    reads.invalidate()
    gate.armed = True
    writer, _ = in_thread(lambda: reads.ingest(tiny_frame(2)))
    assert gate.reached.wait(BOUND_S)
    reader, got = in_thread(lambda: reads.instances())
    gate.release.set()  # without a snapshot the reader waits for the lock: never the forgotten memory
    reader.join(BOUND_S)
    writer.join(BOUND_S)
    assert [i.last_seen_ns for i in got[0]] == [T0 + 2 * SEC]


def test_the_copy_answers_like_the_live_state_and_is_independent(encoder) -> None:
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    mem.ingest(tiny_frame(1))
    with mem.lock:
        state = copy_read_side(mem.state)
    from robomem.core.query import QueryEngine

    q = QueryEngine(state, mem.text_feature)
    assert q.locate("red mug", None, 3, False) == mem.locate("red mug", k=3)
    assert q.instances(True) == mem.instances()
    assert len(state.voxels) == 0 and len(state.voxel_index) == 0 and len(mem.voxels) > 0
    mem.ingest(tiny_frame(2))
    assert last_seen_k(q.locate("red mug", None, 1, False)) == 1 and last_seen_k(mem.locate("red mug")) == 2
