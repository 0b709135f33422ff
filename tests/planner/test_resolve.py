"""Entity resolution against the memory's own vocabulary: words, kinds, misspellings, and relative embedding
scores that hold for CLIP-like and text-encoder-like score ranges alike."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

import pytest

from robomem.core.query_types import CountResult, InstanceSummary, QueryStatus
from robomem.core.types import Box3D, NodeKind, Region
from robomem.planner.config import PlannerConfig
from robomem.planner.execute import PlanExecutor
from robomem.planner.knowledge import default_knowledge
from robomem.planner.nl.plan import EntityKind, EntityRef
from robomem.planner.resolve import Resolver, parse_label

T0 = 1_767_254_400 * 1_000_000_000


def _inst(iid: int, label: str, kind: NodeKind = NodeKind.OBJECT) -> InstanceSummary:
    c = (float(iid), 0.0, 0.5)
    return InstanceSummary(iid, label, kind, c, Box3D((c[0] - 0.1, -0.1, 0.4), (c[0] + 0.1, 0.1, 0.6)), 1.0, T0,
                           T0 + 10, True, 5)


class VocabMemory:
    """Instances with given labels; ``count`` scores them with ``score(text, label) -> cosine``."""

    def __init__(self, labels: Sequence[str], score: Optional[Callable[[str, int], float]] = None,
                 regions: Sequence[str] = ("kitchen", "living_room")) -> None:
        self.all = [_inst(i + 1, lab) for i, lab in enumerate(labels)]
        self.score = score
        self.counted: list[str] = []
        self._regions = [Region(n, Box3D((10.0 * k, 0.0, 0.0), (10.0 * k + 5, 5.0, 3.0))) for k, n in
                         enumerate(regions)]

    def count(self, text: str, min_score: Optional[float] = None, include_vanished: bool = False) -> CountResult:
        self.counted.append(text)
        assert self.score is not None, "no embedding query expected here"
        scored = [dataclasses.replace(i, score=self.score(text, i.instance_id)) for i in self.all]
        return CountResult(QueryStatus.OK, "ok", len(scored), tuple(scored))

    def instances(self, include_vanished: bool = True) -> list[InstanceSummary]:
        return list(self.all)

    def regions(self) -> Sequence[Region]:
        return self._regions

    def time_range(self) -> tuple[int, int]:
        return (T0, T0 + 10)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"resolution should not call memory.{name}")


def _resolve(mem: VocabMemory, words: str, attrs: tuple[str, ...] = (), generic: bool = False):
    ex = PlanExecutor(PlannerConfig(timezone="UTC"), default_knowledge())
    ctx = ex.context(mem)
    res = ex.resolver.resolve(EntityRef(words, words if not generic else "", attrs, EntityKind.OBJECT, generic), ctx)
    return res, sorted(m.label for m in res.matches)


HOUSE = ["red ceramic mug", "blue glass vase", "white ceramic plate", "green plastic bowl", "black leather wallet",
         "silver metal keychain", "brown paper book"]


@pytest.mark.parametrize(("words", "attrs", "how", "labels"), [
    ("mug", (), "exact", ["red ceramic mug"]),
    ("cup", (), "word", ["red ceramic mug"]),
    ("key", (), "word", ["silver metal keychain"]),
    ("purse", (), "word", ["black leather wallet"]),
    ("dish", (), "word", ["white ceramic plate"]),
    ("crockery", (), "kind", ["green plastic bowl", "red ceramic mug", "white ceramic plate"]),
    ("vasse", (), "fuzzy", ["blue glass vase"]),
    ("mug", ("red",), "exact", ["red ceramic mug"]),
    ("vase", ("glass",), "exact", ["blue glass vase"]),
])
def test_words_resolve_to_what_is_in_memory(words: str, attrs: tuple[str, ...], how: str, labels: list[str]) -> None:
    res, got = _resolve(VocabMemory(HOUSE), words, attrs)
    assert (res.how, got) == (how, labels)


def test_kinds_and_shapes() -> None:
    mem = VocabMemory(HOUSE, score=lambda text, iid: 0.5 + 0.01 * (iid % 3))
    res, got = _resolve(mem, "flurb")  # a word nobody knows: the memory's encoder is asked, nothing stands out
    assert got == [] and mem.counted == ["flurb"]
    res, got = _resolve(VocabMemory(["red ceramic mug", "green plastic bowl", "brown paper book"]), "dish")
    assert res.how == "kind" and got == ["green plastic bowl", "red ceramic mug"]
    _res, got = _resolve(VocabMemory(HOUSE), "", ("cylindrical",), generic=True)
    assert got == ["blue glass vase", "red ceramic mug"]


def test_a_known_thing_that_is_not_in_memory_is_not_replaced_by_a_neighbour() -> None:
    mem = VocabMemory(HOUSE, score=lambda text, iid: 0.9)
    res, got = _resolve(mem, "laptop")
    assert got == [] and res.how == "none" and mem.counted == []
    res, got = _resolve(mem, "mug", ("purple",))
    assert got == [] and [m.label for m in res.near] == ["red ceramic mug"]


@pytest.mark.parametrize(("low", "high"), [(0.20, 0.31), (0.60, 0.93)], ids=["clip-like", "text-like"])
def test_unlabelled_instances_resolve_by_relative_scores(low: float, high: float) -> None:
    """Unlabelled segments: the memory's encoder ranks them; the winner must stand out from the rest, whatever
    the encoder's score range (no fixed cosine threshold)."""
    spread = (high - low) / 12

    def clear(text: str, iid: int) -> float:
        return high if iid == 3 else low + spread * (iid % 4)

    mem = VocabMemory([""] * 8, clear)
    res, _ = _resolve(mem, "zorbulator")
    assert res.how == "semantic" and [m.instance_id for m in res.matches] == [3]

    def flat(text: str, iid: int) -> float:
        return low + spread * (iid % 4)

    res, got = _resolve(VocabMemory([""] * 8, flat), "zorbulator")
    assert got == [] and res.how == "none"


def test_label_parsing_and_rooms() -> None:
    k = default_knowledge()
    p = parse_label("Teal Wooden Alarm Clock", k)
    assert (p.head, p.modifiers, p.category) == ("alarm clock", ("teal", "wooden"), "alarm clock")
    assert parse_label("grey plastic bowls", k).modifiers == ("gray", "plastic")
    r = Resolver(k, PlannerConfig().resolve)
    regions = [Region(n, Box3D((0, 0, 0), (1, 1, 1))) for n in ("kitchen", "living_room", "bedroom 1", "bedroom 2")]
    assert r.room("lounge", regions).name == "living_room"
    assert r.room("Living Room", regions).name == "living_room"
    assert r.room("bedroom", regions).candidates == ("bedroom 1", "bedroom 2")
    assert r.room("kitchn", regions).name == "kitchen"
    assert r.room("garage", regions).name is None
