"""Shared helpers of the per-frame-segment tests: a memory fed by a detector with false positives, and looks at
a place of the box world (:mod:`tests.core._scene`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from robomem.config import MemoryConfig, ObjectConfig, VoxelConfig
from robomem.core.memory import SpatioSemanticMemory
from tests.core._scene import SEC


def noisy_detector_memory(encoder: Any, regions: Any, **object_overrides: Any) -> SpatioSemanticMemory:
    """Per-frame segments from a detector with false positives: two sightings make an instance
    (``object_overrides``: further :class:`ObjectConfig` fields)."""
    cfg = MemoryConfig(voxel=dataclasses.replace(VoxelConfig(), pixel_stride=1),
                       objects=ObjectConfig(confirm_sightings=2, **object_overrides))
    return SpatioSemanticMemory(cfg, encoder, regions)


def look(mem: SpatioSemanticMemory, world: Any, view: Any, t: int, n: int = 2) -> None:
    """``n`` frames one second apart (a robot sees a place in several frames)."""
    for k in range(n):
        mem.ingest(world.frame(view[0], view[1], t + k * SEC))
