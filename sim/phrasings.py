"""Phrasing files: other ways of asking the suite's questions (``robomem-eval --phrasings FILE``).

A phrasing file is JSON: a list of entries ``{"family": "<TaskFamily value>", "template": "<the template text,
exactly as in robomem_sim.tasks.TEMPLATES>", "phrasings": ["...{object}...", ...]}``. Every task generated from
that template is asked in its template text and again in each phrasing, with the same placeholder values and
the same expected answer. A phrasing may use the template's own placeholders and the derived ones of
:mod:`robomem_sim.wording` (``{time_12h}``, ``{time_spoken}``, ``{day}``, ``{object_short}``,
``{objects_short}``, ``{category}`` / ``{categories}``, ``{time_short}``, ``{day_part}``); each of the template's
placeholders must be said, itself or through one of its derived forms (``{time}`` through ``{time_12h}`` or
``{time_spoken}`` together with ``{day}`` or ``{day_part}``, or ``{time_short}`` with ``{day_part}``).
Templates without an entry are asked in the template text only.

:func:`load_phrasings` validates everything up front and raises :class:`~robomem.errors.SimError` naming the
entry, the phrasing and what to change: malformed JSON (line and column), a wrong structure (not a list, no
entries, a key missing, unknown or given twice), an unknown family or template (with the closest template), a
placeholder the template does not have, a template placeholder that is not said, malformed braces, repeats.
Any file that passes is asked without error: every phrasing can be filled for every task of its template.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union

from robomem_sim.tasks import TEMPLATES, template_placeholders
from robomem_sim.types import Task, TaskFamily
from robomem_sim.wording import DERIVED

from robomem.errors import SimError

__all__ = ["DEFAULT_PHRASINGS", "TEMPLATE_PHRASING", "PhrasingSet", "load_phrasings", "phrase_task", "variants"]

DEFAULT_PHRASINGS = str(Path(__file__).resolve().parent / "phrasings" / "dev.json")
"""The development phrasing set shipped with the harness (``sim/phrasings/dev.json``)."""

TEMPLATE_PHRASING = "templates"
"""The ``phrasing`` value of tasks asked in their template text."""

_KEYS = ("family", "template", "phrasings")


@dataclass(frozen=True)
class PhrasingSet:
    """A validated phrasing file. ``name``: the file's stem (the ``phrasing`` value of its results);
    ``entries``: (family, template text) -> phrasings; ``sha256`` of the file's bytes."""

    name: str
    path: str
    sha256: str
    entries: Mapping[tuple[TaskFamily, str], tuple[str, ...]]

    def phrasings_for(self, task: Task) -> tuple[str, ...]:
        template = TEMPLATES[task.family][int(task.meta["template"])]  # type: ignore[call-overload]
        return self.entries.get((task.family, template), ())

    @property
    def n_phrasings(self) -> int:
        return sum(len(v) for v in self.entries.values())


def _cover_sets(placeholder: str) -> list[set[str]]:
    """The ways a template placeholder may be said in a phrasing (any one set, all of its members)."""
    if placeholder == "time":
        return [{"time"}] + [{t, d} for t in ("time_12h", "time_spoken") for d in ("day", "day_part")] + [
            {"time_short", "day_part"}]
    derived = [d for d, src in DERIVED.items() if src == placeholder]
    return [{placeholder}] + [{d} for d in derived]


def _allowed(template_names: list[str]) -> set[str]:
    out = set(template_names)
    out.update(d for d, src in DERIVED.items() if src in template_names)
    return out


def _placeholders(text: str, where: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise SimError(f"{where}: malformed placeholder braces ({exc}); write placeholders as {{name}} and a "
                       "literal brace as {{ or }}") from None
    names = []
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise SimError(f"{where}: '{{{name}}}' is not a placeholder name (letters, digits, underscores)")
        if spec or conv:
            raise SimError(f"{where}: placeholder {{{name}}} has a format spec or conversion; write just {{{name}}}")
        names.append(name)
    return names


def _closest(template: str, family: TaskFamily) -> str:
    mine = TEMPLATES[family]
    close = difflib.get_close_matches(template, mine, n=1, cutoff=0.0)
    hint = f" the closest template of {family.value!r} is {close[0]!r}" if close else ""
    elsewhere = [f.value for f, ts in TEMPLATES.items() if template in ts and f is not family]
    if elsewhere:
        hint += f"; this exact text is a template of {', '.join(elsewhere)}"
    return hint


def validate_entries(data: Any, where: str) -> dict[tuple[TaskFamily, str], tuple[str, ...]]:
    """Validate parsed JSON ``data`` (see the module docstring); ``where`` names the file in errors."""
    if not isinstance(data, list):
        raise SimError(f"{where}: the top level must be a JSON list of entries "
                       '{"family": ..., "template": ..., "phrasings": [...]}, got ' + type(data).__name__)
    if not data:
        raise SimError(f"{where}: the file lists no entries; give at least one "
                       '{"family": ..., "template": ..., "phrasings": [...]} (or run with --phrasings none)')
    families = ", ".join(f.value for f in TaskFamily)
    out: dict[tuple[TaskFamily, str], tuple[str, ...]] = {}
    for k, entry in enumerate(data):
        at = f"{where}: entry {k}"
        if not isinstance(entry, dict):
            raise SimError(f"{at} must be an object with keys {', '.join(_KEYS)}, got {type(entry).__name__}")
        missing = [x for x in _KEYS if x not in entry]
        extra = sorted(set(entry) - set(_KEYS))
        if missing or extra:
            raise SimError(f"{at}: " + "; ".join(
                ([f"missing key(s) {missing}"] if missing else []) + ([f"unknown key(s) {extra}"] if extra else [])
            ) + f" (an entry has exactly {', '.join(_KEYS)})")
        fam_v, template, phrasings = entry["family"], entry["template"], entry["phrasings"]
        try:
            family = TaskFamily(fam_v)
        except (ValueError, TypeError):
            raise SimError(f"{at}: unknown family {fam_v!r}; families are {families}") from None
        if not isinstance(template, str) or template not in TEMPLATES[family]:
            hint = _closest(template, family) if isinstance(template, str) else ""
            raise SimError(f"{at}: unknown template {template!r} for family {family.value!r} (copy the template "
                           f"text exactly, final full stop included;{hint})")
        at = f"{at} ({template!r})"
        if (family, template) in out:
            raise SimError(f"{at}: this template has another entry already; put all its phrasings in one entry")
        if not isinstance(phrasings, list) or not phrasings:
            raise SimError(f"{at}: 'phrasings' must be a non-empty list of strings")
        names_t = template_placeholders(template)
        allowed = _allowed(names_t)
        seen: set[str] = set()
        for j, ph in enumerate(phrasings):
            pat = f"{at}, phrasing {j}"
            if not isinstance(ph, str) or not ph.strip():
                raise SimError(f"{pat}: must be a non-empty string, got {ph!r}")
            if ph in seen:
                raise SimError(f"{pat}: {ph!r} is listed twice")
            if ph == template:
                raise SimError(f"{pat}: repeats the template text (it is always asked anyway)")
            seen.add(ph)
            used = set(_placeholders(ph, pat))
            bad = sorted(used - allowed)
            if bad:
                extra_d = sorted(allowed - set(names_t))
                raise SimError(
                    f"{pat}: uses {', '.join('{' + b + '}' for b in bad)}, which the template does not have; "
                    f"it has {', '.join('{' + n + '}' for n in names_t) or 'no placeholders'}"
                    + (f" (and the derived {', '.join('{' + d + '}' for d in extra_d)})" if extra_d else ""))
            for name in names_t:
                if not any(cover <= used for cover in _cover_sets(name)):
                    ways = " or ".join("+".join("{" + x + "}" for x in sorted(cs)) for cs in _cover_sets(name))
                    raise SimError(f"{pat}: does not say the template's placeholder {{{name}}} (use {ways})")
        out[(family, template)] = tuple(phrasings)
    return out


class _RepeatedKeyError(Exception):
    pass


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKeyError(key)
        out[key] = value
    return out


def load_phrasings(path: Union[str, Path]) -> PhrasingSet:
    """Read and validate a phrasing file (module docstring). Raises SimError with what to fix."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SimError(f"cannot read phrasing file {str(p)!r}: {exc.strerror or exc}") from None
    try:  # utf-8-sig: a byte-order mark some editors write is fine
        data = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_no_repeated_keys)
    except UnicodeDecodeError as exc:
        raise SimError(f"{p}: not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise SimError(f"{p}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except _RepeatedKeyError as exc:
        raise SimError(f"{p}: an entry gives {str(exc)!r} twice (JSON would keep only the last one); "
                       "put all its values in one key") from None
    entries = validate_entries(data, str(p))
    return PhrasingSet(p.stem, str(p), hashlib.sha256(raw).hexdigest(), entries)


def _values(task: Task) -> dict[str, str]:
    return {str(k): str(v) for k, v in task.meta.items() if not str(k).startswith("_") and k != "template"}


def phrase_task(task: Task, phrasing: str) -> Task:
    """``task`` asked in ``phrasing`` (same values, same expected answer); ``asked`` follows the wording used."""
    values = _values(task)
    try:
        text = phrasing.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise SimError(f"phrasing {phrasing!r} cannot be filled for task {task.task_id} ({exc}); "
                       "was it validated with load_phrasings?") from None
    asked = task.asked
    if asked:
        used = set(_placeholders(phrasing, "phrasing"))
        source = next((k for k in ("object", "category", "categories") if values.get(k) == asked), None)
        if source is not None and source not in used:
            alt = next((d for d, src in DERIVED.items() if src == source and d in used), None)
            if alt is not None:
                asked = values.get(alt, asked)
    control = None if task.control is None else phrase_task(task.control, phrasing)
    return dataclasses.replace(task, text=text, asked=asked, control=control)


def variants(task: Task, phrasings: PhrasingSet | None) -> list[tuple[str, int, Task]]:
    """(phrasing set name, index, task) for the template text (``"templates"``, -1) and every phrasing."""
    out = [(TEMPLATE_PHRASING, -1, task)]
    if phrasings is not None:
        out.extend((phrasings.name, j, phrase_task(task, ph)) for j, ph in enumerate(phrasings.phrasings_for(task)))
    return out
