"""The robot's own actions: recorded pick/place events are facts; without them the planner infers from what it saw
and says so."""

from __future__ import annotations

from typing import Any

import numpy as np

from robomem.core.query_types import ActionRecord, ActionsResult, HistoryResult, QueryStatus
from robomem.core.types import ActionKind, Box3D, Placement
from robomem.planner.base import AnswerKind
from robomem.planner.config import PlannerConfig
from robomem.planner.facts import MemorySnapshot
from robomem.planner.rule_based import RuleBasedPlanner
from tests.planner._fake_memory import SEC, T0, TABLE, FakeMemory

PICK_NS = T0 + 1000 * SEC
PLACE_NS = T0 + 1150 * SEC


class RecordedMemory(FakeMemory):
    """FakeMemory whose manipulation stack reported picking the mug off the kitchen table and putting it back."""

    def actions(self, t0_ns: Any = None, t1_ns: Any = None, kind: Any = None, instance_id: Any = None) -> ActionsResult:
        self.calls.append(("actions", t0_ns, t1_ns, kind, instance_id))
        recs = (
            ActionRecord(1, ActionKind.PICK, PICK_NS, 3, "red mug", "segment", (2.4, 0.1, 0.8),
                         from_receptacle_id=1, from_receptacle="kitchen table", from_room="kitchen"),
            ActionRecord(2, ActionKind.PLACE, PLACE_NS, 3, "red mug", "held", (2.1, 0.2, 0.82),
                         from_receptacle_id=1, from_receptacle="kitchen table", from_room="kitchen",
                         to_receptacle_id=1, to_receptacle="kitchen table", to_room="kitchen"),
        )
        return ActionsResult(QueryStatus.OK, "2 actions", recs)


def _planner() -> RuleBasedPlanner:
    return RuleBasedPlanner(PlannerConfig(timezone="UTC"))


def test_recorded_actions_are_facts() -> None:
    mem = RecordedMemory()
    p = _planner()
    a = p.answer("When did you grab the red mug?", mem)
    assert a.kind is AnswerKind.TIME and a.value == PICK_NS and "inferred" not in a.text
    a = p.answer("What did you pick up first?", mem)
    assert a.kind is AnswerKind.INSTANCE and a.instance_ids == (3,) and "inferred" not in a.text
    a = p.answer("Where did you put the mug down?", mem)
    assert a.kind is AnswerKind.RECEPTACLE and a.instance_ids == (1,)
    a = p.answer("How long did moving the mug take?", mem)
    assert a.kind is AnswerKind.DURATION and np.isclose(a.value, 150.0)
    a = p.answer("How many times did you pick up the mug?", mem)
    assert a.kind is AnswerKind.NUMBER and a.value == 1
    assert any(c[0] == "actions" for c in mem.calls)


def test_without_records_the_answer_is_an_inference_and_says_so() -> None:
    mem = FakeMemory()  # no action was ever recorded: whether the robot moved the mug is read from its history
    a = _planner().answer("Did you pick up the red mug?", mem)
    assert a.kind is AnswerKind.BOOLEAN and "inferred from what I saw" in a.text
    a = _planner().answer("What did you pick up first?", mem)
    assert a.kind is AnswerKind.UNKNOWN and "inferred from what I saw" in a.text


class MovedTableMemory(FakeMemory):
    """The kitchen table's history: a partial view beside its place, and an earlier place two rooms away (a wrong
    re-identification, or another piece of furniture seen under a confused label)."""

    def history(self, instance_id: Any = None, text: Any = None) -> HistoryResult:
        if instance_id != 1:
            return super().history(instance_id, text)
        far = Placement((8.0, 5.0, 0.4), Box3D((7.6, 4.6, 0.0), (8.4, 5.4, 0.75)), T0, T0 + 10 * SEC, T0 + 20 * SEC)
        beside = Placement((2.0, 0.5, 0.4), Box3D((1.8, 0.3, 0.0), (2.2, 0.6, 0.75)), T0 + 20 * SEC, T0 + 30 * SEC,
                           T0 + 40 * SEC)
        now = Placement(TABLE.position, TABLE.box, T0 + 40 * SEC, T0 + 3000 * SEC)
        return HistoryResult(QueryStatus.OK, "ok", TABLE, (far, beside, now))


def test_a_receptacles_box_joins_views_of_its_place_not_places_elsewhere() -> None:
    mem = MovedTableMemory()
    snap = MemorySnapshot(mem, list(mem.all), (T0, T0 + 3600 * SEC), PlannerConfig())
    box = snap.rbox(TABLE)
    assert box.max_xyz[1] == 0.6  # the partial view beside it is joined
    assert box.min_xyz[0] == TABLE.box.min_xyz[0] and box.max_xyz[0] == TABLE.box.max_xyz[0]  # not the far place
