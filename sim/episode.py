"""Episodes: one seeded house, one or more simulated days of the scripted oracle, and the ground-truth log.

API (stable; the agents, the runner and the planner build on it)::

    episode = generate_episode(SimConfig(), seed=7)          # symbolic: poses, events, sightings; no images kept
    for frame in iter_frames(episode):                       # lazy RGB-D frames with ground-truth perception
        memory.ingest(frame)
    tasks = robomem_sim.tasks.generate_tasks(episode)
    renderer = episode.renderer()                            # world at episode.now_ns, for scoring

Ground truth lives in :class:`EpisodeLog`: every pick and place (time, from/to receptacle and room), the
robot's room visits, the objects people moved (while the robot was elsewhere or idle, and in the room the robot
was working in), every sighting of every object/receptacle in the frames (covering >= 0.1 % of the pixels, see
:func:`sighting_min_pixels`) and, for every household move, when the robot first saw the object's old place
empty (``EpisodeLog.vacancy_seen_ns``). ``episode.frames[i]`` holds the pose and stamp of frame ``i``
(FindingDory answers can be frame indices). :func:`robot_actions` lists the robot's own picks and places as a
manipulation stack reports them (time, gripper pose, the frames showing the grasped object).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
from robomem_sim.agent_script import Activity, RobotPose, ScriptedAgent, Waypoint, start_pose
from robomem_sim.config import SimConfig
from robomem_sim.dynamics import Move, SimClock, household_moves, sample_destination
from robomem_sim.episode_log import (
    EpisodeLog,
    EventKind,
    FrameMeta,
    HouseholdMove,
    Interaction,
    Sighting,
    Vec3,
    Visit,
    WorldEvent,
)
from robomem_sim.render import Renderer, camera_pose
from robomem_sim.world import House, SlotRef, WorldState, generate_house

from robomem.core.types import NO_INSTANCE, ActionKind, CameraIntrinsics, Frame
from robomem.errors import SimError

__all__ = [
    "Activity", "Episode", "EpisodeLog", "EventKind", "FrameMeta", "HouseholdMove", "Interaction", "RobotAction",
    "RobotPose", "Sighting", "Visit", "WorldEvent", "frame_at", "generate_episode", "iter_frames", "robot_actions",
    "sighting_min_pixels",
]

_LOG = logging.getLogger(__name__)

SIGHTING_MIN_PIXELS = 3
"""Floor of the pixels an entity must cover in a frame to count as *seen* (see :func:`sighting_min_pixels`)."""




@dataclass(frozen=True, eq=False)
class Episode:
    """A generated episode. Cheap to keep: frames are rendered on demand by :func:`iter_frames`.

    ``now_ns`` is when the tasks are asked (end of the last day); ``final_pose`` the robot's pose then
    (the start of every navigation answer, for SPL): a seeded free spot near the centre of a random room, not
    where the last interaction ended. ``initial_state`` is the world before the first event.
    """

    seed: int
    config: SimConfig
    house: House
    clock: SimClock
    frames: tuple[FrameMeta, ...]
    log: EpisodeLog
    now_ns: int
    final_pose: RobotPose
    initial_state: WorldState

    def state_at(self, t_ns: int) -> WorldState:
        """The world at ``t_ns``: every event with ``t_ns`` <= the given time applied (a fresh copy)."""
        state = self.initial_state.copy()
        for ev in self.log.events:
            if ev.t_ns > t_ns:
                break
            state.move(ev.object_id, ev.to_slot)
        return state

    def renderer(self, t_ns: Optional[int] = None, intrinsics: Optional[CameraIntrinsics] = None) -> Renderer:
        """A :class:`~robomem_sim.render.Renderer` of the world at ``t_ns`` (default ``now_ns``) with the
        episode's camera intrinsics as default."""
        return Renderer(self.house, self.state_at(self.now_ns if t_ns is None else t_ns),
                        intrinsics or self.config.camera.intrinsics())

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return self.config.camera.intrinsics()

    @property
    def frame_stamps_ns(self) -> np.ndarray:
        """(N,) int64 stamps of the frames, for frame-index answers."""
        return np.array([f.stamp_ns for f in self.frames], dtype=np.int64)

    def frame_index_at(self, t_ns: int) -> Optional[int]:
        """Index of the last frame at or before ``t_ns`` (None before the first frame)."""
        k = int(np.searchsorted(self.frame_stamps_ns, t_ns, side="right")) - 1
        return k if k >= 0 else None

    def room_at(self, t_ns: int) -> Optional[str]:
        """The room the robot was in at ``t_ns`` (from the visit log; None outside the days)."""
        for v in self.log.visits:
            if v.enter_ns <= t_ns < v.exit_ns:
                return v.room
        return None


def sighting_min_pixels(intrinsics: CameraIntrinsics, min_coverage: float = 0.001) -> int:
    """Pixels an entity must cover to count as seen: FindingDory's visibility rule (``min_coverage`` of the
    image, 0.1 %: 20 px at 160x120), at least ``SIGHTING_MIN_PIXELS``."""
    return max(SIGHTING_MIN_PIXELS, math.ceil(min_coverage * intrinsics.width * intrinsics.height - 1e-9))


def generate_episode(config: Optional[SimConfig] = None, seed: int = 0) -> Episode:
    """Generate the house, the oracle's days and the ground-truth log, deterministically from ``seed``.

    Renders an id-only pass over all frames to record sightings and vacated places (~3-5 ms per 160x120
    frame on one core). Raises :class:`~robomem.errors.SimError` when the config cannot produce an episode.
    """
    cfg = config or SimConfig()
    cfg.validate()
    house = generate_house(cfg.house, seed)
    clock = SimClock.from_config(cfg.dynamics)
    rng = np.random.default_rng([int(seed), 1])
    agent = ScriptedAgent(house, cfg.agent, cfg.camera, clock.step_s)
    state = WorldState(house)
    initial = state.copy()
    pose = start_pose(house, agent.grid, rng)
    pose0 = pose
    dyn = cfg.dynamics
    spd = clock.steps_per_day
    gen = _Generation(house, clock, state, initial, rng, dyn.move_rate)

    active: list[tuple[int, Waypoint, Optional[int]]] = []  # (global step, waypoint, interaction index)
    interactions: list[Interaction] = []
    picked: list[int] = []

    for day in range(dyn.days):
        day0, day_end = day * spd, (day + 1) * spd
        scanned: set[str] = set()
        n = int(rng.integers(dyn.min_interactions_per_day, dyn.max_interactions_per_day + 1))
        window = spd // n
        pending = sorted(day0 + int(x) for x in rng.integers(0, spd, size=dyn.household_events_per_day))
        cursor = day0

        for i in range(n):
            planned = day0 + i * window + int(rng.integers(0, max(1, window // 2)))
            start = max(planned, cursor)
            gen.fire_idle(pending, start, cursor, _room_of(house, pose))
            obj = _choose_object(house, state, picked, dyn.repick_prob, rng)
            from_slot = state.slot_of(obj)
            assert from_slot is not None
            to_slot = sample_destination(house, state, obj, rng, exclude_receptacles=[from_slot.receptacle_id])
            if to_slot is None:
                _LOG.warning("day %d: no free slot for object %d; interaction skipped", day + 1, obj)
                continue
            trial = set(scanned)
            plan = agent.interaction(pose, obj, from_slot, to_slot, trial)
            if start + len(plan.waypoints) > day_end:
                _LOG.warning("day %d: interaction %d does not fit before the end of the day (%d steps of %.1f s);"
                             " raise dynamics.steps_per_day", day + 1, i + 1, len(plan.waypoints), clock.step_s)
                break
            scanned = trial
            idx = len(interactions)
            for k, wp in enumerate(plan.waypoints):
                active.append((start + k, wp, idx))
            watched: Optional[int] = None  # step (in the plan) of a person's move in the robot's room
            if rng.random() < dyn.watched_move_prob:
                watched = int(rng.integers(0, len(plan.waypoints)))
            pick_ns = clock.stamp_ns(start + plan.pick_step)
            place_ns = clock.stamp_ns(start + plan.place_step)
            end = start + len(plan.waypoints)
            if watched is not None and watched < plan.pick_step:
                gen.fire_watched(start, watched, plan.waypoints[watched], obj, to_slot)
            state.pick(obj)
            gen.events.append(WorldEvent(pick_ns, EventKind.PICK, obj, None))
            if watched is not None and plan.pick_step <= watched < plan.place_step:
                gen.fire_watched(start, watched, plan.waypoints[watched], obj, to_slot)
            state.place(obj, to_slot)
            gen.events.append(WorldEvent(place_ns, EventKind.PLACE, obj, to_slot))
            if watched is not None and watched >= plan.place_step:
                gen.fire_watched(start, watched, plan.waypoints[watched], obj, None)
            interactions.append(Interaction(
                idx, obj, clock.stamp_ns(start), pick_ns, place_ns, clock.stamp_ns(end),
                from_slot.receptacle_id, house.receptacle(from_slot.receptacle_id).room,
                to_slot.receptacle_id, house.receptacle(to_slot.receptacle_id).room,
                house.object_box(obj, from_slot).center, house.object_box(obj, to_slot).center,
            ))
            if obj not in picked:
                picked.append(obj)
            pose = plan.waypoints[-1].pose
            cursor = end
        gen.fire_idle(pending, day_end, cursor, _room_of(house, pose))

    events = sorted(gen.events, key=lambda e: e.t_ns)  # stable: pick before place at equal stamps
    visits = _visits(house, clock, active, initial_pose=pose0)
    frames: list[FrameMeta] = []
    for step, wp, it_idx in active:
        if step % cfg.agent.frame_every:
            continue
        T = camera_pose(wp.pose.x, wp.pose.y, cfg.camera.height_m, wp.cam_yaw, wp.cam_pitch)
        t_ns = clock.stamp_ns(step)
        in_room = next((v.room for v in visits if v.enter_ns <= t_ns < v.exit_ns), visits[-1].room)
        frames.append(FrameMeta(len(frames), t_ns, T, wp.pose, in_room, wp.activity, it_idx))
    moves = tuple(sorted(gen.moves, key=lambda m: m.t_ns))
    log = EpisodeLog(tuple(interactions), tuple(visits), moves, tuple(events), {})
    # the questions come later, wherever the robot then stands: a seeded free spot near the centre of a random
    # room (its own stream: the episode is unchanged). Not the end of the last interaction - standing there
    # answers "the last object you picked up" without any memory.
    asked_at = start_pose(house, agent.grid, np.random.default_rng([int(seed), 9]))
    episode = Episode(int(seed), cfg, house, clock, tuple(frames), log, clock.day_end_ns(dyn.days - 1), asked_at,
                      initial)
    sightings, vacancies = _observe(episode)
    object.__setattr__(episode, "log", dataclasses.replace(log, sightings=sightings, vacancy_seen_ns=vacancies))
    _LOG.info("episode seed=%d: %d interactions, %d household moves, %d frames", seed, len(interactions),
              len(moves), len(frames))
    return episode


def _choose_object(house: House, state: WorldState, picked: list[int], repick_prob: float,
                   rng: np.random.Generator) -> int:
    """The next object the robot moves: with ``repick_prob`` one it moved before (not the last one), else
    one it never moved (any object when none is left)."""
    on_slots = [o for o in sorted(house.objects) if state.slot_of(o) is not None]
    again = [o for o in picked if o in on_slots and o != (picked[-1] if picked else None)]
    fresh = [o for o in on_slots if o not in picked]
    u = rng.random()
    pool = again if (again and (u < repick_prob or not fresh)) else (fresh or on_slots)
    return pool[int(rng.integers(len(pool)))]


class _Generation:
    """World events of one episode while it is generated: household moves with their bookkeeping."""

    def __init__(self, house: House, clock: SimClock, state: WorldState, initial: WorldState,
                 rng: np.random.Generator, move_rate: float) -> None:
        self.house = house
        self.clock = clock
        self.state = state
        self.initial = initial
        self.rng = rng
        self.move_rate = move_rate
        self.events: list[WorldEvent] = []
        self.moves: list[HouseholdMove] = []

    def _record(self, moves: list[Move], t_ns: int, robot_room: str, active: bool, prev: dict[int, SlotRef]) -> None:
        for mv in moves:
            before = prev[mv.object_id]
            self.moves.append(HouseholdMove(
                mv.object_id, t_ns, before.receptacle_id, self.house.receptacle(before.receptacle_id).room,
                mv.to_slot.receptacle_id, self.house.receptacle(mv.to_slot.receptacle_id).room,
                self.house.object_box(mv.object_id, before).center,
                self.house.object_box(mv.object_id, mv.to_slot).center, robot_room, active,
            ))
            self.events.append(WorldEvent(t_ns, EventKind.HOUSEHOLD_MOVE, mv.object_id, mv.to_slot))

    def _slots(self) -> dict[int, SlotRef]:
        return {o: s for o, s in self.state.slots().items() if s is not None}

    def fire_idle(self, pending: list[int], until: int, cursor: int, robot_room: str) -> None:
        """Fire the pending household events scheduled before step ``until``, anywhere in the house; an event
        that fell inside an interaction (before ``cursor``) is postponed to ``cursor``, when the robot is
        idle again (it records nothing while idle)."""
        while pending and pending[0] < until:
            step = max(pending.pop(0), cursor)
            prev = self._slots()
            moves = household_moves(self.house, self.state, self.move_rate, self.rng)
            self._record(moves, self.clock.stamp_ns(step), robot_room, False, prev)

    def fire_watched(self, start: int, k: int, wp: Waypoint, robot_obj: int, reserved: Optional[SlotRef]) -> None:
        """A person moves one object of the room the robot is in at step ``start + k`` of an interaction (not
        the object the robot handles, never into the slot it is about to use)."""
        room = self.house.room_at(wp.pose.x, wp.pose.y) or _room_of(self.house, wp.pose)
        prev = self._slots()
        moves = household_moves(self.house, self.state, self.move_rate, self.rng, exclude_objects=[robot_obj],
                                 only_rooms=[room], exclude_slots=[reserved] if reserved else [], n_moves=1)
        self._record(moves, self.clock.stamp_ns(start + k), room, True, prev)


def _observe(episode: Episode) -> tuple[dict[int, tuple[Sighting, ...]], dict[tuple[int, int], int]]:
    """Id-only pass over the frames: sightings of every entity and, for each household move, the first frame
    after it that shows the object's old place without the object, as plainly as a sighting would have shown
    the object (see :func:`_shows_empty`)."""
    cfg = episode.config
    K = cfg.camera.intrinsics()
    min_px = sighting_min_pixels(K, cfg.scoring.min_coverage)
    sightings: dict[int, list[Sighting]] = {}
    house = episode.house
    pending = [(m.object_id, m.t_ns, m.from_position, house.object(m.object_id).size)
               for m in episode.log.household_moves]
    vacancies: dict[tuple[int, int], int] = {}
    for meta, renderer in _replay(episode, 0, len(episode.frames)):
        depth, ids = renderer.render_ids(meta.world_T_camera)
        vals, counts = np.unique(ids[ids != NO_INSTANCE], return_counts=True)
        for sid, px in zip(vals.tolist(), counts.tolist()):
            if px >= min_px:
                sightings.setdefault(int(sid), []).append(Sighting(meta.index, meta.stamp_ns, int(px)))
        if not pending:
            continue
        keep = []
        for obj, t_ns, pos, size in pending:
            if meta.stamp_ns > t_ns and _shows_empty(meta.world_T_camera, K, depth, ids, pos, size, obj, min_px):
                vacancies[(obj, t_ns)] = meta.stamp_ns
            else:
                keep.append((obj, t_ns, pos, size))
        pending = keep
    return {k: tuple(v) for k, v in sorted(sightings.items())}, vacancies


VACANCY_MAX_DEPTH_M = 4.0
"""A vacated place counts as seen only closer than this (m): far glimpses are not evidence."""


def _shows_empty(world_T_camera: np.ndarray, K: CameraIntrinsics, depth: np.ndarray, ids: np.ndarray, pos: Vec3,
                 size: Vec3, obj: int, min_px: int) -> bool:
    """Whether the view shows the object's old place empty: the object, had it been there, would have covered
    at least ``min_px`` pixels (the sighting rule), and at least 5 of 6 points of its old volume (centre, +-30 %
    of its width and depth, 30 % of its height up) project into the image, closer than
    :data:`VACANCY_MAX_DEPTH_M`, unoccluded (the surface seen is at or behind them) and not on the object."""
    cam_T_world = np.linalg.inv(world_T_camera)
    zc = (cam_T_world @ np.array([pos[0], pos[1], pos[2], 1.0]))[2]
    if not 0.2 < zc <= VACANCY_MAX_DEPTH_M:
        return False
    if (size[0] * K.fx / zc) * (size[2] * K.fy / zc) < min_px:
        return False
    sx, sy, sz = (0.3 * v for v in size)
    offsets = ((0.0, 0.0, 0.0), (sx, 0.0, 0.0), (-sx, 0.0, 0.0), (0.0, sy, 0.0), (0.0, -sy, 0.0), (0.0, 0.0, sz))
    good = 0
    for dx, dy, dz in offsets:
        p = cam_T_world @ np.array([pos[0] + dx, pos[1] + dy, pos[2] + dz, 1.0])
        z = p[2]
        if z <= 0.2:
            continue
        u = int(round(K.fx * p[0] / z + K.cx))
        v = int(round(K.fy * p[1] / z + K.cy))
        if not (1 <= u < K.width - 1 and 1 <= v < K.height - 1):
            continue
        if int(ids[v, u]) != obj and float(depth[v, u]) >= z - 0.08:
            good += 1
    return good >= 5


def _room_of(house: House, pose: RobotPose) -> str:
    room = house.room_at(pose.x, pose.y)
    if room is not None:
        return room
    return min(house.rooms, key=lambda r: math.hypot(r.center_xy[0] - pose.x, r.center_xy[1] - pose.y)).name


def _visits(house: House, clock: SimClock, active: list[tuple[int, Waypoint, Optional[int]]],
            initial_pose: RobotPose) -> list[Visit]:
    """Room visits from the active steps; the robot stays put while idle; visits close at each day's end."""
    out: list[Visit] = []
    current = _room_of(house, initial_pose)
    k = 0
    for day in range(clock.days):
        enter = clock.day_start_ns(day)
        day_end_step = (day + 1) * clock.steps_per_day
        while k < len(active) and active[k][0] < day_end_step:
            step, wp, _ = active[k]
            room = house.room_at(wp.pose.x, wp.pose.y)
            if room is not None and room != current:
                t = clock.stamp_ns(step)
                if t > enter:
                    out.append(Visit(current, enter, t))
                current, enter = room, t
            k += 1
        out.append(Visit(current, enter, clock.day_end_ns(day)))
    return out


def _replay(episode: Episode, start: int, stop: int) -> Iterator[tuple[FrameMeta, Renderer]]:
    """Frames ``start..stop-1`` with a renderer showing the world at each frame's stamp."""
    frames = episode.frames[start:stop]
    if not frames:
        return
    state = episode.initial_state.copy()
    events = episode.log.events
    e = 0
    renderer = Renderer(episode.house, state, episode.config.camera.intrinsics())
    for meta in frames:
        changed = False
        while e < len(events) and events[e].t_ns <= meta.stamp_ns:
            state.move(events[e].object_id, events[e].to_slot)
            e += 1
            changed = True
        if changed:
            renderer.sync(state)
        yield meta, renderer


def iter_frames(episode: Episode, start: int = 0, stop: Optional[int] = None) -> Iterator[Frame]:
    """Yield ``robomem.core.types.Frame`` for frames ``start..stop-1``, lazily, in time order.

    Ground-truth perception: rgb HxWx3 uint8, depth float32 metres (z-depth), ``instance_mask`` int32 sim ids
    (-1 for walls/floor/ceiling), ``instance_labels`` {sim id: label} and ``receptacle_ids`` for the ids
    visible in that frame. Ids are persistent (use ``ObjectConfig.mask_ids = persistent``).
    """
    n = len(episode.frames)
    stop = n if stop is None else stop
    if not (0 <= start <= n and start <= stop <= n):
        raise SimError(f"iter_frames: frame range {start}..{stop} is outside 0..{n}")
    house = episode.house
    receptacles = frozenset(house.receptacles)
    for meta, renderer in _replay(episode, start, stop):
        rgb, depth, ids = renderer.render(meta.world_T_camera)
        visible = {int(v) for v in np.unique(ids) if v != NO_INSTANCE}
        yield Frame(
            rgb=rgb, depth=depth, intrinsics=renderer.intrinsics, world_T_camera=meta.world_T_camera.copy(),
            stamp_ns=meta.stamp_ns, instance_mask=ids,
            instance_labels={i: house.label(i) for i in sorted(visible)},
            receptacle_ids=frozenset(visible & receptacles),
        )


def frame_at(episode: Episode, index: int) -> Frame:
    """Frame ``index`` alone (replays the world up to its stamp)."""
    return next(iter_frames(episode, index, index + 1))


@dataclass(frozen=True, eq=False)
class RobotAction:
    """One of the robot's own picks/places as its manipulation stack would report it.

    ``world_T_gripper``: true 4x4 gripper pose (a top-down grasp at the object's centre, x along the robot's
    heading); ``frames``: indices of the frames that may show the grasped object, in order of preference - PICK:
    the frames of the look/pick phase before the object left its place, nearest first; PLACE: the frame taken at
    the very moment it was put down, if there is one (a hint must refer to a frame at or before the event; the
    memory knows what the gripper holds anyway).
    """

    kind: ActionKind
    stamp_ns: int
    object_id: int
    interaction: int
    world_T_gripper: np.ndarray
    frames: tuple[int, ...]


def gripper_pose(position: Vec3, yaw: float) -> np.ndarray:
    """4x4 pose of a top-down grasp at ``position``: z down, x along ``yaw``."""
    c, s = math.cos(yaw), math.sin(yaw)
    T = np.eye(4)
    T[:3, 0] = (c, s, 0.0)
    T[:3, 1] = (s, -c, 0.0)
    T[:3, 2] = (0.0, 0.0, -1.0)
    T[:3, 3] = position
    return T


def robot_actions(episode: Episode) -> list[RobotAction]:
    """The robot's picks and places in time order (see :class:`RobotAction`)."""
    by_interaction: dict[int, list[FrameMeta]] = {}
    for f in episode.frames:
        if f.interaction is not None:
            by_interaction.setdefault(f.interaction, []).append(f)
    out: list[RobotAction] = []
    for it in episode.log.interactions:
        frames = by_interaction.get(it.index, [])
        before = [f for f in frames if f.stamp_ns < it.pick_ns and f.activity in (Activity.LOOK, Activity.PICK)]
        after = [f for f in frames if f.stamp_ns == it.place_ns and f.activity is Activity.PLACE]
        yaw_pick = before[-1].robot.yaw if before else 0.0
        placing = [f for f in frames if f.activity is Activity.PLACE]
        yaw_place = placing[0].robot.yaw if placing else 0.0
        out.append(RobotAction(ActionKind.PICK, it.pick_ns, it.object_id, it.index,
                               gripper_pose(it.from_position, yaw_pick), tuple(f.index for f in reversed(before))))
        out.append(RobotAction(ActionKind.PLACE, it.place_ns, it.object_id, it.index,
                               gripper_pose(it.to_position, yaw_place), tuple(f.index for f in after)))
    return sorted(out, key=lambda a: a.stamp_ns)
