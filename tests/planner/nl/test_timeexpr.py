"""Time expressions as people say them, read in the planner's zone (never silently UTC)."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Optional

import pytest

from robomem.planner.nl.lexicon import normalize
from robomem.planner.nl.timeexpr import TimeContext, extract_time

NS = 1_000_000_000
H = 3600 * NS
M = 60 * NS
DAY = 24 * H
MON = 1_767_571_200 * NS  # Monday 2026-01-05 00:00 UTC
NOW = MON + 2 * DAY + 18 * H  # Wednesday 18:00
FIRST = MON + 6 * H  # the memory starts Monday 06:00
UTC = datetime.timezone.utc


def _ctx(tz: datetime.tzinfo = UTC, now: int = NOW) -> TimeContext:
    return TimeContext(tz, now, FIRST, now)


def _read(text: str, ctx: Optional[TimeContext] = None) -> tuple[Optional[int], Optional[int], Optional[int]]:
    tp = extract_time(normalize(text), ctx or _ctx())
    assert tp.spec is not None and not tp.error, (text, tp)
    return tp.spec.at_ns, tp.spec.t0_ns, tp.spec.t1_ns


TODAY = MON + 2 * DAY


@pytest.mark.parametrize(("text", "at"), [
    ("at 14:05", TODAY + 14 * H + 5 * M),
    ("at 2:05 pm", TODAY + 14 * H + 5 * M),
    ("at 2:05pm", TODAY + 14 * H + 5 * M),
    ("at 2 p.m.", TODAY + 14 * H),
    ("at 09:30", TODAY + 9 * H + 30 * M),
    ("at half past two", TODAY + 14 * H + 30 * M),
    ("at a quarter to eight", TODAY + 7 * H + 45 * M),
    ("at ten past nine", TODAY + 9 * H + 10 * M),
    ("at noon", TODAY + 12 * H),
    ("at two o'clock", TODAY + 14 * H),
    ("at 9", TODAY + 9 * H),
    ("around 3", TODAY + 15 * H),
    ("20 minutes ago", NOW - 20 * M),
    ("an hour ago", NOW - H),
    ("half an hour ago", NOW - 30 * M),
    ("at 14:05 on day 2", MON + DAY + 14 * H + 5 * M),
    ("on day two at 8:15 am", MON + DAY + 8 * H + 15 * M),
    ("yesterday at 3 pm", MON + DAY + 15 * H),
    ("at 3 pm yesterday", MON + DAY + 15 * H),
    ("on Monday at 10:00", MON + 10 * H),
])
def test_points(text: str, at: int) -> None:
    assert _read(text)[0] == at


@pytest.mark.parametrize(("text", "t0", "t1"), [
    ("this morning", TODAY + 5 * H, TODAY + 12 * H),
    ("yesterday evening", MON + DAY + 17 * H, TODAY),
    ("in the last hour", NOW - H, NOW),
    ("over the past 20 minutes", NOW - 20 * M, NOW),
    ("since lunch", TODAY + 12 * H, NOW),
    ("after lunch", TODAY + 13 * H, NOW),
    ("since 9:00", TODAY + 9 * H, NOW),
    ("before 10:00", FIRST, TODAY + 10 * H),
    ("between 9:00 and 11:30", TODAY + 9 * H, TODAY + 11 * H + 30 * M),
    ("from 2 pm to 4 pm", TODAY + 14 * H, TODAY + 16 * H),
    ("on Tuesday", MON + DAY, MON + 2 * DAY),
    ("on day 1", MON, MON + DAY),
    ("yesterday", MON + DAY, MON + 2 * DAY),
    ("since 20 minutes ago", NOW - 20 * M, NOW),
    ("earlier today", TODAY, NOW),
])
def test_windows(text: str, t0: int, t1: int) -> None:
    _at, a, b = _read(text)
    assert (a, b) == (t0, t1), text


def test_clock_times_are_read_in_the_planner_zone() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")  # UTC+1 in January
    at, _a, _b = _read("at 14:05", _ctx(berlin))
    assert at == TODAY + 13 * H + 5 * M
    _at, t0, t1 = _read("this morning", _ctx(berlin))
    assert (t0, t1) == (TODAY + 4 * H, TODAY + 11 * H)
    # "yesterday" is yesterday in Berlin: at 00:30 Berlin (23:30 UTC) it is already the next day there
    late = MON + DAY + 23 * H + 30 * M
    _at, t0, _t1 = _read("yesterday", _ctx(berlin, late))
    assert t0 == MON + DAY - H


def test_the_time_is_taken_out_of_the_text() -> None:
    tp = extract_time(normalize("What changed in the kitchen since half past two?"), _ctx())
    assert tp.text == "what changed in the kitchen since then"
    tp = extract_time(normalize("which room were you in at 14:05"), _ctx())
    assert tp.text == "which room were you in at that time"


@pytest.mark.parametrize("text", ["at 25:00", "at 14:75", "at 13 pm", "on day 0"])
def test_impossible_times_are_errors(text: str) -> None:
    tp = extract_time(normalize(text), _ctx())
    assert tp.error and tp.spec is None


@pytest.mark.parametrize("text", ["the second object you picked up", "how many times", "a room you did not visit",
                                  "take me to the 3 mugs", "which room did you end the day in"])
def test_no_time_where_there_is_none(text: str) -> None:
    tp = extract_time(normalize(text), _ctx())
    assert tp.spec is None and not tp.error, (text, tp)
