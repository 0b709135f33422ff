"""Deterministic rule-based planner (the default): question -> :class:`~robomem.planner.nl.plan.QueryPlan` ->
the shared handlers -> a typed :class:`~robomem.planner.base.PlannerAnswer`.

No chat model: the offline parser (:mod:`robomem.planner.nl`: normalisation, time expressions, mentions against
the memory's own vocabulary and a hand-written common-sense lexicon, intent rules + MiniLM sentence embeddings)
reads the question; :class:`~robomem.planner.execute.PlanExecutor` answers it through the typed handler table
:data:`~robomem.planner.handlers.HANDLERS` with reachable goals (:mod:`robomem.planner.goals`). Below the
confidence threshold the answer is "I did not understand ...". Deterministic for a given text, memory and
``now_ns``; it keeps only caches between calls (the memory state's vocabulary and derived facts, embeddings).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping, Optional

from robomem.core.api import MemoryQueries
from robomem.planner.base import PlannerAnswer, register_planner
from robomem.planner.config import PlannerConfig
from robomem.planner.execute import PlanExecutor
from robomem.planner.knowledge import Knowledge, default_knowledge
from robomem.planner.nl.embedder import LazyMiniLM, TextEmbedder
from robomem.planner.nl.parser import Parser
from robomem.planner.nl.plan import Intent, QueryPlan

__all__ = ["Intent", "QueryPlan", "RuleBasedPlanner"]

_LOG = logging.getLogger(__name__)


class RuleBasedPlanner:
    """The default planner (see the module docstring).

    config: the planner settings (``timezone``: "" = the system's zone; the kwarg ``timezone`` overrides it).
    shape_lexicon / receptacle_prior: house-specific knowledge layered over the common-sense file (category ->
    shape; category -> {receptacle category: weight}). embedder: a sentence embedder for the parser (default:
    by ``config.parser.embedder``).
    """

    name = "rule_based"

    def __init__(
        self,
        config: Optional[PlannerConfig] = None,
        *,
        timezone: Optional[str] = None,
        shape_lexicon: Optional[Mapping[str, str]] = None,
        receptacle_prior: Optional[Mapping[str, Mapping[str, float]]] = None,
        embedder: Optional[TextEmbedder] = None,
        knowledge: Optional[Knowledge] = None,
    ) -> None:
        cfg = config if config is not None else PlannerConfig()
        if timezone is not None:
            cfg = dataclasses.replace(cfg, timezone=timezone)
        cfg.validate()
        self.config = cfg
        know = knowledge or default_knowledge()
        if shape_lexicon or receptacle_prior:
            know = know.extended(shape_lexicon, receptacle_prior)
        self.knowledge = know
        if embedder is None and cfg.parser.embedder == "minilm":
            embedder = LazyMiniLM(cfg.parser.embedder_path)
        self.parser = Parser(know, embedder)
        self.executor = PlanExecutor(cfg, know, embedder)

    def warm_up(self) -> None:
        """Load the sentence model and embed the intent exemplars now (seconds), not on the first question."""
        self.parser.classifier.similarities("where is the mug")

    def parse(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> QueryPlan:
        """Parse only (against the memory's vocabulary and clock)."""
        ctx = self.executor.context(memory, now_ns)
        return self.parser.parse(task, self.executor.parse_context(ctx))

    def answer(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> PlannerAnswer:
        ctx = self.executor.context(memory, now_ns)
        plan = self.parser.parse(task if isinstance(task, str) else "", self.executor.parse_context(ctx))
        return self.executor.execute(plan, ctx, task if isinstance(task, str) else "")


def _factory(config: Optional[PlannerConfig] = None, **kwargs: Any) -> RuleBasedPlanner:
    return RuleBasedPlanner(config=config, **kwargs)


register_planner("rule_based", _factory)
