"""Executing a :class:`~robomem.planner.nl.plan.QueryPlan` against a memory: the part every planner shares.

:class:`PlanExecutor` builds the answer context (a cached snapshot of the memory state), gives the parser the
memory's vocabulary and clock, refuses plans below the confidence threshold ("I did not understand ..." and what
was understood, never a value or a goal), dispatches through the typed table
:data:`~robomem.planner.handlers.HANDLERS`, and fills every answer's ``target``, ``parse_confidence`` and
``plan`` (the memory queries used, the resolutions with their scores, the plan as understood).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Optional

from robomem.core.api import MemoryQueries
from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer
from robomem.planner.config import PlannerConfig
from robomem.planner.facts import AnswerContext, SnapshotCache
from robomem.planner.goals import GoalPlacer
from robomem.planner.handlers import HANDLERS, ClarifyError, Env, UnknownError
from robomem.planner.knowledge import Knowledge, default_knowledge
from robomem.planner.nl.embedder import TextEmbedder
from robomem.planner.nl.parser import ParseContext
from robomem.planner.nl.plan import Intent, QueryPlan
from robomem.planner.nl.timeexpr import TimeContext
from robomem.planner.resolve import Resolver

__all__ = ["PlanExecutor", "SnapshotGoals", "default_goal_maker"]

_LOG = logging.getLogger(__name__)


class PlanExecutor:
    """Runs query plans against memories (see the module docstring)."""

    def __init__(self, config: PlannerConfig, knowledge: Knowledge, embedder: Optional[TextEmbedder] = None) -> None:
        self.config = config
        self.tz = config.tzinfo()
        self.knowledge = knowledge
        self.resolver = Resolver(knowledge, config.resolve, embedder)
        self.goals = GoalPlacer(config.goals)
        self._cache = SnapshotCache()

    def context(self, memory: MemoryQueries, now_ns: Optional[int] = None) -> AnswerContext:
        snap = self._cache.get(memory, self.config)
        now = int(now_ns) if now_ns is not None else int(snap.time_range[1])
        ctx = AnswerContext(snap, now, self.tz, self.config)
        ctx.log("time_range()")
        ctx.log("instances(include_vanished=True)")
        return ctx

    def goal_maker(self, ctx: AnswerContext) -> SnapshotGoals:
        """Reachable goals for instance ids / room names of this memory (for the model planners' answers)."""
        return SnapshotGoals(ctx, self.goals)

    def parse_context(self, ctx: AnswerContext) -> ParseContext:
        first, last = ctx.snap.time_range
        vocab = self.resolver.vocabulary(ctx)
        return ParseContext(TimeContext(self.tz, ctx.now_ns, first or ctx.now_ns, last or ctx.now_ns),
                            vocab.phrases, vocab.attribute_words)

    def execute(self, plan: QueryPlan, ctx: AnswerContext, question: str) -> PlannerAnswer:
        threshold = self.config.confidence_threshold
        understood = plan.describe() if plan.intent is not Intent.NOT_UNDERSTOOD else ""
        if plan.intent is Intent.NOT_UNDERSTOOD or plan.confidence < threshold:
            why = "; ".join(plan.notes[-2:]) if plan.intent is Intent.NOT_UNDERSTOOD else ""
            text = f"I did not understand {question.strip()!r}"
            if understood:
                text += f" (I understood: {understood}, but with confidence {plan.confidence:.2f} < {threshold:.2f})"
            elif why:
                text += f" ({why})"
            text += (". I can answer questions about where things are, what I picked up or put down and when, "
                     "which rooms I visited, what changed, and how many things I saw")
            return self._done(PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, text), plan, ctx, target="")
        target = plan.target.describe() if plan.target is not None else ""
        if ctx.snap.time_range == (0, 0):
            return self._done(PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN,
                                            "I don't know: the memory is empty (no frame was ingested yet)"),
                              plan, ctx, target=target)
        env = Env(ctx, self.resolver, self.goals, self.knowledge)
        try:
            answer = HANDLERS[plan.intent](plan, env)
        except UnknownError as exc:
            answer = PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, f"I don't know: {exc}",
                                   target=exc.target or target)
        except ClarifyError as exc:
            answer = PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, str(exc), target=exc.target or target)
        return self._done(answer, plan, ctx, target=answer.target or target)

    @staticmethod
    def _done(answer: PlannerAnswer, plan: QueryPlan, ctx: AnswerContext, target: str) -> PlannerAnswer:
        calls = (*ctx.calls, f"plan: {plan.describe()} (confidence {plan.confidence:.2f})")
        return replace(answer, plan=calls, target=target, parse_confidence=plan.confidence)


class SnapshotGoals:
    """Goals for ids and room names through the shared :class:`~robomem.planner.goals.GoalPlacer`."""

    def __init__(self, ctx: AnswerContext, placer: GoalPlacer) -> None:
        self.ctx = ctx
        self.placer = placer

    def instance(self, instance_id: int) -> Goal:
        inst = self.ctx.snap.by_id.get(int(instance_id))
        if inst is None:
            raise PlannerError(f"instance {instance_id} is not one the memory knows; use ids returned by the tools")
        self.ctx.log(f"goal for #{instance_id} ({inst.label})")
        return self.placer.instance_goal(self.ctx.snap, inst)

    def room(self, name: str) -> Goal:
        names = {r.name.lower(): r.name for r in self.ctx.snap.regions()}
        if name.lower() not in names:
            raise PlannerError(f"room {name!r} is not one of the memory's rooms {sorted(names.values())}")
        return self.placer.room_goal(self.ctx.snap, names[name.lower()])


_DEFAULT: Optional[PlanExecutor] = None


def default_goal_maker(memory: MemoryQueries, now_ns: Optional[int] = None) -> SnapshotGoals:
    """Goals with the default goal settings (for callers without a planner config)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PlanExecutor(PlannerConfig(timezone="UTC"), default_knowledge())
    return _DEFAULT.goal_maker(_DEFAULT.context(memory, now_ns))
