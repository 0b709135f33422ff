"""The memory's state object, the ingest pipeline and the module structure around them."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from robomem.config import EncoderConfig, MemoryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.persistence import unsaved_state_fields
from robomem.core.pipeline import DEFAULT_STEPS, FrameContext, IngestPipeline
from robomem.core.query_types import QueryStatus
from robomem.core.state import MemoryState
from robomem.encoders.base import create_encoder
from robomem.errors import MemoryStateError
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def test_every_state_field_is_saved_or_declared_transient():
    assert unsaved_state_fields() == set()


def test_a_new_state_field_without_a_persistence_part_is_refused(encoder, tmp_path, monkeypatch):
    from robomem.core import persistence

    fields = persistence.state_field_names() + ("brand_new_part",)
    monkeypatch.setattr(persistence, "state_field_names", lambda: fields)
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    with pytest.raises(Exception, match="brand_new_part"):
        mem.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_core_modules_import_without_a_circle():
    # the state, the read side, the write side and persistence import without pulling in the facade
    mods = ("robomem.core.state", "robomem.core.query", "robomem.core.persistence", "robomem.core.pipeline")
    code = "import importlib, sys\n" + "".join(
        f"importlib.import_module('{m}'); assert 'robomem.core.memory' not in sys.modules, '{m}'\n" for m in mods
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_replace_state_swaps_everything_at_once(encoder):
    world, regions = kitchen_world()
    a = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    b = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    a.ingest(world.frame(*VIEW_TABLE1, T0))
    b.ingest(world.frame(*VIEW_TABLE2, T0 + SEC))
    a.replace_state(b)
    assert a.state is b.state
    assert a.locate("blue paper book").status is QueryStatus.OK
    assert a.locate("red mug").status is QueryStatus.NOT_FOUND
    assert a.time_range() == (T0 + SEC, T0 + SEC)
    a.reset()
    assert a.stats()["instances"] == 0 and a.regions() == tuple(regions)
    assert b.stats()["instances"] > 0  # the other memory is untouched by the reset


def test_replace_state_refuses_another_feature_size(encoder):
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    other = MemoryState.empty(MemoryConfig(), encoder.dim + 1)
    with pytest.raises(MemoryStateError, match="features"):
        mem.replace_state(other)


def test_version_counts_writes(encoder):
    world, regions = kitchen_world()
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    v0 = mem.state.version
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    v1 = mem.state.version
    mem.locate("mug")
    assert v1 > v0 and mem.state.version == v1


def test_pipeline_takes_an_extra_step_in_place(encoder):
    world, regions = kitchen_world()
    calls: list[tuple[int, int]] = []

    def count_points(state: MemoryState, ctx: FrameContext) -> None:
        calls.append((ctx.stamp_ns, len(ctx.segments)))

    pipeline = IngestPipeline().with_step("count_points", count_points, after="segment")
    assert pipeline.names.index("count_points") == pipeline.names.index("segment") + 1
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, regions, pipeline=pipeline)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    assert calls == [(T0, 2)]  # the table and the mug
    with pytest.raises(MemoryStateError, match="no ingest step"):
        IngestPipeline().with_step("x", count_points, after="nope")
    with pytest.raises(MemoryStateError, match="unique"):
        IngestPipeline(list(DEFAULT_STEPS) + [("carve", count_points)])


def test_loaded_state_is_a_complete_state(encoder, tmp_path):
    world, regions = kitchen_world()
    mem = SpatioSemanticMemory(MemoryConfig(), encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mem.save(tmp_path / "m")
    loaded = SpatioSemanticMemory.load(tmp_path / "m", encoder)
    for f in dataclasses.fields(MemoryState):
        if f.name in ("pending", "version", "device"):
            continue
        assert getattr(loaded.state, f.name) is not None, f.name
    assert loaded.state.regions == mem.state.regions
    assert loaded.state.counters == mem.state.counters
