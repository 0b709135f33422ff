"""Derived placeholders: other ways people say a task's values, for phrasing files.

A phrasing may use the template's own placeholders (always available, see :mod:`robomem_sim.tasks`) and these
derived ones, computed from the task's values:

==================  ==============================================================  =========================
placeholder         value                                                           stands in for
==================  ==============================================================  =========================
``{time_12h}``      "2:05 pm", "9:30 am", "12:00 pm" (no day)                        ``{time}`` with ``{day}``
``{time_spoken}``   "five past two in the afternoon", "half past nine in the morning"  ``{time}`` with ``{day}``
``{time_short}``    "2:05" (12-hour clock without am/pm; say it with ``{day_part}``)   ``{time}`` with ``{day_part}``
``{day}``           the day of ``{time}`` relative to the question: "today",
                    "yesterday", "on Monday" (older days)
``{day_part}``      day and part of the day: "this morning", "yesterday afternoon",
                    "on Monday evening" (morning < 12:00 <= afternoon < 17:00 <= evening)
``{object_short}``  "red mug": colour + category when no other object in the house   ``{object}``
                    has that colour and category, else the full label
``{objects_short}`` ``{objects}`` with each label shortened the same way              ``{objects}``
``{category}``      the singular of ``{categories}``                                  ``{categories}``
``{categories}``    the plural of ``{category}``                                      ``{category}``
==================  ==============================================================  =========================

The question is asked at the end of the last simulated day, so ``{day}`` of the last day is "today". Times are
the minute of ``{time}`` in the simulator's clock zone (UTC).
"""

from __future__ import annotations

import datetime
from typing import Mapping

from robomem_sim.dynamics import NS, SimClock
from robomem_sim.world import OBJECT_CATEGORIES, House

__all__ = ["DERIVED", "derived_values", "spoken_time", "time_12h"]

DERIVED: dict[str, str] = {
    "time_12h": "time",
    "time_spoken": "time",
    "time_short": "time",
    "day": "time",
    "day_part": "time",
    "object_short": "object",
    "objects_short": "objects",
    "category": "categories",
    "categories": "category",
}
"""Derived placeholder -> the template placeholder it is derived from (and can stand in for)."""

_NUMBERS = ("twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve")
_MINUTES = {5: "five", 10: "ten", 20: "twenty", 25: "twenty-five"}
_UNITS = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty")


def _say_number(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    t, u = divmod(n, 10)
    return _TENS[t] + ("-" + _UNITS[u] if u else "")


def time_12h(hour: int, minute: int) -> str:
    """"2:05 pm", "12:30 pm", "12:10 am"."""
    suffix = "am" if hour < 12 else "pm"
    h = hour % 12 or 12
    return f"{h}:{minute:02d} {suffix}"


def spoken_time(hour: int, minute: int) -> str:
    """How people say a clock time: "half past two in the afternoon", "quarter to eight in the evening",
    "noon", "seven minutes past nine in the morning"."""
    if minute == 0 and hour == 12:
        return "noon"
    if minute == 0 and hour == 0:
        return "midnight"
    to_next = minute > 30
    h = (hour + 1) % 24 if to_next else hour
    part = "in the " + part_of_day(hour)
    name = _NUMBERS[h % 12]
    m = 60 - minute if to_next else minute
    if minute == 0:
        return f"{name} o'clock {part}"
    if m == 30:
        lead = "half"
    elif m == 15:
        lead = "quarter"
    elif m in _MINUTES:
        lead = _MINUTES[m]
    else:
        lead = f"{_say_number(m)} minute{'s' if m != 1 else ''}"
    return f"{lead} {'to' if to_next else 'past'} {name} {part}"


def part_of_day(hour: int) -> str:
    return "morning" if hour < 12 else ("afternoon" if hour < 17 else "evening")


def day_part(t_ns: int, now_ns: int, clock: SimClock) -> str:
    """"this morning" / "yesterday afternoon" / "on Monday evening"."""
    hour = int(clock.seconds_of_day(t_ns)) // 3600
    day = relative_day(t_ns, now_ns, clock)
    part = part_of_day(hour)
    if day == "today":
        return f"this {part}"
    return f"{day} {part}"


def relative_day(t_ns: int, now_ns: int, clock: SimClock) -> str:
    """"today" / "yesterday" / "on Monday" for the day of ``t_ns`` seen from ``now_ns``."""
    back = clock.day_of(now_ns) - clock.day_of(t_ns)
    if back <= 0:
        return "today"
    if back == 1:
        return "yesterday"
    date = datetime.datetime.fromtimestamp(t_ns // NS, tz=datetime.timezone.utc)
    return "on " + date.strftime("%A")


def short_label(label: str, house: House) -> str:
    """Colour + category when that names one object of the house at most (and not another one), else the full
    label."""
    words = label.split()
    if len(words) < 3:
        return label
    colour, category = words[0], " ".join(words[2:])
    same = [o for o in house.objects.values() if o.colour == colour and o.category == category]
    if len(same) > 1 or any(o.label != label for o in same) or not same:
        return label
    return f"{colour} {category}"


def derived_values(fill: Mapping[str, str], house: House, clock: SimClock, now_ns: int) -> dict[str, str]:
    """The derived placeholders (module docstring) available for a task with placeholder values ``fill``
    (``fill["_time_ns"]`` carries the exact minute of ``{time}``)."""
    out: dict[str, str] = {}
    if "_time_ns" in fill:
        t = int(fill["_time_ns"])
        s = int(clock.seconds_of_day(t))
        hour, minute = s // 3600, (s % 3600) // 60
        out["time_12h"] = time_12h(hour, minute)
        out["time_spoken"] = spoken_time(hour, minute)
        out["time_short"] = f"{hour % 12 or 12}:{minute:02d}"
        out["day"] = relative_day(t, now_ns, clock)
        out["day_part"] = day_part(t, now_ns, clock)
    if "object" in fill:
        out["object_short"] = short_label(fill["object"], house)
    if "objects" in fill:
        items = [x.removeprefix("the ") for x in fill["objects"].replace(" and ", ", ").split(", ")]
        short = [f"the {short_label(x, house)}" for x in items]
        out["objects_short"] = short[0] if len(short) == 1 else ", ".join(short[:-1]) + " and " + short[-1]
    plural = {c.name: c.plural for c in OBJECT_CATEGORIES.values()}
    singular = {c.plural: c.name for c in OBJECT_CATEGORIES.values()}
    if "category" in fill and "categories" not in fill:
        out["categories"] = plural.get(fill["category"], fill["category"] + "s")
    if "categories" in fill and "category" not in fill:
        out["category"] = singular.get(fill["categories"], fill["categories"].removesuffix("s"))
    return out
