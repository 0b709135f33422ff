"""Aggregating ``robomem-eval`` task records into tables, a Markdown report and a plot.

Rows ("categories") are the task families present, then ``multi-goal`` (both multi-goal families),
``moved objects`` (tasks about objects that moved, the comparison with the static map) and ``overall``.
Per agent and category: ``n``, ``success_rate`` (FindingDory's high-level success, HL-SR), ``spl``,
``distance_success_rate`` / ``coverage_success_rate`` (distance-only / coverage-only success), ``failures``
(tasks not solved) and ``failure_modes`` (why, :class:`~robomem_sim.scoring.FailureMode` values).
Target checks compare robomem with the project's goals (>= 90 % overall, >= 80 % multi-goal, >= 2x the
static map on moved-object tasks) and say honestly whether each is met.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from robomem_sim.types import TaskFamily

__all__ = [
    "CATEGORY_MOVED",
    "CATEGORY_MULTI",
    "CATEGORY_OVERALL",
    "aggregate",
    "categories_of",
    "format_console",
    "format_markdown_table",
    "plot_success",
    "summarize_run",
    "target_checks",
    "write_report",
]

CATEGORY_MULTI = "multi-goal"
CATEGORY_MOVED = "moved objects"
CATEGORY_OVERALL = "overall"
_FAMILY_ORDER = [f.value for f in TaskFamily]


def categories_of(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Families present (in :class:`TaskFamily` order), then the summary rows."""
    fams = {str(r["family"]) for r in records}
    out = [f for f in _FAMILY_ORDER if f in fams] + sorted(fams - set(_FAMILY_ORDER))
    return out + [CATEGORY_MULTI, CATEGORY_MOVED, CATEGORY_OVERALL]


def _in_category(r: Mapping[str, Any], cat: str) -> bool:
    if cat == CATEGORY_OVERALL:
        return True
    if cat == CATEGORY_MULTI:
        return bool(r.get("multi_goal"))
    if cat == CATEGORY_MOVED:
        return bool(r.get("about_moved_object"))
    return bool(r["family"] == cat)


def _cell(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(rows)

    def rate(key: str) -> float:
        return sum(float(bool(r[key])) for r in rows) / n if n else math.nan

    modes: dict[str, int] = {}
    for r in rows:
        if not r["success"]:
            modes[str(r["failure_mode"])] = modes.get(str(r["failure_mode"]), 0) + 1
    return {
        "n": n,
        "success_rate": rate("success"),
        "distance_success_rate": rate("distance_success"),
        "coverage_success_rate": rate("coverage_success"),
        "spl": sum(float(r["spl"]) for r in rows) / n if n else math.nan,
        "failures": sum(1 for r in rows if not r["success"]),
        "failure_modes": dict(sorted(modes.items())),
    }


def aggregate(records: Sequence[Mapping[str, Any]], agents: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{agent: {category: cell}} (see the module docstring)."""
    cats = categories_of(records)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for a in agents:
        mine = [r for r in records if r["agent"] == a]
        out[a] = {c: _cell([r for r in mine if _in_category(r, c)]) for c in cats}
    return out


def target_checks(table: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """robomem against the project targets (only the checks whose agents/rows are present)."""
    checks: list[dict[str, Any]] = []
    rm = table.get("robomem")
    if rm is None:
        return checks

    def sr(agent: Mapping[str, Mapping[str, Any]], cat: str) -> Optional[float]:
        c = agent.get(cat)
        if c is None or not c["n"]:
            return None
        return float(c["success_rate"])

    overall = sr(rm, CATEGORY_OVERALL)
    if overall is not None:
        checks.append(
            {"name": "robomem overall success >= 90 %", "value": overall, "target": 0.9, "met": overall >= 0.9}
        )
    multi = sr(rm, CATEGORY_MULTI)
    if multi is not None:
        checks.append(
            {"name": "robomem multi-goal success >= 80 %", "value": multi, "target": 0.8, "met": multi >= 0.8}
        )
    st = table.get("static_map")
    moved = sr(rm, CATEGORY_MOVED)
    if st is not None and moved is not None:
        base = sr(st, CATEGORY_MOVED) or 0.0
        # value None: the static map solved none (an infinite ratio, kept JSON-clean)
        ratio = None if base == 0 else moved / base
        met = moved > 0 if ratio is None else ratio >= 2.0
        checks.append(
            {
                "name": "robomem >= 2x static_map on moved-object tasks",
                "value": ratio,
                "target": 2.0,
                "met": met,
                "robomem": moved,
                "static_map": base,
            }
        )
    return checks


def summarize_run(
    records: Sequence[Mapping[str, Any]],
    metas: Sequence[Mapping[str, Any]],
    agents: Sequence[str],
    config: Mapping[str, Any],
    wall_s: Optional[float] = None,
) -> dict[str, Any]:
    """Everything summary.json holds: tables, target checks, timings."""
    table = aggregate(records, agents)
    frames = sum(int(m.get("frames", 0)) for m in metas)
    observe = {a: round(sum(float(m.get("observe_seconds", {}).get(a, 0.0)) for m in metas), 3) for a in agents}
    answer = {a: round(sum(float(m.get("answer_seconds", {}).get(a, 0.0)) for m in metas), 3) for a in agents}
    timings: dict[str, Any] = {
        "episodes": len(metas),
        "frames": frames,
        "tasks_per_agent": len([r for r in records if agents and r["agent"] == agents[0]]),
        "observe_seconds": observe,
        "answer_seconds": answer,
        "ms_per_frame": {a: (round(1000 * observe[a] / frames, 2) if frames else None) for a in agents},
        "episode_seconds": round(sum(float(m.get("seconds", {}).get("total", 0.0)) for m in metas), 3),
    }
    if wall_s is not None:
        timings["wall_seconds_this_invocation"] = round(wall_s, 3)
    return {
        "config": dict(config),
        "agents": list(agents),
        "categories": categories_of(records),
        "table": table,
        "targets": target_checks(table),
        "timings": timings,
    }


# ============================================================================================ formatting


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _num(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def format_markdown_table(summary: Mapping[str, Any], metric: str = "success_rate") -> str:
    """A Markdown table: one row per category, one column per agent, cells ``metric`` (rates in %)."""
    agents = list(summary["agents"])
    table = summary["table"]
    fmt = _pct if metric.endswith("rate") else (_num if metric == "spl" else (lambda v: str(v)))
    lines = ["| category | n | " + " | ".join(agents) + " |", "|---|---:|" + "---:|" * len(agents)]
    for cat in summary["categories"]:
        n = table[agents[0]][cat]["n"] if agents else 0
        cells = [fmt(table[a][cat][metric]) for a in agents]
        lines.append(f"| {cat} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_console(summary: Mapping[str, Any]) -> str:
    """The per-category table printed at the end of a run: cells "success % / SPL / failed"."""
    agents = list(summary["agents"])
    table = summary["table"]
    cats = list(summary["categories"])
    width = max([len(c) for c in cats] + [8])
    colw = max([len(a) for a in agents] + [17])
    head = f"{'category':<{width}} {'n':>4}  " + "  ".join(f"{a:>{colw}}" for a in agents)
    lines = ["success % / SPL / failed tasks", head, "-" * len(head)]
    for cat in cats:
        if cat == CATEGORY_MULTI:
            lines.append("-" * len(head))
        n = table[agents[0]][cat]["n"] if agents else 0
        cells = []
        for a in agents:
            c = table[a][cat]
            cells.append(f"{_pct(c['success_rate']):>5} / {_num(c['spl']):>4} / {c['failures']:>3}".rjust(colw))
        lines.append(f"{cat:<{width}} {n:>4}  " + "  ".join(cells))
    for chk in summary.get("targets", []):
        val = chk["value"]
        shown = "inf" if val is None else (f"{val:.2f}x" if "2x" in chk["name"] else f"{100 * val:.1f} %")
        lines.append(f"[{'MET ' if chk['met'] else 'MISS'}] {chk['name']}: {shown}")
    t = summary.get("timings", {})
    if t:
        lines.append(
            f"{t.get('episodes', 0)} episode(s), {t.get('frames', 0)} frames, "
            f"{t.get('tasks_per_agent', 0)} tasks per agent; ms/frame ingest: "
            + ", ".join(f"{a} {v}" for a, v in t.get("ms_per_frame", {}).items())
        )
    return "\n".join(lines)


def _failure_modes_table(summary: Mapping[str, Any]) -> str:
    agents = list(summary["agents"])
    table = summary["table"]
    modes = sorted({m for a in agents for m in table[a][CATEGORY_OVERALL]["failure_modes"]})
    if not modes:
        return "(no failures)"
    lines = ["| failure mode | " + " | ".join(agents) + " |", "|---|" + "---:|" * len(agents)]
    for m in modes:
        lines.append(
            f"| {m} | " + " | ".join(str(table[a][CATEGORY_OVERALL]["failure_modes"].get(m, 0)) for a in agents) + " |"
        )
    return "\n".join(lines)


def write_report(out_dir: Path, summary: Mapping[str, Any]) -> Path:
    """Write ``report.md`` and ``success.png`` into ``out_dir`` (atomically); returns the report path."""
    from robomem_sim.runner import _write_atomic

    out_dir = Path(out_dir)
    cfg = summary.get("config", {})
    t = summary.get("timings", {})
    parts = [
        "# robomem-eval report",
        "",
        f"Episodes: {t.get('episodes', '?')} (seeds from {cfg.get('seed', '?')}), {t.get('frames', '?')} frames, "
        f"{t.get('tasks_per_agent', '?')} tasks per agent; {cfg.get('width', '?')}x{cfg.get('height', '?')} px, "
        f"{cfg.get('days', '?')} day(s), {cfg.get('min_interactions', '?')}-{cfg.get('max_interactions', '?')} "
        f"interactions/day, {cfg.get('objects', '?')} objects; encoder {cfg.get('encoder', '?')}.",
        "",
        "## Success rate (HL-SR, %)",
        "",
        format_markdown_table(summary, "success_rate"),
        "",
        "## SPL",
        "",
        format_markdown_table(summary, "spl"),
        "",
        "## Distance-only / coverage-only success (%)",
        "",
        format_markdown_table(summary, "distance_success_rate"),
        "",
        format_markdown_table(summary, "coverage_success_rate"),
        "",
        "## Failed tasks",
        "",
        format_markdown_table(summary, "failures"),
        "",
        "### Failure modes (all tasks)",
        "",
        _failure_modes_table(summary),
        "",
        "## Targets",
        "",
    ]
    for chk in summary.get("targets", []):
        val = chk["value"]
        shown = "inf" if val is None else (f"{val:.2f}x" if "2x" in chk["name"] else f"{100 * val:.1f} %")
        parts.append(f"- {'met' if chk['met'] else '**not met**'}: {chk['name']} (got {shown})")
    parts += [
        "",
        "## Timings",
        "",
        f"- ingest ms per frame: {t.get('ms_per_frame', {})}",
        f"- answer seconds (all tasks): {t.get('answer_seconds', {})}",
        f"- episode seconds (sum): {t.get('episode_seconds', '?')}",
        "",
        "![success per category](success.png)",
        "",
    ]
    path = out_dir / "report.md"
    _write_atomic(path, "\n".join(parts).encode())
    plot_success(summary, out_dir / "success.png")
    return path


def plot_success(summary: Mapping[str, Any], path: Path) -> Path:
    """Grouped horizontal bars: success % per category (rows) per agent (bars). PNG via matplotlib Agg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from robomem_sim.runner import _write_atomic

    agents = list(summary["agents"])
    cats = list(summary["categories"])
    table = summary["table"]
    fig_h = max(3.0, 0.45 * len(cats) * max(1, len(agents)) / 2.5 + 1.0)
    fig, ax = plt.subplots(figsize=(9, fig_h), dpi=100)
    bar_h = 0.8 / max(1, len(agents))
    for k, a in enumerate(agents):
        vals = [
            100 * (table[a][c]["success_rate"] if not math.isnan(table[a][c]["success_rate"]) else 0.0) for c in cats
        ]
        ys = [i + k * bar_h for i in range(len(cats))]
        ax.barh(ys, vals, height=bar_h, label=a)
    ax.set_yticks([i + 0.4 - bar_h / 2 for i in range(len(cats))])
    ax.set_yticklabels(cats)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("success (HL-SR, %)")
    ax.set_title("robomem-eval: success per category")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    path = Path(path)
    _write_atomic(path, buf.getvalue())
    return path
