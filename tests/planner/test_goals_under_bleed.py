"""A receptacle's navigation goal stays at the receptacle when the detector's masks bleed onto the wall behind
it (robomem.core.mask_bleed): the goal is placed from the receptacle's box, the union of its views."""

from __future__ import annotations

import math

import pytest

from robomem.config import EncoderConfig, MemoryConfig, ObjectConfig, VoxelConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.types import Box3D
from robomem.encoders.base import create_encoder
from robomem.planner.base import Goal
from robomem.planner.config import PlannerConfig
from robomem.planner.facts import MemorySnapshot
from robomem.planner.goals import GoalPlacer, footprint_distance
from tests.core._bleed import VIEWS, bleeding_frame, room_with_a_wall
from tests.core._scene import SEC, T0

TABLE = Box3D((1.5, -0.5, 0.0), (2.5, 0.5, 0.75))


def table_goal(edge_jump: float, width: int, p: float) -> tuple[Goal, Box3D]:
    """The goal to the table and the table's box the goal was placed from."""
    world, regions = room_with_a_wall()
    cfg = MemoryConfig(voxel=VoxelConfig(pixel_stride=2),
                       objects=ObjectConfig(min_points=10, segment_edge_jump=edge_jump))
    mem = SpatioSemanticMemory(cfg, create_encoder(EncoderConfig(backend="hash")), regions)
    for k, (eye, target) in enumerate(VIEWS * 2):
        mem.ingest(bleeding_frame(world, eye, target, T0 + k * SEC, width, p=p))
    snap = MemorySnapshot(mem, list(mem.instances()), mem.time_range(), PlannerConfig())
    table = next(i for i in snap.receptacles() if i.label == "wooden kitchen table")
    return GoalPlacer(PlannerConfig().goals).receptacle_goal(snap, table), snap.rbox(table)


@pytest.mark.parametrize("width,p", [(1, 1.0), (2, 0.3)])
def test_a_tables_goal_stays_at_the_table_under_bleed(width, p):
    g, box = table_goal(0.04, width, p)
    assert all(abs(a - b) < 0.1 for a, b in zip((*box.min_xyz, *box.max_xyz), (*TABLE.min_xyz, *TABLE.max_xyz)))
    x, y = g.position[0], g.position[1]
    assert 0.3 <= footprint_distance(TABLE, x, y) <= 0.8  # the standoff in front of the table, not a metre off
    assert g.yaw is not None
    c = TABLE.center
    assert abs(math.remainder(math.atan2(c[1] - y, c[0] - x) - g.yaw, 2 * math.pi)) < 0.6


def test_without_the_filter_the_box_reaches_the_wall():
    """The test above means something: with every mask pixel kept, the table's box reaches the wall 2.5 m behind
    it (and every goal placed from it, or kept clear of it, is off)."""
    _, box = table_goal(0.0, 1, 1.0)
    assert box.max_xyz[0] > 4.5
