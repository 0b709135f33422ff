"""Answers say so while the memory cannot yet tell whether an object was moved to where a look-alike was seen."""

from __future__ import annotations

import dataclasses

from robomem.config import EncoderConfig, MemoryConfig, VoxelConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.encoders.base import create_encoder
from robomem.planner.base import AnswerKind
from robomem.planner.rule_based import RuleBasedPlanner
from tests.core._scene import SEC, T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world


def test_an_open_move_is_said_and_disappears_once_the_old_place_is_seen_empty() -> None:
    world, regions = kitchen_world()
    cfg = MemoryConfig(voxel=dataclasses.replace(VoxelConfig(), pixel_stride=1))
    mem = SpatioSemanticMemory(cfg, create_encoder(EncoderConfig(backend="hash")), regions)
    for k in range(2):
        mem.ingest(world.frame(*VIEW_TABLE1, T0 + k * SEC))
    world.put_on(10, 2, dxy=(0.3, 0.2))  # moved while the robot was away; seen at the new place first
    for k in range(2):
        mem.ingest(world.frame(*VIEW_TABLE2, T0 + (60 + k) * SEC))
    planner = RuleBasedPlanner(timezone="UTC")
    a = planner.answer("Where is the red mug?", mem, now_ns=T0 + 100 * SEC)
    assert a.kind is AnswerKind.INSTANCE and "living room" in a.text
    assert "probably moved" in a.text and "has not been seen since" in a.text
    for k in range(2):  # the old place seen empty: a fact now
        mem.ingest(world.frame(*VIEW_TABLE1, T0 + (120 + k) * SEC))
    b = planner.answer("Where is the red mug?", mem, now_ns=T0 + 200 * SEC)
    assert b.kind is AnswerKind.INSTANCE and "living room" in b.text and "probably moved" not in b.text
