"""Evaluation agents: robomem and the baselines it is compared against, behind one :class:`Agent` Protocol.

Every agent sees the same frames (the runner renders each frame once, converts it once per perception mode,
see :mod:`robomem_sim.perception`, and feeds every agent of that mode) and answers the same
:class:`~robomem_sim.types.Task` s with a :class:`~robomem.planner.base.PlannerAnswer`. Memory agents run in
one perception mode each; every memory agent runs in every selected mode (fair baselines: same perception).

========================  =================================================================================
``robomem``               :class:`~robomem.core.memory.SpatioSemanticMemory` over every frame (mask ids
                          persistent in ``gt_ids``, per-frame otherwise; ``gt_text`` label embeddings by
                          default, ``hash`` for fast tests) + the ``rule_based`` planner.
``robomem_vlm``           the same memory + a planner built by name (``vlm_planner``: ``openai`` /
                          ``local_vlm``; needs its endpoint / model; not in the default set).
``static_map``            the same memory over every frame but static, what DynaMem compared against: no
                          free-space removal (``VoxelConfig.removal = False``), the same mask ids as robomem
                          in that mode. A moved object's old voxels are never cleared.
``last_n_frames``         the robomem memory built only from the last ``last_n`` frames of the episode.
``uniform_keyframes``     the FindingDory VLM setting: only ``uniform_k`` (96) frames uniformly subsampled over
                          the whole episode go into the robomem memory.
                          (The two frame-selecting baselines keep only the robot's action events attached to a
                          frame they kept.)
``no_memory``             no memory and no language understanding: answers "I don't know" to everything,
                          naming nothing (so it never scores, absence tasks included: an honest "not found"
                          must name what was asked). The floor to compare with is the *chance level* per
                          category that the report prints beside it (:mod:`robomem_sim.chance`).
``random_guess``          the chance baseline as an agent (not in the default set): reads only the task's
                          answer type (``task.expected.kind``) and draws a random answer of that type
                          (:func:`robomem_sim.chance.chance_answer`); its expected success is the chance level.
========================  =================================================================================

Memory agents get the house's rooms at :meth:`Agent.reset` and, unless the run disables them, the robot's own
pick/place events (:class:`~robomem.core.types.ActionEvent`, fed to ``memory.record_action``) right after the
frame each event's segment hint refers to (frame-selecting baselines: only the events of frames they kept).
Frame selection is streaming: an agent knows the episode's frame count up front and ingests only the frames it
keeps. No agent gets simulator tables (catalogue, priors): the
planner brings its own common sense; the simulator's clock zone ("UTC") is passed to the planner explicitly.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np
from robomem_sim.perception import PerceptionMode
from robomem_sim.types import Task

from robomem.config import (
    ActionConfig,
    EncoderConfig,
    IngestConfig,
    MaskIdMode,
    MemoryConfig,
    ObjectConfig,
    VoxelConfig,
)
from robomem.core.query_types import QueryStatus
from robomem.core.types import ActionEvent, Frame, Region
from robomem.encoders.base import Encoder, create_encoder
from robomem.errors import PlannerError, RobomemError, SimError
from robomem.planner.base import AnswerKind, Planner, PlannerAnswer, create_planner

__all__ = [
    "AGENT_NAMES",
    "DEFAULT_AGENTS",
    "MEMORY_AGENTS",
    "SIM_TIMEZONE",
    "Agent",
    "AgentsConfig",
    "EpisodeInfo",
    "MemoryAgent",
    "NoMemoryAgent",
    "RandomGuessAgent",
    "create_agent",
    "create_agents",
    "eval_memory_config",
    "get_encoder",
]

_LOG = logging.getLogger(__name__)

AGENT_NAMES = (
    "robomem", "robomem_vlm", "static_map", "last_n_frames", "uniform_keyframes", "no_memory", "random_guess"
)
DEFAULT_AGENTS = ("robomem", "static_map", "last_n_frames", "uniform_keyframes", "no_memory")
MEMORY_AGENTS = frozenset(AGENT_NAMES) - {"no_memory", "random_guess"}
"""Agents that build a memory from the frames (they run once per perception mode)."""
NO_PERCEPTION = "none"
"""The perception value of agents that see no frames (``no_memory``)."""
ACTION_LEAD_S = 7 * 86400.0
"""Sim memories accept an action event up to a week after their newest frame (frame-skipping baselines)."""
SIM_TIMEZONE = "UTC"
"""The simulator clock's zone (``SimClock`` stamps are UTC): passed to every planner explicitly."""


@dataclass(frozen=True)
class EpisodeInfo:
    """What an agent may know about an episode before its frames arrive.

    ``regions``: the house's rooms (world boxes); ``n_frames``: how many frames will be observed;
    ``start_ns`` / ``now_ns``: first frame stamp and question time (ns since the epoch).
    """

    episode_id: str
    seed: int
    regions: tuple[Region, ...]
    n_frames: int
    start_ns: int
    now_ns: int


@runtime_checkable
class Agent(Protocol):
    """An evaluated agent: observes an episode's frames (and the robot's own actions), then answers its tasks.

    ``perception`` is the perception mode value of the frames it is fed (``"none"`` when it sees no frames).
    """

    name: str
    perception: str

    def reset(self, episode_info: EpisodeInfo) -> None:
        """Forget everything; a new episode starts."""

    def observe(self, frame: Frame) -> None:
        """One frame of the episode, in time order (every frame is offered; the agent may skip it)."""

    def observe_action(self, event: ActionEvent) -> None:
        """One pick/place of the robot's own gripper, right after the frame its segment hint refers to."""

    def answer(self, task: Task) -> PlannerAnswer:
        """Answer one task; never raises for a task it cannot answer (UNKNOWN with the reason)."""


@dataclass(frozen=True)
class AgentsConfig:
    """Settings shared by the agents of one evaluation.

    encoder: encoder backend of the memories ("gt_text", "hash"). planner: robomem's planner backend.
    vlm_planner: the ``robomem_vlm`` planner backend ("openai", "local_vlm"); planner_config: a
    ``config/planner.yaml``-style file with its endpoint / model (default: PlannerConfig defaults).
    last_n: frames kept by ``last_n_frames``; uniform_k: frames kept by ``uniform_keyframes``.
    min_points: smallest segment (points) that becomes an instance (at pixel_stride 2 a 20-pixel sighting
    gives ~5 points). seed: seeds ``random_guess``. timezone: the zone the planners read "HH:MM" in.
    """

    encoder: str = "gt_text"
    planner: str = "rule_based"
    vlm_planner: str = "openai"
    planner_config: str = ""
    last_n: int = 100
    uniform_k: int = 96
    min_points: int = 5
    pixel_stride: int = 2
    seed: int = 0
    timezone: str = SIM_TIMEZONE

    def validate(self) -> None:
        if self.last_n <= 0 or self.uniform_k <= 0:
            raise SimError(f"last_n ({self.last_n}) and uniform_k ({self.uniform_k}) must be > 0")
        if self.min_points <= 0 or self.pixel_stride <= 0:
            raise SimError("min_points and pixel_stride must be > 0")


def eval_memory_config(
    config: AgentsConfig, static: bool = False, perception: PerceptionMode = PerceptionMode.GT_IDS
) -> MemoryConfig:
    """The memory config of the evaluation agents in ``perception`` mode.

    Mask ids are persistent only in ``gt_ids`` (a perfect tracker); in every other mode they are per-frame
    segments and the memory re-identifies objects itself; with a noisy detector (spurious segments) a segment
    must be seen in two frames before it becomes an instance (``objects.confirm_sightings``). ``static``: the
    static-map baseline (no removal).
    The future-stamp check against the wall clock is off (``ingest.max_future_s = 0``): simulated time has
    nothing to do with the machine's clock; the action-vs-newest-frame clock check allows a week
    (``actions.max_lead_s``): the baselines skip frames on purpose, and the time base is one clock.
    """
    voxel = VoxelConfig(pixel_stride=config.pixel_stride, removal=not static)
    objects = ObjectConfig(
        mask_ids=MaskIdMode.PERSISTENT if perception.persistent_ids else MaskIdMode.PER_FRAME,
        min_points=config.min_points,
        # a detector with false positives: a segment becomes an instance only when seen again
        confirm_sightings=2 if perception.noisy else 1,
    )
    cfg = MemoryConfig(voxel=voxel, objects=objects, encoder=EncoderConfig(backend=config.encoder),
                       ingest=IngestConfig(max_future_s=0.0), actions=ActionConfig(max_lead_s=ACTION_LEAD_S))
    cfg.validate()
    return cfg


_ENCODERS: dict[str, Encoder] = {}
_ENCODER_LOCK = threading.Lock()


def get_encoder(name: str) -> Encoder:
    """The process-wide encoder ``name`` (built once: loading a sentence model takes seconds)."""
    with _ENCODER_LOCK:
        enc = _ENCODERS.get(name)
        if enc is None:
            enc = create_encoder(EncoderConfig(backend=name))
            _ENCODERS[name] = enc
        return enc


FrameSelector = Callable[[int], Optional[frozenset[int]]]
"""n_frames -> indices of the frames to ingest (None: all)."""


def select_all(n: int) -> Optional[frozenset[int]]:
    return None


def select_last(k: int) -> FrameSelector:
    def sel(n: int) -> Optional[frozenset[int]]:
        return frozenset(range(max(0, n - k), n))

    return sel


def select_uniform(k: int) -> FrameSelector:
    """``k`` frame indices spread uniformly over ``0..n-1`` (FindingDory's ``np.linspace`` subsampling)."""

    def sel(n: int) -> Optional[frozenset[int]]:
        if n <= k:
            return None
        return frozenset(int(i) for i in np.linspace(0, n - 1, k, dtype=int))

    return sel


class MemoryAgent:
    """A robomem memory fed with (a selection of) the frames of one perception mode + a planner."""

    def __init__(
        self,
        name: str,
        memory_config: MemoryConfig,
        encoder: Encoder,
        planner: Planner,
        selector: FrameSelector = select_all,
        perception: str = PerceptionMode.GT_IDS.value,
    ) -> None:
        from robomem.core.memory import SpatioSemanticMemory

        self.name = name
        self.perception = perception
        self.memory_config = memory_config
        self.encoder = encoder
        self.planner = planner
        self.selector = selector
        self._memory_cls = SpatioSemanticMemory
        self.memory: Optional[Any] = None
        self._keep: Optional[frozenset[int]] = None
        self._index = 0
        self._ingested_stamps: set[int] = set()
        self.frames_ingested = 0
        self.frames_rejected = 0
        self.actions_recorded = 0
        self.actions_rejected = 0
        self.actions_skipped = 0

    def reset(self, episode_info: EpisodeInfo) -> None:
        self.memory = self._memory_cls(self.memory_config, self.encoder, episode_info.regions)
        self._keep = self.selector(episode_info.n_frames)
        self._index = 0
        self._ingested_stamps = set()
        self.frames_ingested = 0
        self.frames_rejected = 0
        self.actions_recorded = 0
        self.actions_rejected = 0
        self.actions_skipped = 0

    def observe(self, frame: Frame) -> None:
        if self.memory is None:
            raise SimError(f"agent {self.name!r}: call reset(episode_info) before observe()")
        i = self._index
        self._index += 1
        if self._keep is not None and i not in self._keep:
            return
        try:
            self.memory.ingest(frame)
            self.frames_ingested += 1
            self._ingested_stamps.add(int(frame.stamp_ns))
        except RobomemError as exc:  # a rejected frame leaves the memory unchanged; keep going
            self.frames_rejected += 1
            _LOG.warning("agent %s: frame %d rejected: %s", self.name, i, exc)

    def observe_action(self, event: ActionEvent) -> None:
        """Record the robot's own action (``memory.record_action``). A memory that keeps every frame records
        every event; a frame-selecting baseline (``last_n_frames``, ``uniform_keyframes``) keeps only the events
        attached to a frame it kept (the event's hint frame), like a keyframe with its gripper log: it remembers
        what its frames hold, not the whole episode."""
        if self.memory is None:
            raise SimError(f"agent {self.name!r}: call reset(episode_info) before observe_action()")
        record = getattr(self.memory, "record_action", None)
        if record is None:  # a memory without the action API: video only
            return
        if self._keep is not None and (event.segment_id is None or event.frame_stamp_ns not in self._ingested_stamps):
            self.actions_skipped += 1
            return
        try:
            record(event)
            self.actions_recorded += 1
        except RobomemError as exc:
            self.actions_rejected += 1
            _LOG.warning("agent %s: action event at %d rejected: %s", self.name, event.stamp_ns, exc)

    def answer(self, task: Task) -> PlannerAnswer:
        if self.memory is None:
            raise SimError(f"agent {self.name!r}: call reset(episode_info) before answer()")
        try:
            return self.planner.answer(task.text, self.memory, now_ns=task.now_ns)
        except PlannerError as exc:
            return PlannerAnswer(QueryStatus.ERROR, AnswerKind.UNKNOWN, f"planner failed: {exc}")


class NoMemoryAgent:
    """No memory, no language: "I don't know" to everything, naming nothing (see the module docstring)."""

    name = "no_memory"
    perception = NO_PERCEPTION

    def reset(self, episode_info: EpisodeInfo) -> None:
        return None

    def observe(self, frame: Frame) -> None:
        return None

    def observe_action(self, event: ActionEvent) -> None:
        return None

    def answer(self, task: Task) -> PlannerAnswer:
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "I don't know: I have no memory")


class RandomGuessAgent:
    """The chance baseline: a random answer of the task's answer type (see the module docstring)."""

    name = "random_guess"
    perception = NO_PERCEPTION

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._info: Optional[EpisodeInfo] = None

    def reset(self, episode_info: EpisodeInfo) -> None:
        self._info = episode_info

    def observe(self, frame: Frame) -> None:
        return None

    def observe_action(self, event: ActionEvent) -> None:
        return None

    def answer(self, task: Task) -> PlannerAnswer:
        from robomem_sim.chance import chance_answer, guess_rng

        if self._info is None:
            raise SimError("agent 'random_guess': call reset(episode_info) before answer()")
        rng = guess_rng(self.seed, self._info.seed, task.task_id)
        return chance_answer(task, self._info.regions, self._info.start_ns, self._info.now_ns, rng)


def _planner(cfg: AgentsConfig, name: str) -> Planner:
    """The planner of agent ``name``, told the simulator's time zone."""
    from robomem.planner.config import PlannerConfig, load_planner_config

    if name == "robomem_vlm":
        pcfg = load_planner_config(cfg.planner_config) if cfg.planner_config else PlannerConfig()
        pcfg = dataclasses.replace(pcfg, backend=cfg.vlm_planner, timezone=cfg.timezone)
        pcfg.validate()
        return create_planner(cfg.vlm_planner, config=pcfg)
    if cfg.planner == "rule_based":
        return create_planner("rule_based", timezone=cfg.timezone)
    pcfg = dataclasses.replace(PlannerConfig(), backend=cfg.planner, timezone=cfg.timezone)
    pcfg.validate()
    return create_planner(cfg.planner, config=pcfg)


def create_agent(
    name: str, config: Optional[AgentsConfig] = None, perception: PerceptionMode = PerceptionMode.GT_IDS
) -> Agent:
    """Build agent ``name`` (one of :data:`AGENT_NAMES`) for ``perception`` (ignored by ``no_memory``).
    Raises SimError for an unknown name and PlannerError when a planner backend cannot be built."""
    cfg = config or AgentsConfig()
    cfg.validate()
    if name == "no_memory":
        return NoMemoryAgent()
    if name == "random_guess":
        return RandomGuessAgent(cfg.seed)
    if name not in AGENT_NAMES:
        raise SimError(f"unknown agent {name!r}; choose from {', '.join(AGENT_NAMES)}")
    encoder = get_encoder(cfg.encoder)
    planner = _planner(cfg, name)
    selector: FrameSelector = select_all
    if name == "last_n_frames":
        selector = select_last(cfg.last_n)
    elif name == "uniform_keyframes":
        selector = select_uniform(cfg.uniform_k)
    memory_config = eval_memory_config(cfg, static=name == "static_map", perception=perception)
    return MemoryAgent(name, memory_config, encoder, planner, selector, perception.value)


def create_agents(
    names: Sequence[str],
    config: Optional[AgentsConfig] = None,
    perceptions: Sequence[PerceptionMode] = (PerceptionMode.GT_IDS,),
) -> list[Agent]:
    """Build every memory agent once per perception mode (modes outer, agents inner) and every other agent
    once (validated names, no duplicates)."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise SimError(f"agent {n!r} is listed twice")
        seen.add(n)
    out: list[Agent] = []
    for mode in perceptions:
        out.extend(create_agent(n, config, mode) for n in names if n in MEMORY_AGENTS)
    out.extend(create_agent(n, config) for n in names if n not in MEMORY_AGENTS)
    return out


def agents_config_from(base: AgentsConfig, **overrides: Any) -> AgentsConfig:
    """``base`` with ``overrides`` applied (unknown keys rejected)."""
    names = {f.name for f in dataclasses.fields(AgentsConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise SimError(f"unknown agent setting(s) {bad}; valid: {sorted(names)}")
    return dataclasses.replace(base, **overrides)
