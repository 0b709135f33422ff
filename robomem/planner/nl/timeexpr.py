"""Time expressions in questions -> a :class:`~robomem.planner.nl.plan.TimeSpec` (ns since the epoch).

Understood (combinable, in any order, with or without a preposition):

* clock times: "14:05", "14:05:30", "2:05 pm", "2 pm", "two o'clock", "noon", "midnight", "half past two",
  "a quarter to eight", "ten past nine", "twenty after three", "at 9", "at two thirty";
* days: "today", "yesterday", "the day before yesterday", "on Tuesday", "last Monday", "on day 2",
  "on the second day", "2026-01-05", "5th of January", "January 5";
* parts of a day: "this morning", "yesterday evening", "tonight", "last night", "in the afternoon",
  "at lunch(time)", "after breakfast", "since lunch", "before dinner";
* relative: "20 minutes ago", "an hour ago", "half an hour ago", "in the last hour", "over the past 2 hours",
  "within the last ten minutes", "just now", "recently", "earlier today";
* prepositions: "at/around/about T" (a point), "since/after/from T" (T .. now), "before/until/by T"
  (start of memory .. T), "between T1 and T2", "from T1 to T2", "during/in/on ..." (the window).

Clock times are read in the planner's time zone (:class:`TimeContext` ``tz``). A time without a day is on the
day of the question (``now_ns``), or the day before when that time has not come yet today ("at 21:13" asked
at 07:00); "day 1" is the day of the memory's first frame. An hour of 1-11 without
am/pm and without a leading zero ("at 2", "half past two") is the am or pm hour that falls inside the memory's
time span; when both or neither do, 7-11 are read as morning and 1-6 as afternoon.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Iterable, Optional

from robomem.planner.nl.lexicon import NUMBER_WORDS
from robomem.planner.nl.plan import TimeSpec

__all__ = ["DAY_PARTS", "TimeContext", "TimeParse", "extract_time"]

NS = 1_000_000_000
_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)

DAY_PARTS: dict[str, tuple[float, float]] = {
    "morning": (5.0, 12.0), "afternoon": (12.0, 17.0), "evening": (17.0, 24.0), "night": (20.0, 24.0),
    "breakfast": (7.0, 9.0), "brunch": (10.0, 12.0), "lunch": (12.0, 13.0), "lunchtime": (12.0, 13.0),
    "dinner": (18.0, 20.0), "dinnertime": (18.0, 20.0), "supper": (18.0, 20.0), "bedtime": (21.0, 24.0),
    "daytime": (6.0, 20.0),
}  # fmt: skip
"""Named parts of a day: (start hour, end hour), local clock."""

_HOUR_WORDS = {w: n for w, n in NUMBER_WORDS.items() if 1 <= n <= 12 and w.isalpha() and " " not in w}
_HOUR_WORDS.pop("a", None)
_HOUR_WORDS.pop("an", None)
_UNIT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
               "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_MIN_WORDS: dict[str, int] = {w: n for n, w in enumerate(_UNIT_WORDS, start=1)}
for _tens, _name in ((20, "twenty"), (30, "thirty"), (40, "forty"), (50, "fifty")):
    _MIN_WORDS[_name] = _tens
    for _n, _w in enumerate(_UNIT_WORDS[:9], start=1):
        _MIN_WORDS[f"{_name}-{_w}"] = _MIN_WORDS[f"{_name} {_w}"] = _tens + _n
_MIN_WORDS.update({"quarter": 15, "a quarter": 15, "half": 30, "oh five": 5, "o five": 5})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_ORD_DAYS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "last": -1, "previous": -1}


def _alt(words: Iterable[object]) -> str:
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))


_HW = _alt(_HOUR_WORDS)
_MW = _alt(_MIN_WORDS)
_NUM = r"\d+|" + _alt(w for w in NUMBER_WORDS if w not in ("a", "an")) + r"|half an|an|a"
_AMPM = r"am|pm|in the morning|in the afternoon|in the evening|at night"
_UNIT = r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?"

_ATOMS = re.compile(
    r"\b(?:"
    rf"(?P<spoken>(?P<sm>{_MW}|\d{{1,2}})(?: minutes?)? (?P<srel>past|after|to|before|till) "
    rf"(?P<sh>{_HW}|\d{{1,2}}|noon|midnight)(?: (?P<sap>{_AMPM}))?)"
    rf"|(?P<hhmm>(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?::(?P<s>\d{{2}}))?(?: ?(?P<ap>am|pm|oclock))?)"
    rf"|(?P<hap>(?P<h2>\d{{1,2}}|{_HW}) ?(?P<ap2>am|pm|oclock)"
    r"(?: (?P<ap2b>in the morning|in the afternoon|in the evening|at night))?)"
    r"|(?P<named>noon|midday|midnight)"
    rf"|(?P<ago>(?P<an>{_NUM}|a couple of|a few|several) (?P<au>{_UNIT})(?: and a half)? ago)"
    r"|(?P<momentago>just now|a moment ago|moments ago|a second ago)"
    rf"|(?P<last>(?:in |during |over |within |for )?(?:the )?(?:last|past|previous) "
    rf"(?:(?P<ln>{_NUM}|couple of|few) )?(?P<lu>{_UNIT}))"
    r"|(?P<recent>(?<!most )recently|lately|earlier today)"
    r"|(?P<dby>the day before yesterday)"
    r"|(?P<lastnight>last night|tonight)"
    r"|(?P<rel_day>yesterday|today)"
    rf"|(?P<wday>(?P<wlast>last |this past |this )?(?P<wd>{_alt(_WEEKDAYS)}))"
    rf"|(?P<dayn>(?:the )?day (?P<dn>\d+|{_HW}))"
    rf"|(?P<dayord>the (?P<do>{_alt(_ORD_DAYS)}) day)"
    r"|(?P<iso>(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}))"
    rf"|(?P<dmy>(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?(?: of)? (?P<mon>{_alt(_MONTHS)}))"
    rf"|(?P<mdy>(?P<mon2>{_alt(_MONTHS)}) (?P<dd2>\d{{1,2}})(?:st|nd|rd|th)?)"
    rf"|(?P<part>(?:this |that |the |in the |during the |at )?(?P<pw>{_alt(DAY_PARTS)})(?: ?time)?)"
    r")\b"
)
# "at 9", "since two", "around 3": a bare hour after a time preposition (not "at 2 objects")
_BARE = re.compile(
    rf"\b(?P<prep>at|around|about|since|after|before|until|till|by|from|between|and|to) (?P<h>\d{{1,2}}|{_HW})"
    rf"(?: (?P<m>{_MW}|\d{{2}}))?(?=$| ,| on| in| yesterday| today| this| and| to| or| that| when| where| did| have"
    r"| were| was| you| i )"
)
_TO_PLACE = re.compile(r"\b(?:go|me|us|it|them|back|way|over|up|next|close|closest|nearest|near|get|come|walk|"
                       r"head|drive|navigate|point|right|straight)\s*$")
_PREP = re.compile(
    r"(?:^| )(?P<prep>at around|at about|around about|at|around|about|approximately|roughly|near|close to|"
    r"since|after|from|starting at|before|until|till|by|up to|up until|prior to|between|during|in|on|within|"
    r"over|for|and|to) ?$"
)
_CONNECT = re.compile(r"^(?: |,|on|at|in|the|of|that|this|around|about)*$")


@dataclass(frozen=True)
class TimeContext:
    """Where times are read: ``tz`` the local zone; ``now_ns`` the question time; ``first_ns``/``last_ns``
    the memory's time span (day 1 = the local date of ``first_ns``)."""

    tz: datetime.tzinfo
    now_ns: int
    first_ns: int
    last_ns: int

    def local(self, t_ns: int) -> datetime.datetime:
        return (_EPOCH + datetime.timedelta(microseconds=t_ns // 1000)).astimezone(self.tz)

    @property
    def today(self) -> datetime.date:
        return self.local(self.now_ns).date()

    @property
    def day1(self) -> datetime.date:
        return self.local(self.first_ns or self.now_ns).date()

    def at(self, day: datetime.date, hours: float) -> int:
        """ns of ``hours`` after local midnight of ``day`` (24 = the next midnight; DST-correct wall clock)."""
        whole = int(hours)
        extra = datetime.timedelta(seconds=round((hours - whole) * 3600))
        if whole >= 24:
            day, whole = day + datetime.timedelta(days=whole // 24), whole % 24
        dt = datetime.datetime(day.year, day.month, day.day, whole, tzinfo=self.tz) + extra
        delta = dt.astimezone(_UTC) - _EPOCH
        return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


@dataclass(frozen=True)
class TimeParse:
    """The time found (None: none), the text with it replaced by a neutral phrase, and an error when a
    time-like phrase could not be read ("at 25:00")."""

    spec: Optional[TimeSpec]
    text: str
    error: str = ""


@dataclass
class _Atom:
    start: int
    end: int
    kind: str  # clock | day | part | ago | last | recent
    hours: Optional[float] = None  # clock: hours after midnight
    ambiguous: bool = False  # clock: am/pm not said
    day: Optional[datetime.date] = None
    part: Optional[tuple[float, float]] = None
    window: Optional[tuple[int, int]] = None
    point: Optional[int] = None
    error: str = ""
    on_ok: bool = False  # "on" before it is a time preposition ("on Monday", "on day 2"), not "put it on"


def _num(word: Optional[str]) -> float:
    if not word:
        return 1.0
    w = word.strip()
    if w.isdigit():
        return float(w)
    if w == "half an":
        return 0.5
    if w in ("couple of", "a couple of"):
        return 2.0
    if w in ("few", "a few", "several"):
        return 3.0
    return float(NUMBER_WORDS.get(w, 1))


def _unit_s(unit: str) -> float:
    u = unit.rstrip("s")
    return {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400}.get(u, 60)


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else _HOUR_WORDS[word]


def _apply_ampm(h: int, ap: str) -> tuple[int, bool]:
    """(24 h hour, ambiguous) from an hour and what was said after it."""
    if ap in ("pm", "in the afternoon", "in the evening", "at night"):
        return (h + 12 if h < 12 else h), False
    if ap in ("am", "in the morning"):
        return (0 if h == 12 else h), False
    return h, 1 <= h <= 11


def _atom(m: re.Match[str], ctx: TimeContext) -> _Atom:
    a = _Atom(m.start(), m.end(), "clock")
    g = m.groupdict()
    if g["spoken"]:
        mins = _MIN_WORDS.get(g["sm"], None)
        mins = int(g["sm"]) if mins is None else mins
        hw = g["sh"]
        ap = g["sap"] or ""
        if hw in ("noon", "midnight"):
            total = (12 * 60 if hw == "noon" else 0) + (mins if g["srel"] in ("past", "after") else -mins)
            a.hours, a.ambiguous = (total % 1440) / 60.0, False
        else:  # on a 12-hour dial first ("ten to twelve" = 11:50), then morning / afternoon
            total12 = ((_hour(hw) % 12) * 60 + (mins if g["srel"] in ("past", "after") else -mins)) % 720
            pm = ap in ("pm", "in the afternoon", "in the evening", "at night")
            a.hours = (total12 + (720 if pm else 0)) / 60.0
            a.ambiguous = not ap
    elif g["hhmm"]:
        h, mi, s = int(g["h"]), int(g["m"]), int(g["s"] or 0)
        if h > 24 or mi > 59 or s > 59:
            a.error = f"{m.group(0)!r} is not a clock time (hours 0-23, minutes 0-59)"
            return a
        ap = g["ap"] or ""
        if ap in ("am", "pm") and not 1 <= h <= 12:
            a.error = f"{m.group(0)!r} mixes a 24-hour time with {ap}"
            return a
        h, amb = _apply_ampm(h, ap if ap != "oclock" else "")
        a.hours, a.ambiguous = h + mi / 60.0 + s / 3600.0, amb and not g["h"].startswith("0")
    elif g["hap"]:
        h = _hour(g["h2"])
        if h > 12 and g["ap2"] in ("am", "pm"):
            a.error = f"{m.group(0)!r} is not a clock time"
            return a
        ap = g["ap2b"] or (g["ap2"] if g["ap2"] != "oclock" else "")
        h, amb = _apply_ampm(h, ap)
        a.hours, a.ambiguous = float(h), amb
    elif g["named"]:
        a.hours = 0.0 if g["named"] == "midnight" else 12.0
    elif g["ago"]:
        a.kind = "ago"
        n = _num(g["an"]) + (0.5 if "and a half" in g["ago"] else 0.0)
        a.point = ctx.now_ns - int(n * _unit_s(g["au"]) * NS)
    elif g["momentago"]:
        a.kind = "ago"
        a.point = ctx.now_ns - (60 if "while" not in g["momentago"] and "bit" not in g["momentago"] else 900) * NS
    elif g["last"]:
        a.kind = "last"
        n = _num(g["ln"]) if g["ln"] else 1.0
        a.window = (ctx.now_ns - int(n * _unit_s(g["lu"]) * NS), ctx.now_ns)
    elif g["recent"]:
        a.kind = "last"
        w = g["recent"]
        a.window = ((ctx.at(ctx.today, 0.0), ctx.now_ns) if w.startswith("earlier")
                    else (ctx.now_ns - 2 * 3600 * NS, ctx.now_ns))
    elif g["dby"]:
        a.kind, a.day = "day", ctx.today - datetime.timedelta(days=2)
    elif g["lastnight"]:
        a.kind = "day"
        a.day = ctx.today - datetime.timedelta(days=1) if g["lastnight"] == "last night" else ctx.today
        a.part = DAY_PARTS["evening"] if g["lastnight"] == "tonight" else (18.0, 24.0)
    elif g["rel_day"]:
        a.kind = "day"
        a.day = ctx.today - datetime.timedelta(days=1 if g["rel_day"] == "yesterday" else 0)
    elif g["wday"]:
        a.kind, a.on_ok = "day", True
        want = _WEEKDAYS.index(g["wd"])
        back = (ctx.today.weekday() - want) % 7
        if back == 0 and (g["wlast"] or "").strip() in ("last", "this past"):
            back = 7
        a.day = ctx.today - datetime.timedelta(days=back)
    elif g["dayn"]:
        a.kind, a.on_ok = "day", True
        n = int(g["dn"]) if g["dn"].isdigit() else _HOUR_WORDS[g["dn"]]
        if n < 1:
            a.error = "days count from 1 (day 1 is the first day of my memory)"
        a.day = ctx.day1 + datetime.timedelta(days=n - 1)
    elif g["dayord"]:
        a.kind, a.on_ok = "day", True
        n = _ORD_DAYS[g["do"]]
        a.day = ctx.today - datetime.timedelta(days=1) if n < 0 else ctx.day1 + datetime.timedelta(days=n - 1)
    elif g["iso"] or g["dmy"] or g["mdy"]:
        a.kind, a.on_ok = "day", True
        try:
            if g["iso"]:
                a.day = datetime.date(int(g["y"]), int(g["mo"]), int(g["d"]))
            else:
                mon = _MONTHS.index(g["mon"] or g["mon2"]) + 1
                dd = int(g["dd"] or g["dd2"])
                year = ctx.today.year if (mon, dd) <= (ctx.today.month, ctx.today.day) else ctx.today.year - 1
                a.day = datetime.date(year, mon, dd)
        except ValueError:
            a.error = f"{m.group(0)!r} is not a date"
    elif g["part"]:
        a.kind = "part"
        a.part = DAY_PARTS[g["pw"]]
        if g["part"].startswith("this "):
            a.day = ctx.today
    return a


def _bare_atoms(text: str, taken: list[tuple[int, int]]) -> list[_Atom]:
    out = []
    for m in _BARE.finditer(text):
        s, e = m.start("h"), m.end()
        if any(s < b and e > a for a, b in taken):
            continue
        if m.group("prep") in ("to", "by") and not m.group("h").isdigit() and _TO_PLACE.search(text[: m.start()]):
            continue  # "guide me to one", "go to one": a thing, not one o'clock
        h = _hour(m.group("h"))
        if h > 24:
            continue
        mins = m.group("m")
        mi = (_MIN_WORDS.get(mins, None) if mins else 0)
        mi = int(mins) if mi is None and mins else (mi or 0)
        amb = 1 <= h <= 11 and not m.group("h").startswith("0")
        out.append(_Atom(s, e, "clock", hours=h + mi / 60.0, ambiguous=amb))
    return out


def _resolve_clock(day: datetime.date, atom: _Atom, ctx: TimeContext, explicit_day: bool,
                   part: Optional[tuple[float, float]] = None) -> int:
    assert atom.hours is not None
    if not atom.ambiguous:
        return ctx.at(day, atom.hours)
    if part is not None:  # "this afternoon at 2:05", "on Monday evening at 7:15": the part says am or pm
        for h in (atom.hours, atom.hours + 12):
            if part[0] <= h < max(part[1], part[0] + 0.01) or (part[1] >= 24.0 and h >= part[0]):
                return ctx.at(day, h)
    am, pm = ctx.at(day, atom.hours), ctx.at(day, atom.hours + 12)
    hi = max(ctx.now_ns, ctx.last_ns)
    inside = [t for t in (am, pm) if ctx.first_ns <= t <= hi]
    if len(inside) == 1:
        return inside[0]
    return am if atom.hours >= 7 else pm


def _group_spec(atoms: list[_Atom], prep: str, ctx: TimeContext, text: str) -> TimeSpec:
    day = next((a.day for a in atoms if a.day is not None), None)
    explicit_day = day is not None
    day = day or ctx.today
    clock = next((a for a in atoms if a.kind == "clock"), None)
    part = next((a.part for a in atoms if a.part is not None), None)
    rel = next((a for a in atoms if a.kind in ("ago", "last")), None)
    start_of_memory = ctx.first_ns or ctx.at(day, 0.0)
    tol = 300.0 if prep not in ("around", "about", "approximately", "roughly", "near", "close to", "at around",
                                "at about", "around about") else 900.0
    if rel is not None and rel.point is not None:
        if prep in ("since", "after", "from", "starting at"):
            return TimeSpec(text, t0_ns=rel.point, t1_ns=ctx.now_ns)
        if prep in ("before", "until", "till", "by", "up to", "up until", "prior to"):
            return TimeSpec(text, t0_ns=start_of_memory, t1_ns=rel.point)
        return TimeSpec(text, at_ns=rel.point, tolerance_s=max(tol, 0.15 * (ctx.now_ns - rel.point) / NS))
    if rel is not None and rel.window is not None:
        return TimeSpec(text, t0_ns=rel.window[0], t1_ns=rel.window[1])
    if clock is not None:
        t = _resolve_clock(day, clock, ctx, explicit_day, part)
        if not explicit_day and t > ctx.now_ns:  # "at 21:13" asked at 07:00: yesterday evening, not tonight
            t = _resolve_clock(day - datetime.timedelta(days=1), clock, ctx, explicit_day, part)
        if prep in ("since", "after", "from", "starting at"):
            return TimeSpec(text, t0_ns=t, t1_ns=ctx.now_ns if ctx.now_ns >= t else t + 86400 * NS)
        if prep in ("before", "until", "till", "by", "up to", "up until", "prior to"):
            return TimeSpec(text, t0_ns=min(start_of_memory, t), t1_ns=t)
        return TimeSpec(text, at_ns=t, tolerance_s=tol)
    if part is not None:
        a, b = ctx.at(day, part[0]), ctx.at(day, part[1])
        if prep in ("since", "from", "starting at"):
            return TimeSpec(text, t0_ns=a, t1_ns=max(ctx.now_ns, b))
        if prep == "after":
            return TimeSpec(text, t0_ns=b, t1_ns=max(ctx.now_ns, b))
        if prep in ("before", "prior to"):
            return TimeSpec(text, t0_ns=min(start_of_memory, a), t1_ns=a)
        if prep in ("until", "till", "by", "up to", "up until"):
            return TimeSpec(text, t0_ns=min(start_of_memory, a), t1_ns=b)
        return TimeSpec(text, t0_ns=a, t1_ns=b)
    a, b = ctx.at(day, 0.0), ctx.at(day, 24.0)
    if prep in ("since", "after", "from", "starting at"):
        return TimeSpec(text, t0_ns=a if prep != "after" else b, t1_ns=max(ctx.now_ns, b))
    if prep in ("before", "until", "till", "by", "prior to"):
        return TimeSpec(text, t0_ns=min(start_of_memory, a), t1_ns=a if prep != "until" else b)
    return TimeSpec(text, t0_ns=a, t1_ns=b)


_NEUTRAL = {"point": "at that time", "since": "since then", "before": "before then", "window": "during that time"}


def extract_time(text: str, ctx: TimeContext) -> TimeParse:
    """Find the (first) time expression in a normalised question; see the module docstring."""
    atoms: list[_Atom] = []
    for m in _ATOMS.finditer(text):
        atoms.append(_atom(m, ctx))
    atoms += _bare_atoms(text, [(a.start, a.end) for a in atoms])
    atoms.sort(key=lambda a: a.start)
    errors = [a.error for a in atoms if a.error]
    if errors:
        return TimeParse(None, text, errors[0])
    if not atoms:
        return TimeParse(None, text)
    # group atoms separated only by connector words
    groups: list[list[_Atom]] = [[atoms[0]]]
    for a in atoms[1:]:
        gap = text[groups[-1][-1].end : a.start]
        if _CONNECT.match(gap.strip()) and "," not in gap.strip(" ,") and not re.search(r"\band\b", gap):
            groups[-1].append(a)
        else:
            groups.append([a])
    first = groups[0]
    start, end = first[0].start, first[-1].end
    pm = _PREP.search(text[:start])
    prep = pm.group("prep") if pm else ""
    if prep == "on" and not first[0].on_ok:  # "what did you put on" + "this morning": the "on" is not the time's
        pm, prep = None, ""
    if pm:
        start = pm.start("prep")
    if prep in ("between", "from") and len(groups) > 1:
        sep = text[first[-1].end : groups[1][0].start]
        if re.fullmatch(r"\s*(?:and|to|till|until|-)\s*", sep):
            sa = _group_spec(first, "at", ctx, text[start : first[-1].end].strip())
            sb = _group_spec(groups[1], "at", ctx, text[groups[1][0].start : groups[1][-1].end].strip())
            end = groups[1][-1].end
            lo_a = sa.at_ns if sa.at_ns is not None else sa.bounds()[0]
            hi_b = sb.at_ns if sb.at_ns is not None else sb.bounds()[1]
            spec = TimeSpec(text[start:end].strip(), t0_ns=min(lo_a, hi_b), t1_ns=max(lo_a, hi_b))
            return TimeParse(spec, _splice(text, start, end, "during that time"))
    if prep in ("between", "and", "to"):
        prep = "at"
    said = text[start:end].strip()
    spec = _group_spec(first, prep, ctx, said)
    if spec.is_point:
        role = "point"
    elif prep in ("since", "after", "from", "starting at"):
        role = "since"
    elif prep in ("before", "until", "till", "by", "up to", "up until", "prior to"):
        role = "before"
    else:
        role = "window"
    return TimeParse(spec, _splice(text, start, end, _NEUTRAL[role]))


def _splice(text: str, start: int, end: int, neutral: str) -> str:
    return re.sub(r"\s+", " ", f"{text[:start]} {neutral} {text[end:]}").strip()
