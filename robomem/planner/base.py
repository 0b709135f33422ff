"""Planner interface: a natural-language task -> memory queries -> a typed answer and/or navigation goals.

Backends (chosen by ``PlannerConfig.backend`` through :func:`create_planner`):
``rule_based`` (deterministic default), ``openai`` (OpenAI-compatible chat API with tool calls),
``local_vlm`` (a transformers chat model in a local directory). Planners get the memory injected per call
as a :class:`~robomem.core.api.MemoryQueries`, so the same planner works in-process and over ROS.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Union, runtime_checkable

from robomem.core.api import MemoryQueries
from robomem.core.query_types import QueryStatus

Vec3 = tuple[float, float, float]


class AnswerKind(enum.Enum):
    INSTANCE = "instance"  # instance_ids[0] (+ goals to go there)
    RECEPTACLE = "receptacle"
    ROOM = "room"  # value: room name
    TIME = "time"  # value: ns since epoch
    DURATION = "duration"  # value: seconds
    NUMBER = "number"  # value: int
    BOOLEAN = "boolean"  # value: bool
    LIST = "list"  # instance_ids (ordered when the task says so) + goals
    TEXT = "text"
    UNKNOWN = "unknown"  # "I don't know": status NOT_FOUND and text says why


@dataclass(frozen=True)
class Goal:
    """A place to go: a target position (world, m) and optionally the yaw to face it (rad, about +z)."""

    position: Vec3
    yaw: Optional[float] = None
    instance_id: Optional[int] = None
    label: str = ""
    keyframe_stamp_ns: Optional[int] = None


@dataclass(frozen=True)
class PlannerAnswer:
    """A planner's answer to one task.

    ``target``: the entity the question was understood to be about, as the planner resolved or read it
    ("green glass vase", "mug"); empty when the question names none or was not understood. An UNKNOWN /
    NOT_FOUND answer that names its target says "I understood what you asked about and found nothing".
    ``parse_confidence``: how sure the planner is that it understood the question, in [0, 1] (None: the
    backend does not say). A planner never answers OK below its own confidence threshold.
    ``may_have_moved`` / ``last_seen_ns``: a *stale belief*: the answer is the last known place, seen at
    ``last_seen_ns``, and the object may have been moved since (its place has not been observed since).
    """

    status: QueryStatus
    kind: AnswerKind
    text: str
    value: Union[int, float, str, bool, None] = None
    instance_ids: tuple[int, ...] = ()
    goals: tuple[Goal, ...] = ()
    plan: tuple[str, ...] = ()  # the memory queries that were run, for explanation and logs
    target: str = ""
    parse_confidence: Optional[float] = None
    may_have_moved: bool = False
    last_seen_ns: Optional[int] = None


@runtime_checkable
class Planner(Protocol):
    name: str

    def answer(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> PlannerAnswer:
        """Answer ``task`` from ``memory``. Never raises for a task it cannot parse: returns UNKNOWN with
        the reason. Raises PlannerError only when its backend fails (endpoint down, malformed output)."""


PlannerFactory = Callable[..., Planner]
_REGISTRY: dict[str, PlannerFactory] = {}


def register_planner(name: str, factory: PlannerFactory) -> None:
    _REGISTRY[name] = factory


def planner_names() -> list[str]:
    _ensure_builtin()
    return sorted(_REGISTRY)


def create_planner(name: str, **kwargs: object) -> Planner:
    """Build the planner backend ``name`` (kwargs go to its constructor)."""
    from robomem.errors import PlannerError

    _ensure_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise PlannerError(f"unknown planner backend {name!r}; choose one of {sorted(_REGISTRY)}") from None
    return factory(**kwargs)


def _ensure_builtin() -> None:
    import importlib

    for mod in ("robomem.planner.rule_based", "robomem.planner.llm.openai_compat", "robomem.planner.llm.local_vlm"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a backend module not written yet must not break the others
            if exc.name != mod:
                raise
