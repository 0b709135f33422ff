"""Every index backend behind the real SpatioSemanticMemory: same answers, and a save/load round trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from robomem.config import EncoderConfig, IndexConfig, MemoryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.encoders.base import Encoder, create_encoder
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world

# IVF trains on the voxel features after 200 vectors and probes every cell: exact, so answers must match.
INDEX_CONFIGS = {
    "faiss_flat": IndexConfig(backend="faiss_flat", use_gpu="never"),
    "faiss_ivf": IndexConfig(backend="faiss_ivf", use_gpu="never", ivf_min_train=200, ivf_nlist=4, ivf_nprobe=4),
    "torch": IndexConfig(backend="torch", use_gpu="never"),
}


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return create_encoder(EncoderConfig(backend="hash"))


def _built(encoder: Encoder, index: IndexConfig) -> SpatioSemanticMemory:
    world, regions = kitchen_world()
    mem = SpatioSemanticMemory(dataclasses.replace(MemoryConfig(), index=index), encoder, regions)
    mem.ingest(world.frame(*VIEW_TABLE1, T0))
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 5 * SEC))
    world.put_on(10, 2, dxy=(0.3, 0.2))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 60 * SEC))
    mem.ingest(world.frame(*VIEW_TABLE1, T0 + 61 * SEC))  # two frames of seen-empty evidence: the mug left
    mem.ingest(world.frame(*VIEW_TABLE2, T0 + 90 * SEC))
    return mem


def _answers(mem: SpatioSemanticMemory) -> list[object]:
    return [
        mem.locate("red mug", include_vanished=True),
        mem.locate("table", k=3, include_vanished=True),
        mem.count("table"),
        [(k.keyframe_id, k.stamp_ns, k.visible_instance_ids) for k in mem.keyframes_for("red mug").keyframes],
    ]


def test_backends_give_the_same_answers_and_survive_save_load(encoder: Encoder, tmp_path: Path) -> None:
    reference = None
    for name, index_cfg in INDEX_CONFIGS.items():
        mem = _built(encoder, index_cfg)
        answers = _answers(mem)
        assert answers[0].matches, f"{name}: the red mug was not found"
        mem.sync_indices()
        if name == "faiss_ivf":  # the voxel features really went through a trained IVF index
            assert len(mem.voxel_index) >= 200 and mem.voxel_index.is_trained  # type: ignore[attr-defined]
        if reference is None:
            reference = answers
        else:
            assert answers == reference, f"{name} answers differ from faiss_flat"
        target = tmp_path / name
        mem.save(target)
        loaded = SpatioSemanticMemory.load(target, encoder, config=mem.config)
        assert type(loaded.voxel_index) is type(mem.voxel_index)
        assert _answers(loaded) == answers, f"{name}: answers changed after save/load"
