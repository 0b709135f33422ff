"""Model-backed planners (an OpenAI-compatible endpoint, a local transformers chat model) and their shared
pieces: memory tools, the query-plan schema, prompts and the tool loop. A model translates the question into the
same :class:`~robomem.planner.nl.plan.QueryPlan` the rule-based parser produces; the shared handlers execute it
with the same reachable goals (:class:`PlanSupport`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from robomem.core.api import MemoryQueries
from robomem.planner.base import PlannerAnswer
from robomem.planner.config import PlannerConfig
from robomem.planner.execute import PlanExecutor, SnapshotGoals
from robomem.planner.knowledge import default_knowledge
from robomem.planner.llm.loop import SubmitFn
from robomem.planner.llm.plan_schema import plan_from_json
from robomem.planner.llm.tools import load_arguments
from robomem.planner.nl.embedder import LazyMiniLM

__all__ = ["PlanSupport"]


class PlanSupport:
    """Executes the plans a model submits, with the planner's settings (zone, threshold, goals)."""

    def __init__(self, config: PlannerConfig) -> None:
        self.knowledge = default_knowledge()
        embedder = LazyMiniLM(config.parser.embedder_path) if config.parser.embedder == "minilm" else None
        self.executor = PlanExecutor(config, self.knowledge, embedder)

    def prepare(self, memory: MemoryQueries, now_ns: Optional[int], task: str) -> tuple[SubmitFn, SnapshotGoals]:
        """A ``submit`` function for :func:`~robomem.planner.llm.loop.run_tool_loop` and the goal maker for
        free-form answers, both over one snapshot of ``memory``."""
        ctx = self.executor.context(memory, now_ns)
        tctx = self.executor.parse_context(ctx).time

        def submit(payload: Any) -> PlannerAnswer:
            data = load_arguments(payload) if isinstance(payload, str) else payload
            plan = plan_from_json(data, memory, tctx, self.knowledge)
            return self.executor.execute(replace(plan, text=task), ctx, task)

        return submit, self.executor.goal_maker(ctx)
