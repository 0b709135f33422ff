"""The settings of one ``robomem-eval`` run (:class:`RunConfig`): what is simulated, asked, and evaluated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from robomem_sim.agents import AGENT_NAMES, DEFAULT_AGENTS, AgentsConfig
from robomem_sim.config import SimConfig
from robomem_sim.perception import PERCEPTION_MODES, PerceptionMode, parse_modes
from robomem_sim.phrasings import DEFAULT_PHRASINGS, TEMPLATE_PHRASING, PhrasingSet, load_phrasings
from robomem_sim.types import TaskFamily

from robomem.errors import RobomemError, SimError

__all__ = ["RunConfig"]


@dataclass(frozen=True)
class RunConfig:
    """One evaluation run. Every field changes the results except ``torch_threads``.

    episodes: number of episodes, seeds ``seed .. seed + episodes - 1``; days / min_interactions /
    max_interactions (per day) / objects / rooms / steps_per_day (57600 = 1 s steps) / width x height /
    frame_every: simulator overrides (see
    :class:`~robomem_sim.config.SimConfig`); per_family / task_seed: task sampling; agents / families: what is
    evaluated (families empty: all); perception: the perception modes every memory agent runs in
    (:mod:`robomem_sim.perception`); noise_seed: seeds the ``noisy`` / ``unlabelled`` draws; phrasings: a
    phrasing file (:mod:`robomem_sim.phrasings`; "" = templates only) whose phrasings are asked to the
    ``phrasing_agents`` (in every perception mode; the baselines share robomem's planner, so their language
    side is the same and they get the template texts only, which keeps the run short); action_events: feed
    the robot's own
    pick/place events to the memories (False: video only, FindingDory's setting); encoder / vlm_planner /
    planner_config / last_n / uniform_k: agent settings (see :class:`~robomem_sim.agents.AgentsConfig`);
    sim_config: optional ``config/sim.yaml``-style file the overrides apply to.
    """

    episodes: int = 2
    seed: int = 0
    days: int = 5
    min_interactions: int = 2
    max_interactions: int = 11
    objects: int = 20
    rooms: int = 5
    steps_per_day: int = 57600
    width: int = 128
    height: int = 96
    frame_every: int = 4
    per_family: int = 6
    task_seed: int = 0
    agents: tuple[str, ...] = DEFAULT_AGENTS
    families: tuple[str, ...] = ()
    perception: tuple[str, ...] = PERCEPTION_MODES
    noise_seed: int = 0
    phrasings: str = DEFAULT_PHRASINGS
    phrasing_agents: tuple[str, ...] = ("robomem", "robomem_vlm")
    action_events: bool = True
    encoder: str = "gt_text"
    vlm_planner: str = "openai"
    planner_config: str = ""
    last_n: int = 100
    uniform_k: int = 96
    sim_config: str = ""
    torch_threads: int = field(default=1, compare=False)

    def validate(self) -> None:
        if self.episodes <= 0:
            raise SimError(f"--episodes must be >= 1, got {self.episodes}")
        if self.per_family <= 0:
            raise SimError(f"--per-family must be >= 1, got {self.per_family}")
        if self.torch_threads <= 0:
            raise SimError(f"--torch-threads must be >= 1, got {self.torch_threads}")
        bad_ph = [a for a in self.phrasing_agents if a not in AGENT_NAMES]
        if bad_ph:
            raise SimError(f"unknown phrasing agent(s) {bad_ph}; choose from {', '.join(AGENT_NAMES)}")
        unknown = [a for a in self.agents if a not in AGENT_NAMES]
        if unknown or not self.agents:
            raise SimError(f"unknown agent(s) {unknown or '(none given)'}; choose from {', '.join(AGENT_NAMES)}")
        if len(set(self.agents)) != len(self.agents):
            raise SimError(f"--agents lists an agent twice: {','.join(self.agents)}")
        names = [f.value for f in TaskFamily]
        bad = [f for f in self.families if f not in names]
        if bad:
            raise SimError(f"unknown task famil(ies) {bad}; choose from {', '.join(names)}")
        parse_modes(self.perception)
        if self.phrasings:
            ps = load_phrasings(self.phrasings)
            if ps.name == TEMPLATE_PHRASING:
                raise SimError(f"a phrasing file may not be named {TEMPLATE_PHRASING!r}.json (that name is the "
                               "template texts' row); rename it")
        self.sim().validate()
        self.agents_config().validate()

    def sim(self) -> SimConfig:
        """The simulator config: ``sim_config`` (or defaults) with this run's overrides, validated."""
        base = SimConfig.load(self.sim_config, section="sim") if self.sim_config else SimConfig()
        cfg = dataclasses.replace(
            base,
            house=dataclasses.replace(base.house, n_objects=self.objects, n_rooms=self.rooms),
            camera=dataclasses.replace(base.camera, width=self.width, height=self.height),
            agent=dataclasses.replace(base.agent, frame_every=self.frame_every),
            dynamics=dataclasses.replace(
                base.dynamics,
                days=self.days,
                steps_per_day=self.steps_per_day,
                min_interactions_per_day=self.min_interactions,
                max_interactions_per_day=self.max_interactions,
            ),
        )
        try:
            cfg.validate()
        except RobomemError as exc:
            raise SimError(f"invalid simulator settings: {exc}") from None
        return cfg

    def agents_config(self) -> AgentsConfig:
        return AgentsConfig(
            encoder=self.encoder,
            vlm_planner=self.vlm_planner,
            planner_config=self.planner_config,
            last_n=self.last_n,
            uniform_k=self.uniform_k,
            seed=self.seed,
        )

    def family_list(self) -> list[TaskFamily]:
        return [TaskFamily(f) for f in self.families] if self.families else list(TaskFamily)

    def modes(self) -> tuple[PerceptionMode, ...]:
        return parse_modes(self.perception)

    def phrasing_set(self) -> Optional[PhrasingSet]:
        return load_phrasings(self.phrasings) if self.phrasings else None

    def episode_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.episodes)]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("agents", "families", "perception", "phrasing_agents"):
            d[k] = list(getattr(self, k))
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise SimError(f"run config has unknown key(s) {bad}")
        d = dict(data)
        for k in ("agents", "families", "perception", "phrasing_agents"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    def result_fields(self) -> dict[str, Any]:
        """The fields that change per-episode results (a resumed run must keep them; ``episodes`` may grow).
        The phrasing file counts by its content (name + sha256), not by its path."""
        d = self.to_dict()
        d.pop("torch_threads")
        d.pop("episodes")
        if self.phrasings:
            ps = load_phrasings(self.phrasings)
            d["phrasings"] = f"{ps.name}:{ps.sha256}"
        return d
