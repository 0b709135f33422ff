"""Intent handlers: ``HANDLERS[intent](plan, env) -> PlannerAnswer``, shared by every planner backend.

A handler raises :class:`~robomem.planner.handlers.common.UnknownError` (an "I don't know" with the reason) or
:class:`~robomem.planner.handlers.common.ClarifyError` (several things fit: ask which); it never guesses.
"""

from __future__ import annotations

from typing import Callable

from robomem.planner.base import PlannerAnswer
from robomem.planner.handlers import actions, objects, rooms
from robomem.planner.handlers.common import ClarifyError, Env, UnknownError
from robomem.planner.nl.plan import Intent, QueryPlan

__all__ = ["HANDLERS", "ClarifyError", "Env", "Handler", "UnknownError"]

Handler = Callable[[QueryPlan, Env], PlannerAnswer]

HANDLERS: dict[Intent, Handler] = {
    Intent.FIND_OBJECT: objects.find_object,
    Intent.OBJECT_ROOM: objects.object_room,
    Intent.OBJECT_ATTRIBUTE: objects.object_attribute,
    Intent.DID_PICK: objects.did_pick,
    Intent.RECEPTACLE_NEAR_OBJECT: objects.receptacle_near_object,
    Intent.OBJECT_NEAR_RECEPTACLE: objects.object_near_receptacle,
    Intent.MULTI_LIST: objects.multi_list,
    Intent.COUNT_CATEGORY: objects.count_category,
    Intent.PICK_RECEPTACLE: actions.pick_receptacle,
    Intent.PLACE_RECEPTACLE: actions.place_receptacle,
    Intent.PICK_ORDER: actions.pick_order,
    Intent.PICK_AT_TIME: actions.pick_at_time,
    Intent.PLACE_AT_TIME: actions.place_at_time,
    Intent.PICK_TIME: actions.pick_time,
    Intent.PLACE_TIME: actions.place_time,
    Intent.DURATION_OF: actions.duration_of,
    Intent.DURATION_EXTREME: actions.duration_extreme,
    Intent.MULTI_PICKED: actions.multi_picked,
    Intent.MULTI_PLACED_RECEPTACLES: actions.multi_placed_receptacles,
    Intent.COUNT_PICKED: actions.count_picked,
    Intent.PICK_COUNT: actions.pick_count,
    Intent.ROOM_NOT_VISITED: rooms.room_not_visited,
    Intent.ROOM_START: rooms.room_start,
    Intent.ROOM_END: rooms.room_end,
    Intent.ROOM_MOST_TIME: rooms.room_most_time,
    Intent.ROOM_ENTRIES: rooms.room_entries,
    Intent.ROOM_AT_TIME: rooms.room_at_time,
    Intent.COUNT_ROOMS: rooms.count_rooms,
    Intent.CHANGES: rooms.changes,
}
"""Every intent but NOT_UNDERSTOOD has a handler (checked by the tests)."""
