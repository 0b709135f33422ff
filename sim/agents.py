"""Evaluation agents: robomem and the baselines it is compared against, behind one :class:`Agent` Protocol.

Every agent sees the same frames (the runner renders each frame once and feeds every agent) and answers the
same :class:`~robomem_sim.types.Task` s with a :class:`~robomem.planner.base.PlannerAnswer`.

========================  =================================================================================
``robomem``               :class:`~robomem.core.memory.SpatioSemanticMemory` over every frame (ground-truth
                          perception: persistent sim ids, ``gt_text`` label embeddings by default; ``hash``
                          for fast tests) + the ``rule_based`` planner.
``robomem_vlm``           the same memory + a planner built by name (``vlm_planner``: ``openai`` /
                          ``local_vlm``; needs its endpoint / model; not in the default set).
``static_map``            the same memory over every frame but static, what DynaMem compared against: no
                          free-space removal (``VoxelConfig.removal = False``) and per-frame segment ids, so a
                          moved object is never re-identified: it stays at its old place and appears as a
                          new instance at the new one.
``last_n_frames``         the robomem memory built only from the last ``last_n`` frames of the episode.
``uniform_keyframes``     the FindingDory VLM setting: only ``uniform_k`` (96) frames uniformly subsampled over
                          the whole episode go into the robomem memory.
``no_memory``             no memory at all: tasks whose answer is a room get a uniformly random room of the
                          house (seeded, the room's centre as the goal); everything else is answered
                          "I don't know" (NOT_FOUND). So it scores on absence tasks and on room chance level.
========================  =================================================================================

Memory-based agents get the house's rooms (``set_regions``) at :meth:`Agent.reset`. Frame selection is
streaming: an agent knows the episode's frame count up front and ingests only the frames it keeps.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np
from robomem_sim.types import Task

from robomem.config import EncoderConfig, MaskIdMode, MemoryConfig, ObjectConfig, VoxelConfig
from robomem.core.query_types import QueryStatus
from robomem.core.types import Frame, Region
from robomem.encoders.base import Encoder, create_encoder
from robomem.errors import PlannerError, RobomemError, SimError
from robomem.planner.base import AnswerKind, Goal, Planner, PlannerAnswer, create_planner
from robomem.planner.rule_based import Intent, parse_task

__all__ = [
    "AGENT_NAMES",
    "DEFAULT_AGENTS",
    "Agent",
    "AgentsConfig",
    "EpisodeInfo",
    "MemoryAgent",
    "NoMemoryAgent",
    "create_agent",
    "create_agents",
    "eval_memory_config",
    "get_encoder",
]

_LOG = logging.getLogger(__name__)

AGENT_NAMES = (
    "robomem", "robomem_reid", "robomem_vlm", "static_map", "last_n_frames", "uniform_keyframes", "no_memory"
)
DEFAULT_AGENTS = ("robomem", "robomem_reid", "static_map", "last_n_frames", "uniform_keyframes", "no_memory")


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
    """An evaluated agent: observes an episode's frames, then answers its tasks."""

    name: str

    def reset(self, episode_info: EpisodeInfo) -> None:
        """Forget everything; a new episode starts."""

    def observe(self, frame: Frame) -> None:
        """One frame of the episode, in time order (every frame is offered; the agent may skip it)."""

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
    gives ~5 points). seed: seeds ``no_memory``'s rooms.
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

    def validate(self) -> None:
        if self.last_n <= 0 or self.uniform_k <= 0:
            raise SimError(f"last_n ({self.last_n}) and uniform_k ({self.uniform_k}) must be > 0")
        if self.min_points <= 0 or self.pixel_stride <= 0:
            raise SimError("min_points and pixel_stride must be > 0")


def eval_memory_config(config: AgentsConfig, static: bool = False, per_frame_ids: bool = False) -> MemoryConfig:
    """The memory config of the evaluation agents (ground-truth perception: persistent sim ids).

    ``static``: the static-map baseline (no removal, per-frame ids: no re-identification of moved objects).
    ``per_frame_ids``: the simulator's ids are treated as per-frame segment ids, so the memory must
    re-identify objects itself from label features and positions (``robomem_reid``).
    """
    voxel = VoxelConfig(pixel_stride=config.pixel_stride, removal=not static)
    objects = ObjectConfig(
        mask_ids=MaskIdMode.PER_FRAME if (static or per_frame_ids) else MaskIdMode.PERSISTENT,
        min_points=config.min_points,
    )
    cfg = MemoryConfig(voxel=voxel, objects=objects, encoder=EncoderConfig(backend=config.encoder))
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


def sim_receptacle_prior() -> dict[str, dict[str, float]]:
    """Object category -> {receptacle category: weight} from the simulator's generic household prior (not the
    per-house noisy one): where such objects are usually kept, what a person (or an LLM) would guess."""
    from robomem_sim.world import RECEPTACLE_OBJECTS

    out: dict[str, dict[str, float]] = {}
    for rec, objs in RECEPTACLE_OBJECTS.items():
        for obj, w in objs.items():
            out.setdefault(obj, {})[rec] = float(w)
    return out


def sim_shape_lexicon() -> dict[str, str]:
    """Object category -> shape from the simulator's catalogue (the robot's common-sense knowledge)."""
    from robomem_sim.world import OBJECT_CATEGORIES

    return {name: cat.shape for name, cat in OBJECT_CATEGORIES.items()}


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
    """A robomem memory fed with (a selection of) the frames + a planner."""

    def __init__(
        self,
        name: str,
        memory_config: MemoryConfig,
        encoder: Encoder,
        planner: Planner,
        selector: FrameSelector = select_all,
    ) -> None:
        from robomem.core.memory import SpatioSemanticMemory

        self.name = name
        self.memory_config = memory_config
        self.encoder = encoder
        self.planner = planner
        self.selector = selector
        self._memory_cls = SpatioSemanticMemory
        self.memory: Optional[Any] = None
        self._keep: Optional[frozenset[int]] = None
        self._index = 0
        self.frames_ingested = 0
        self.frames_rejected = 0

    def reset(self, episode_info: EpisodeInfo) -> None:
        self.memory = self._memory_cls(self.memory_config, self.encoder, episode_info.regions)
        self._keep = self.selector(episode_info.n_frames)
        self._index = 0
        self.frames_ingested = 0
        self.frames_rejected = 0

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
        except RobomemError as exc:  # a rejected frame leaves the memory unchanged; keep going
            self.frames_rejected += 1
            _LOG.warning("agent %s: frame %d rejected: %s", self.name, i, exc)

    def answer(self, task: Task) -> PlannerAnswer:
        if self.memory is None:
            raise SimError(f"agent {self.name!r}: call reset(episode_info) before answer()")
        try:
            return self.planner.answer(task.text, self.memory, now_ns=task.now_ns)
        except PlannerError as exc:
            return PlannerAnswer(QueryStatus.ERROR, AnswerKind.UNKNOWN, f"planner failed: {exc}")


_ROOM_INTENTS = {
    Intent.ROOM_NOT_VISITED,
    Intent.ROOM_START,
    Intent.ROOM_END,
    Intent.ROOM_MOST_TIME,
    Intent.ROOM_AT_TIME,
    Intent.OBJECT_ROOM,
}


class NoMemoryAgent:
    """No memory: a uniformly random room for room answers, "I don't know" for everything else."""

    name = "no_memory"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._regions: tuple[Region, ...] = ()
        self._rng = np.random.default_rng(self.seed)
        self._start_ns = 0

    def reset(self, episode_info: EpisodeInfo) -> None:
        self._regions = tuple(episode_info.regions)
        self._rng = np.random.default_rng([self.seed, int(episode_info.seed)])
        self._start_ns = episode_info.start_ns

    def observe(self, frame: Frame) -> None:
        return None

    def answer(self, task: Task) -> PlannerAnswer:
        try:
            plan = parse_task(task.text, self._start_ns or task.now_ns, task.now_ns)
        except ValueError:
            plan = None
        if plan is not None and plan.intent in _ROOM_INTENTS and self._regions:
            r = self._regions[int(self._rng.integers(len(self._regions)))]
            c = r.box.center
            goals = (Goal((c[0], c[1], 0.0), label=r.name),) if plan.navigate else ()
            return PlannerAnswer(
                QueryStatus.OK,
                AnswerKind.ROOM,
                f"no memory: a random room ({r.name})",
                value=r.name,
                goals=goals,
                plan=("random_room()",),
            )
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "I don't know: I have no memory")


def create_agent(name: str, config: Optional[AgentsConfig] = None) -> Agent:
    """Build agent ``name`` (one of :data:`AGENT_NAMES`). Raises SimError for an unknown name and
    PlannerError when a planner backend cannot be built."""
    cfg = config or AgentsConfig()
    cfg.validate()
    if name == "no_memory":
        return NoMemoryAgent(cfg.seed)
    if name not in AGENT_NAMES:
        raise SimError(f"unknown agent {name!r}; choose from {', '.join(AGENT_NAMES)}")
    encoder = get_encoder(cfg.encoder)
    if name == "robomem_vlm":
        from robomem.planner.config import PlannerConfig, load_planner_config

        pcfg = load_planner_config(cfg.planner_config) if cfg.planner_config else PlannerConfig()
        pcfg = dataclasses.replace(pcfg, backend=cfg.vlm_planner)
        pcfg.validate()
        planner = create_planner(cfg.vlm_planner, config=pcfg)
    elif cfg.planner == "rule_based":
        planner = create_planner(
            "rule_based", shape_lexicon=sim_shape_lexicon(), receptacle_prior=sim_receptacle_prior()
        )
    else:
        planner = create_planner(cfg.planner)
    static = name == "static_map"
    selector: FrameSelector = select_all
    if name == "last_n_frames":
        selector = select_last(cfg.last_n)
    elif name == "uniform_keyframes":
        selector = select_uniform(cfg.uniform_k)
    memory_config = eval_memory_config(cfg, static=static, per_frame_ids=name == "robomem_reid")
    return MemoryAgent(name, memory_config, encoder, planner, selector)


def create_agents(names: Sequence[str], config: Optional[AgentsConfig] = None) -> list[Agent]:
    """Build several agents (validated names, no duplicates)."""
    seen: set[str] = set()
    out: list[Agent] = []
    for n in names:
        if n in seen:
            raise SimError(f"agent {n!r} is listed twice")
        seen.add(n)
        out.append(create_agent(n, config))
    return out


def agents_config_from(base: AgentsConfig, **overrides: Any) -> AgentsConfig:
    """``base`` with ``overrides`` applied (unknown keys rejected)."""
    names = {f.name for f in dataclasses.fields(AgentsConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise SimError(f"unknown agent setting(s) {bad}; valid: {sorted(names)}")
    return dataclasses.replace(base, **overrides)
