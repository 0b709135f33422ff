"""Simulated time and the household's own changes (Scene Graph Memory's dynamic house model).

:class:`SimClock`: each simulated day runs ``day_start_hour``..``day_end_hour`` (06:00-22:00) over
``steps_per_day`` clock steps; stamps are ns from a fixed epoch (``DynamicsConfig.epoch_ns``, UTC), so the same
seed gives the same stamps everywhere.

Household dynamics: :func:`household_moves` moves ``move_rate`` x n_objects objects (stochastic rounding; or
exactly ``n_moves``), chosen without replacement with probability proportional to their category's move
frequency (apple 0.4 ... alarm clock 0.01), each to a free slot of a receptacle drawn from the house's noisy
receptacle <- object prior, never a full receptacle, never an excluded room or slot. ``only_rooms`` restricts
the moved objects to some rooms (a person tidying the room the robot is in, in its view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
from robomem_sim.config import EPOCH_NS, DynamicsConfig
from robomem_sim.world import House, SlotRef, WorldState, receptacle_weights

from robomem.errors import SimError

NS = 1_000_000_000


@dataclass(frozen=True)
class SimClock:
    """Discrete simulated time. Global step ``k`` is step ``k % steps_per_day`` of day ``k // steps_per_day``."""

    days: int = 1
    steps_per_day: int = 57600
    day_start_hour: int = 6
    day_end_hour: int = 22
    epoch_ns: int = EPOCH_NS

    @classmethod
    def from_config(cls, cfg: DynamicsConfig) -> SimClock:
        return cls(cfg.days, cfg.steps_per_day, cfg.day_start_hour, cfg.day_end_hour, cfg.epoch_ns)

    @property
    def step_ns(self) -> int:
        """Length of one step, ns (integer; the day's last step ends at or just before day_end_hour)."""
        return (self.day_end_hour - self.day_start_hour) * 3600 * NS // self.steps_per_day

    @property
    def step_s(self) -> float:
        return self.step_ns / NS

    @property
    def total_steps(self) -> int:
        return self.days * self.steps_per_day

    def day_start_ns(self, day: int) -> int:
        return self.epoch_ns + day * 86400 * NS + self.day_start_hour * 3600 * NS

    def day_end_ns(self, day: int) -> int:
        return self.epoch_ns + day * 86400 * NS + self.day_end_hour * 3600 * NS

    def stamp_ns(self, step: int) -> int:
        """Stamp of global step ``step`` (0 <= step <= total_steps; total_steps = the end of the last day)."""
        if not 0 <= step <= self.total_steps:
            raise SimError(f"step {step} is outside the episode's 0..{self.total_steps} steps")
        if step == self.total_steps:
            return self.day_end_ns(self.days - 1)
        day, k = divmod(step, self.steps_per_day)
        return self.day_start_ns(day) + k * self.step_ns

    def day_of(self, t_ns: int) -> int:
        """0-based day of a stamp."""
        return int((t_ns - self.epoch_ns) // (86400 * NS))

    def seconds_of_day(self, t_ns: int) -> float:
        return ((t_ns - self.epoch_ns) % (86400 * NS)) / NS

    def format_time(self, t_ns: int, with_day: Optional[bool] = None) -> str:
        """"HH:MM" (floor to the minute), plus " on day D" (1-based) when ``with_day`` (default: days > 1)."""
        s = int(self.seconds_of_day(t_ns))
        text = f"{s // 3600:02d}:{(s % 3600) // 60:02d}"
        if with_day if with_day is not None else self.days > 1:
            text += f" on day {self.day_of(t_ns) + 1}"
        return text

    def parse_time(self, text: str, day: int = 0) -> int:
        """Inverse of :meth:`format_time`: "HH:MM" or "HH:MM on day D" -> ns (start of that minute)."""
        parts = text.strip().split()
        try:
            hh, mm = (int(x) for x in parts[0].split(":"))
            if len(parts) == 4 and parts[1:3] == ["on", "day"]:
                day = int(parts[3]) - 1
            elif len(parts) != 1:
                raise ValueError(text)
        except ValueError:
            raise SimError(f"cannot parse time {text!r}; expected 'HH:MM' or 'HH:MM on day D'") from None
        if not (0 <= hh < 24 and 0 <= mm < 60):
            raise SimError(f"time {text!r} is out of range")
        return self.epoch_ns + day * 86400 * NS + (hh * 3600 + mm * 60) * NS


@dataclass(frozen=True)
class Move:
    """One planned move of an object to a slot."""

    object_id: int
    to_slot: SlotRef


def sample_destination(
    house: House,
    state: WorldState,
    object_id: int,
    rng: np.random.Generator,
    exclude_receptacles: Iterable[int] = (),
    exclude_rooms: Iterable[str] = (),
    exclude_slots: Iterable[SlotRef] = (),
) -> Optional[SlotRef]:
    """A free slot for ``object_id`` on a receptacle drawn from the house prior P(receptacle | category),
    never a full one nor an excluded one (nor an excluded slot). Falls back to any receptacle with a fitting
    free slot when the prior allows none; None when no slot anywhere fits."""
    obj = house.object(object_id)
    ex_r, ex_rooms, ex_slots = set(exclude_receptacles), set(exclude_rooms), set(exclude_slots)

    def fitting(rid: int) -> list[SlotRef]:
        return [s for s in state.free_slots(rid) if state.fits(object_id, s) and s not in ex_slots]

    def ok(rid: int) -> bool:
        return rid not in ex_r and house.receptacles[rid].room not in ex_rooms and bool(fitting(rid))

    weights = {rid: w for rid, w in receptacle_weights(house, obj.category).items() if ok(rid)}
    if not weights:
        weights = {rid: 1.0 for rid in house.receptacles if ok(rid)}
    if not weights:
        return None
    ids = sorted(weights)
    p = np.array([weights[i] for i in ids], dtype=float)
    rid = ids[int(rng.choice(len(ids), p=p / p.sum()))]
    options = fitting(rid)
    return options[int(rng.integers(len(options)))]


def household_moves(
    house: House,
    state: WorldState,
    move_rate: float,
    rng: np.random.Generator,
    exclude_rooms: Iterable[str] = (),
    exclude_objects: Iterable[int] = (),
    only_rooms: Optional[Iterable[str]] = None,
    exclude_slots: Iterable[SlotRef] = (),
    n_moves: Optional[int] = None,
) -> list[Move]:
    """Plan and apply (to ``state``) one household event (people moving things); returns the moves made.

    Objects in an excluded room (or outside ``only_rooms`` when given), carried objects and
    ``exclude_objects`` are never moved; destinations avoid excluded rooms and ``exclude_slots`` (a slot the
    robot is about to use). ``n_moves`` (when given) replaces the ``move_rate`` draw.
    """
    ex_rooms, ex_obj = set(exclude_rooms), set(exclude_objects)
    only = None if only_rooms is None else set(only_rooms)
    candidates = [o for o in sorted(house.objects)
                  if o not in ex_obj and state.slot_of(o) is not None and state.room_of(o) not in ex_rooms
                  and (only is None or state.room_of(o) in only)]
    if n_moves is None:
        expected = move_rate * len(house.objects)
        n = int(np.floor(expected)) + int(rng.random() < expected - np.floor(expected))
    else:
        n = int(n_moves)
    n = min(n, len(candidates))
    if n == 0:
        return []
    freq = np.array([house.objects[o].move_frequency for o in candidates], dtype=float)
    chosen = rng.choice(len(candidates), size=n, replace=False, p=freq / freq.sum())
    reserved = set(exclude_slots)
    moves = []
    for i in sorted(int(c) for c in chosen):
        obj = candidates[i]
        current = state.receptacle_of(obj)
        dest = sample_destination(house, state, obj, rng, exclude_receptacles=[current] if current else [],
                                  exclude_rooms=ex_rooms, exclude_slots=reserved)
        if dest is None:
            continue
        state.move(obj, dest)
        moves.append(Move(obj, dest))
    return moves
