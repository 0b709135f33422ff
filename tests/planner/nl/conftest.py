"""Shared fixtures of the parser tests: one parser (MiniLM intent embeddings) and a small house vocabulary."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from robomem.planner.nl.embedder import minilm_embedder
from robomem.planner.nl.parser import ParseContext, Parser
from robomem.planner.nl.plan import Intent, QueryPlan
from robomem.planner.nl.timeexpr import TimeContext

NS = 1_000_000_000
DAY1 = 1_767_571_200 * NS  # Monday 2026-01-05 00:00 UTC
NOW = DAY1 + 22 * 3600 * NS
H = 3600 * NS


@pytest.fixture(scope="session")
def nl_parser() -> Parser:
    return Parser(embedder=minilm_embedder())


@pytest.fixture(scope="session")
def nl_ctx() -> ParseContext:
    vocab = {"mug": "object", "book": "object", "remote": "object", "keychain": "object", "vase": "object",
             "red mug": "object", "blue mug": "object", "glass vase": "object", "key": "object",
             "table": "receptacle", "sofa": "receptacle", "counter": "receptacle", "shelf": "receptacle",
             "kitchen": "room", "living room": "room", "office": "room", "bathroom": "room"}
    return ParseContext(TimeContext(datetime.timezone.utc, NOW, DAY1 + 6 * H, NOW), vocab,
                        frozenset({"red", "blue", "ceramic", "glass"}))


def check_plan(plan: QueryPlan, intent: Intent, slots: dict[str, Any]) -> None:
    """The plan has the intent, a confident parse, and the slots (target / receptacle / anchor by description,
    objects as a tuple of descriptions, times by ns, the rest by attribute)."""
    assert plan.intent is intent, (plan.text, plan.intent, plan.notes)
    assert plan.confidence >= 0.5, (plan.text, plan.confidence, plan.notes)
    for key, want in slots.items():
        if key in ("target", "receptacle", "anchor"):
            ref = getattr(plan, key)
            got = ref.describe() if ref is not None else None
        elif key == "objects":
            got = tuple(o.describe() for o in plan.objects)
        elif key in ("at", "t0", "t1"):
            assert plan.time is not None, (plan.text, plan.notes)
            got = {"at": plan.time.at_ns, "t0": plan.time.t0_ns, "t1": plan.time.t1_ns}[key]
        else:
            got = getattr(plan, key)
        assert got == want, (plan.text, key, got, want, plan.notes)
