"""Times in model tool arguments and answers: parse (ISO-8601, "HH:MM", "HH:MM on day D", "now") and format."""

from __future__ import annotations

import datetime
import re
from typing import Optional

from robomem.core.api import MemoryQueries
from robomem.errors import PlannerError

__all__ = ["TIME_HELP", "UTC", "format_time", "parse_time"]

UTC = datetime.timezone.utc

_NS_PER_S = 1_000_000_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:\s+on\s+day\s+(\d+))?$", re.IGNORECASE)

TIME_HELP = "ISO-8601 ('2026-11-03T08:15:00'), 'HH:MM' on the memory's first day, 'HH:MM on day 2', or 'now'"


def _memory_day_start(memory: MemoryQueries, tz: datetime.tzinfo) -> datetime.datetime:
    first_ns, _last_ns = memory.time_range()
    if first_ns == 0:
        raise PlannerError("the memory is empty, so 'HH:MM' has no day; give a full ISO-8601 time")
    first = _EPOCH + datetime.timedelta(microseconds=first_ns // 1000)
    local = first.astimezone(tz)
    return datetime.datetime(local.year, local.month, local.day, tzinfo=tz)


def _to_ns(dt: datetime.datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _NS_PER_S + delta.microseconds * 1000


def parse_time(
    value: object,
    memory: MemoryQueries,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
) -> int:
    """A tool-argument time -> ns since the epoch (see the module docstring for the accepted forms).

    Raises :class:`PlannerError` with the accepted forms when ``value`` is none of them.
    """
    if not isinstance(value, str) or not value.strip():
        raise PlannerError(f"time {value!r} must be a string: ISO-8601 ('2026-11-03T08:15:00'), 'HH:MM' or 'now'")
    text = value.strip()
    if text.lower() == "now":
        if now_ns is not None:
            return int(now_ns)
        last = memory.time_range()[1]
        if last == 0:
            raise PlannerError("'now' is unknown: the memory is empty and no task time was given")
        return int(last)
    m = _HHMM.match(text)
    if m:
        hh, mm = int(m.group(1)), int(m.group(2))
        ss = int(m.group(3) or 0)
        frac = m.group(4) or ""
        if hh > 23 or mm > 59 or ss > 59:
            raise PlannerError(f"time {text!r} is not a valid clock time (HH 0-23, MM 0-59)")
        day_n = int(m.group(5) or 1)
        if day_n < 1:
            raise PlannerError(f"time {text!r}: days count from 1 (the memory's first day)")
        day = _memory_day_start(memory, tz) + datetime.timedelta(days=day_n - 1)
        # wall-clock arithmetic in the zone, then back to UTC (DST-correct for ZoneInfo zones)
        local = day.replace(hour=hh, minute=mm, second=ss)
        ns = _to_ns(local.astimezone(UTC))
        return ns + int(frac.ljust(9, "0")) if frac else ns
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise PlannerError(
            f"time {text!r} is not ISO-8601 ('2026-11-03T08:15:00'), 'HH:MM' of the memory's day, or 'now'"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return _to_ns(dt)


def format_time(t_ns: int, tz: datetime.tzinfo = UTC) -> str:
    """ns since the epoch -> ISO-8601 in ``tz`` (seconds resolution)."""
    dt = (_EPOCH + datetime.timedelta(microseconds=int(t_ns) // 1000)).astimezone(tz)
    return dt.isoformat(timespec="seconds")

