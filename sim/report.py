"""Aggregating ``robomem-eval`` task records into results rows, tables, a Markdown report and a plot.

A *column* is one agent in one perception mode (``robomem@noisy``; ``no_memory@none``). Rows ("categories")
are the task families present, then ``multi-goal`` (both multi-goal families), ``moved objects`` (tasks about
objects that moved) and ``overall``. Per column, phrasing set ("templates" or a phrasing file's stem) and
category: ``n`` (asked tasks: a task counts once per phrasing), ``success_rate`` (FindingDory's high-level
success, HL-SR), ``spl``, ``distance_success_rate`` / ``coverage_success_rate``, ``strict_success_rate`` (the
stricter FindingDory rules, see :mod:`robomem_sim.scoring`), ``failures`` and ``failure_modes``.

``summary.json``: ``results`` - one row {agent, perception, phrasing, category, n, success_rate, spl} per
non-empty cell; ``table`` - the full cells; ``chance`` - the chance level per category: per task the memoryless
strategy that does best on the other tasks of its template (:class:`TaskChance`): a random answer of the type
(:mod:`robomem_sim.chance`; ``chance_random``), the template's most frequent answer over the run's other tasks
(``chance_prior``, :func:`task_chance`), staying where the robot is (``chance_here``), a random piece of
furniture (``chance_map``), a coin flip on absence tasks (``chance_coin``);
``exclusions`` - dropped cases per reason;
``targets`` - checks per perception mode (``uniform_keyframes`` at least 25 points below robomem; ``no_memory``
not above chance); ``timings`` (``wall_seconds``). The report's headline is the ``noisy`` mode (else the first
mode run).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from robomem_sim.report_categories import (
    CATEGORY_MOVED,
    CATEGORY_MULTI,
    CATEGORY_OVERALL,
    HEADLINE_PERCEPTION,
    TEMPLATES,
    UNIFORM_GAP,
    _in_category,
    categories_of,
    column,
)
from robomem_sim.task_chance import CHANCE_STRATEGIES, TaskChance, chance_levels, task_chance

__all__ = [
    "CATEGORY_MOVED",
    "CATEGORY_MULTI",
    "CATEGORY_OVERALL",
    "CHANCE_STRATEGIES",
    "HEADLINE_PERCEPTION",
    "aggregate",
    "categories_of",
    "column",
    "format_console",
    "format_markdown_table",
    "plot_success",
    "results_rows",
    "summarize_run",
    "TaskChance",
    "task_chance",
    "chance_levels",
    "target_checks",
    "write_report",
]



def _rate(rows: Sequence[Mapping[str, Any]], key: str) -> Optional[float]:
    return sum(float(bool(r.get(key, r["success"]))) for r in rows) / len(rows) if rows else None


def _cell(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    modes: dict[str, int] = {}
    for r in rows:
        if not r["success"]:
            modes[str(r["failure_mode"])] = modes.get(str(r["failure_mode"]), 0) + 1
    return {
        "n": n,
        "success_rate": _rate(rows, "success"),
        "distance_success_rate": _rate(rows, "distance_success"),
        "coverage_success_rate": _rate(rows, "coverage_success"),
        "strict_success_rate": _rate(rows, "strict_success"),
        "spl": math.fsum(float(r["spl"]) for r in rows) / n if n else None,  # fsum: same in any record order
        "failures": sum(1 for r in rows if not r["success"]),
        "failure_modes": dict(sorted(modes.items())),
    }


def _columns(records: Sequence[Mapping[str, Any]], agents: Sequence[str]) -> list[tuple[str, str]]:
    """(agent, perception) pairs present, perception modes in first-seen order, agents in ``agents`` order."""
    modes = list(dict.fromkeys(str(r.get("perception", "gt_ids")) for r in records))
    present = {(str(r["agent"]), str(r.get("perception", "gt_ids"))) for r in records}
    return [(a, m) for m in modes for a in agents if (a, m) in present]


def _phrasings(records: Sequence[Mapping[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(str(r.get("phrasing", TEMPLATES)) for r in records))
    return ([TEMPLATES] if TEMPLATES in names else []) + [n for n in names if n != TEMPLATES]


def aggregate(records: Sequence[Mapping[str, Any]], agents: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{column: {phrasing: {category: cell}}} (see the module docstring)."""
    cats = categories_of(records)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        key = (str(r["agent"]), str(r.get("perception", "gt_ids")), str(r.get("phrasing", TEMPLATES)))
        groups.setdefault(key, []).append(r)
    for agent, mode in _columns(records, agents):
        col = out.setdefault(column(agent, mode), {})
        for ph in _phrasings(records):
            mine = groups.get((agent, mode, ph), [])
            if mine:
                col[ph] = {c: _cell([r for r in mine if _in_category(r, c)]) for c in cats}
    return out


def results_rows(table: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]]) -> list[dict[str, Any]]:
    """The machine-readable rows of ``summary.json`` (only non-empty cells)."""
    rows = []
    for col, by_phrasing in table.items():
        agent, _, perception = col.partition("@")
        for ph, cells in by_phrasing.items():
            for cat, c in cells.items():
                if c["n"]:
                    rows.append({"agent": agent, "perception": perception, "phrasing": ph, "category": cat,
                                 "n": c["n"], "success_rate": c["success_rate"], "spl": c["spl"]})
    return rows




def _sr(table: Mapping[str, Any], col: str, cat: str, ph: str = TEMPLATES) -> Optional[float]:
    c = table.get(col, {}).get(ph, {}).get(cat)
    return None if c is None or not c["n"] else c["success_rate"]


def target_checks(table: Mapping[str, Any], chance: Mapping[str, Optional[float]],
                  chance_random: Optional[Mapping[str, Optional[float]]] = None) -> list[dict[str, Any]]:
    """Per perception mode: robomem - uniform_keyframes >= 25 points overall; robomem >= 2x static_map on
    moved objects; no_memory not above the chance level of any category; random_guess (if run) within two
    binomial errors of it."""
    checks: list[dict[str, Any]] = []
    modes = list(dict.fromkeys(c.partition("@")[2] for c in table))
    for m in modes:
        rm = _sr(table, column("robomem", m), CATEGORY_OVERALL)
        uk = _sr(table, column("uniform_keyframes", m), CATEGORY_OVERALL)
        if rm is not None and uk is not None:
            checks.append({"name": f"{m}: uniform_keyframes >= 25 points below robomem", "value": rm - uk,
                           "target": UNIFORM_GAP, "met": rm - uk >= UNIFORM_GAP - 1e-9, "robomem": rm,
                           "uniform_keyframes": uk})
        mv = _sr(table, column("robomem", m), CATEGORY_MOVED)
        st = _sr(table, column("static_map", m), CATEGORY_MOVED)
        if mv is not None and st is not None:
            ratio = None if st == 0 else mv / st
            checks.append({"name": f"{m}: robomem >= 2x static_map on moved-object tasks", "value": ratio,
                           "target": 2.0, "met": (mv > 0) if ratio is None else ratio >= 2.0, "robomem": mv,
                           "static_map": st})
    for agent, sigmas in (("no_memory", 0.0), ("random_guess", 2.0)):
        cells = table.get(column(agent, "none"), {}).get(TEMPLATES)
        if not cells:
            continue
        above = []
        levels = chance if sigmas == 0 or chance_random is None else chance_random
        for cat, cell in cells.items():
            p = levels.get(cat)
            if not cell["n"] or p is None or cell["success_rate"] is None:
                continue
            margin = sigmas * math.sqrt(max(p * (1 - p), 1e-12) / cell["n"]) + 1e-9
            if cell["success_rate"] > p + margin:
                above.append(f"{cat} ({100 * cell['success_rate']:.1f} % vs chance {100 * p:.1f} %)")
        name = (f"{agent} not above chance in any category" if sigmas == 0 else
                f"{agent} within 2 binomial errors of the random-answer chance in every category")
        checks.append({"name": name, "value": len(above), "target": 0, "met": not above, "above": above})
    return checks


def summarize_run(
    records: Sequence[Mapping[str, Any]],
    metas: Sequence[Mapping[str, Any]],
    agents: Sequence[str],
    config: Mapping[str, Any],
    wall_s: Optional[float] = None,
) -> dict[str, Any]:
    """Everything summary.json holds (see the module docstring)."""
    table = aggregate(records, agents)
    chance = chance_levels(records)
    frames = sum(int(m.get("frames", 0)) for m in metas)
    keys = sorted({k for m in metas for k in m.get("observe_seconds", {})})
    observe = {k: round(sum(float(m.get("observe_seconds", {}).get(k, 0.0)) for m in metas), 3) for k in keys}
    answer = {k: round(sum(float(m.get("answer_seconds", {}).get(k, 0.0)) for m in metas), 3) for k in keys}
    parts: dict[str, float] = {}
    for m in metas:
        for k, v in m.get("seconds", {}).items():
            parts[k] = round(parts.get(k, 0.0) + float(v), 3)
    exclusions: dict[str, int] = {}
    for m in metas:
        for k, v in m.get("exclusions", {}).items():
            exclusions[k] = exclusions.get(k, 0) + int(v)
    first_col = next(iter(table), None)
    timings: dict[str, Any] = {
        "episodes": len(metas),
        "frames": frames,
        "tasks": sum(int(m.get("tasks", 0)) for m in metas),
        "task_variants": sum(int(m.get("task_variants", m.get("tasks", 0))) for m in metas),
        "observe_seconds": observe,
        "answer_seconds": answer,
        "ms_per_frame": {k: (round(1000 * observe[k] / frames, 2) if frames else None) for k in keys},
        "episode_seconds": parts.get("total", 0.0),
        "episode_parts_seconds": parts,
        "records_per_column": (sum(1 for r in records if column(str(r["agent"]), str(r.get("perception", "gt_ids")))
                                   == first_col) if first_col else 0),
    }
    if wall_s is not None:
        timings["wall_seconds"] = round(wall_s, 3)
    perceptions = list(dict.fromkeys(c.partition("@")[2] for c in table if not c.endswith("@none")))
    return {
        "config": dict(config),
        "agents": list(agents),
        "perception": perceptions,
        "headline_perception": HEADLINE_PERCEPTION if HEADLINE_PERCEPTION in perceptions else (
            perceptions[0] if perceptions else None),
        "phrasings": _phrasings(records),
        "columns": list(table),
        "categories": categories_of(records),
        "results": results_rows(table),
        "table": table,
        "chance": chance,
        **{f"chance_{name}": chance_levels(records, which=name) for name in CHANCE_STRATEGIES},
        "exclusions": dict(sorted(exclusions.items(), key=lambda kv: (-kv[1], kv[0]))),
        "episodes_info": {
            "days": sorted({int(m.get("days", 0)) for m in metas}),
            "interactions": sum(int(m.get("interactions", 0)) for m in metas),
            "household_moves": sum(int(m.get("household_moves", 0)) for m in metas),
            "household_moves_while_robot_active": sum(int(m.get("household_moves_while_robot_active", 0))
                                                      for m in metas),
            "action_events": sum(int(m.get("action_events", 0)) for m in metas),
        },
        "targets": target_checks(table, chance, chance_levels(records, which=1)),
        "timings": timings,
    }


# ============================================================================================ formatting


def _pct(x: Optional[float]) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _num(x: Optional[float]) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _mode_columns(summary: Mapping[str, Any], mode: Optional[str]) -> list[str]:
    cols = [c for c in summary["columns"] if c.partition("@")[2] == mode]
    return cols + [c for c in summary["columns"] if c.endswith("@none")]


def format_markdown_table(summary: Mapping[str, Any], metric: str = "success_rate", mode: Optional[str] = None,
                          phrasing: str = TEMPLATES, with_chance: bool = False) -> str:
    """A Markdown table: one row per category, one column per agent of perception ``mode`` (default: the
    headline) plus the agents without perception, cells ``metric`` (rates in %)."""
    mode = mode or summary.get("headline_perception")
    cols = _mode_columns(summary, mode)
    table = summary["table"]
    fmt = _pct if metric.endswith("rate") else (_num if metric == "spl" else (lambda v: str(v)))
    names = [c.partition("@")[0] for c in cols]
    head = "| category | n | " + " | ".join(names) + (" | chance |" if with_chance else " |")
    lines = [head, "|---|---:|" + "---:|" * (len(cols) + int(with_chance))]
    for cat in summary["categories"]:
        cells = [table.get(c, {}).get(phrasing, {}).get(cat) for c in cols]
        n = next((c["n"] for c in cells if c and c["n"]), 0)
        row = [fmt(c[metric]) if c and c["n"] else "-" for c in cells]
        if with_chance:
            row.append(_pct(summary.get("chance", {}).get(cat)))
        lines.append(f"| {cat} | {n} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _overview(summary: Mapping[str, Any], cat: str = CATEGORY_OVERALL) -> str:
    """Agents x (perception mode, phrasing) success on ``cat``."""
    table = summary["table"]
    modes = list(summary["perception"])
    phs = list(summary["phrasings"])
    agents = list(dict.fromkeys(c.partition("@")[0] for c in summary["columns"]))
    heads = [f"{m} / {p}" for m in modes for p in phs]
    lines = ["| agent | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
    for a in agents:
        cells = []
        for m in modes:
            for p in phs:
                col = column(a, m) if column(a, m) in table else column(a, "none")
                c = table.get(col, {}).get(p, {}).get(cat)
                cells.append(_pct(c["success_rate"]) if c and c["n"] else "-")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _phrasing_table(summary: Mapping[str, Any], col: str) -> str:
    """Per category: success on template texts beside each phrasing set, for one column."""
    phs = list(summary["phrasings"])
    cells = summary["table"].get(col, {})
    lines = ["| category | " + " | ".join(f"{p} (n)" for p in phs) + " |", "|---|" + "---:|" * len(phs)]
    for cat in summary["categories"]:
        row = []
        for p in phs:
            c = cells.get(p, {}).get(cat)
            row.append(f"{_pct(c['success_rate'])} ({c['n']})" if c and c["n"] else "-")
        lines.append(f"| {cat} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _strict_table(summary: Mapping[str, Any], col: str) -> str:
    cells = summary["table"].get(col, {}).get(TEMPLATES, {})
    lines = ["| category | n | relaxed (ours) | strict (FindingDory) |", "|---|---:|---:|---:|"]
    for cat in summary["categories"]:
        c = cells.get(cat)
        if c and c["n"]:
            lines.append(f"| {cat} | {c['n']} | {_pct(c['success_rate'])} | {_pct(c.get('strict_success_rate'))} |")
    return "\n".join(lines)


def _failure_modes_table(summary: Mapping[str, Any], mode: Optional[str]) -> str:
    cols = _mode_columns(summary, mode)
    table = summary["table"]
    overall = {c: table.get(c, {}).get(TEMPLATES, {}).get(CATEGORY_OVERALL, {}).get("failure_modes", {}) for c in cols}
    modes = sorted({m for v in overall.values() for m in v})
    if not modes:
        return "(no failures)"
    lines = ["| failure mode | " + " | ".join(c.partition("@")[0] for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for m in modes:
        lines.append(f"| {m} | " + " | ".join(str(overall[c].get(m, 0)) for c in cols) + " |")
    return "\n".join(lines)


def _check_line(chk: Mapping[str, Any]) -> str:
    val = chk["value"]
    if "2x" in chk["name"]:
        shown = "inf" if val is None else f"{val:.2f}x"
    elif "25 points" in chk["name"]:
        shown = f"{100 * val:.1f} points ({_pct(chk['robomem'])} vs {_pct(chk['uniform_keyframes'])})"
    else:
        shown = ", ".join(chk.get("above", [])) or "none above"
    return f"{chk['name']}: {shown}"


def format_console(summary: Mapping[str, Any]) -> str:
    """What a run prints: the headline table, the overview over modes and phrasings, checks, wall time."""
    head = summary.get("headline_perception")
    lines = [f"success % (HL-SR), perception {head}, template texts:", format_markdown_table(summary,
                                                                                              with_chance=True)]
    lines += ["", "overall success % per perception mode / phrasing set:", _overview(summary)]
    for chk in summary.get("targets", []):
        lines.append(f"[{'MET ' if chk['met'] else 'MISS'}] {_check_line(chk)}")
    t = summary.get("timings", {})
    if t:
        wall = t.get("wall_seconds")
        lines.append(
            f"{t.get('episodes', 0)} episode(s), {t.get('frames', 0)} frames, {t.get('tasks', 0)} tasks "
            f"({t.get('task_variants', 0)} with phrasings) per column"
            + (f"; wall time {wall:.1f} s ({wall / 60:.1f} min)" if wall is not None else "")
        )
    return "\n".join(lines)


def write_report(out_dir: Path, summary: Mapping[str, Any]) -> Path:
    """Write ``report.md`` and ``success.png`` into ``out_dir`` (atomically); returns the report path."""
    from robomem_sim.runner import _write_atomic

    out_dir = Path(out_dir)
    cfg = summary.get("config", {})
    t = summary.get("timings", {})
    info = summary.get("episodes_info", {})
    head = summary.get("headline_perception")
    wall = t.get("wall_seconds")
    parts = [
        "# robomem-eval report",
        "",
        f"Episodes: {t.get('episodes', '?')} (seeds from {cfg.get('seed', '?')}), {cfg.get('days', '?')} day(s) each, "
        f"{t.get('frames', '?')} frames, {t.get('tasks', '?')} tasks ({t.get('task_variants', '?')} asked with "
        f"phrasings); {cfg.get('width', '?')}x{cfg.get('height', '?')} px, a frame every "
        f"{cfg.get('frame_every', '?')} s while active, {cfg.get('min_interactions', '?')}-"
        f"{cfg.get('max_interactions', '?')} robot pick-and-places/day ({info.get('interactions', '?')} in all), "
        f"{info.get('household_moves', '?')} moves by people ({info.get('household_moves_while_robot_active', '?')} "
        f"while the robot was working), {cfg.get('objects', '?')} objects; encoder {cfg.get('encoder', '?')}; "
        f"robot action events {'on' if cfg.get('action_events', True) else 'off (video only)'} "
        f"({info.get('action_events', 0)} delivered); perception modes {', '.join(summary.get('perception', []))}; "
        f"phrasings: {', '.join(summary.get('phrasings', []))}.",
        f"Wall time: {wall:.1f} s ({wall / 60:.1f} min)." if wall is not None else "",
        "",
        f"## Headline: perception `{head}`, success rate (HL-SR, %)",
        "",
        "`chance`: per task, the strategy without memory of the episode that does best on the other tasks of its "
        "template (leave-one-out): a random answer "
        "of the right type, the template's most frequent answer on the run's other tasks, staying where the robot "
        "is, a random piece of furniture, and on absence tasks a coin "
        "flip between 'not found' and an answer (`robomem_sim.chance`; `summary.json`: `chance_random`, "
        "`chance_prior`, `chance_here`, `chance_map`, `chance_coin`).",
        "",
        format_markdown_table(summary, "success_rate", with_chance=True),
        "",
        "## Overall success (%) per perception mode and phrasing set",
        "",
        _overview(summary),
        "",
        "Moved-object tasks:",
        "",
        _overview(summary, CATEGORY_MOVED),
        "",
    ]
    if len(summary.get("phrasings", [])) > 1:
        parts += [f"## Template texts vs phrasings: robomem, perception `{head}`", "",
                  _phrasing_table(summary, column("robomem", str(head))), ""]
    parts += [f"## SPL, perception `{head}`", "", format_markdown_table(summary, "spl"), "",
              f"## Distance-only / coverage-only success (%), perception `{head}`", "",
              format_markdown_table(summary, "distance_success_rate"), "",
              format_markdown_table(summary, "coverage_success_rate"), ""]
    if column("robomem", str(head)) in summary["table"]:
        parts += [f"## Relaxed vs strict FindingDory rules: robomem, perception `{head}`", "",
                  "Relaxed: straight-line object distance, receptacle within 1 m of its footprint, times +-60 s, "
                  "durations +-10 s. Strict: geodesic object distance on the robot's navigation grid, within 0.1 m "
                  "of a viewpoint the robot used at that receptacle, times in the same minute, durations +-1 s.", "",
                  _strict_table(summary, column("robomem", str(head))), ""]
    for m in summary.get("perception", []):
        if m == head:
            continue
        parts += [f"## Perception `{m}`, success rate (%)", "", format_markdown_table(summary, mode=m), ""]
    parts += [f"### Failure modes, perception `{head}` (all tasks, template texts)", "",
              _failure_modes_table(summary, head), "", "## Checks", ""]
    for chk in summary.get("targets", []):
        parts.append(f"- {'met' if chk['met'] else '**not met**'}: {_check_line(chk)}")
    parts += ["", "## Cases the task generator dropped (all episodes)", ""]
    ex = summary.get("exclusions", {})
    if ex:
        parts += ["| reason | cases |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in ex.items()]
    else:
        parts.append("(none)")
    parts += [
        "",
        "## Timings",
        "",
        f"- ingest ms per frame: {t.get('ms_per_frame', {})}",
        f"- answer seconds (all tasks): {t.get('answer_seconds', {})}",
        f"- episode seconds (sum): {t.get('episode_seconds', '?')}; parts: {t.get('episode_parts_seconds', {})}",
        "",
        "![success per category](success.png)",
        "",
    ]
    path = out_dir / "report.md"
    _write_atomic(path, "\n".join(parts).encode())
    plot_success(summary, out_dir / "success.png")
    return path


def plot_success(summary: Mapping[str, Any], path: Path) -> Path:
    """Grouped horizontal bars: success % per category (rows) per agent (bars) in the headline perception
    mode, template texts. PNG via matplotlib Agg."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from robomem_sim.runner import _write_atomic

    cols = _mode_columns(summary, summary.get("headline_perception"))
    cats = list(summary["categories"])
    table = summary["table"]
    fig_h = max(3.0, 0.45 * len(cats) * max(1, len(cols)) / 2.5 + 1.0)
    fig, ax = plt.subplots(figsize=(9, fig_h), dpi=100)
    bar_h = 0.8 / max(1, len(cols))
    for k, col in enumerate(cols):
        vals = []
        for c in cats:
            cell = table.get(col, {}).get(TEMPLATES, {}).get(c)
            vals.append(100 * cell["success_rate"] if cell and cell["n"] else 0.0)
        ys = [i + k * bar_h for i in range(len(cats))]
        ax.barh(ys, vals, height=bar_h, label=col)
    ax.set_yticks([i + 0.4 - bar_h / 2 for i in range(len(cats))])
    ax.set_yticklabels(cats)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("success (HL-SR, %)")
    ax.set_title(f"robomem-eval: success per category (perception {summary.get('headline_perception')})")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    path = Path(path)
    _write_atomic(path, buf.getvalue())
    return path
