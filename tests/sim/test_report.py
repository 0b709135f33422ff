"""Report aggregation and formatting from hand-written task records."""

from __future__ import annotations

import json
import math

from robomem_sim.report import (
    CATEGORY_MOVED,
    CATEGORY_MULTI,
    CATEGORY_OVERALL,
    aggregate,
    categories_of,
    format_console,
    format_markdown_table,
    summarize_run,
    target_checks,
    write_report,
)


def _rec(agent, family, success, spl=None, moved=False, multi=False, mode="wrong_target"):
    return {
        "agent": agent,
        "family": family,
        "success": success,
        "distance_success": success,
        "coverage_success": True,
        "spl": (1.0 if success else 0.0) if spl is None else spl,
        "about_moved_object": moved,
        "multi_goal": multi,
        "failure_mode": "none" if success else mode,
        "episode": 0,
    }


RECORDS = [
    _rec("robomem", "object_recall", True, 0.8, moved=True),
    _rec("robomem", "object_recall", True, 1.0),
    _rec("robomem", "multi_goal_ordered", False, multi=True, moved=True, mode="wrong_order"),
    _rec("robomem", "counting", True),
    _rec("static_map", "object_recall", False, moved=True, mode="too_far"),
    _rec("static_map", "object_recall", True, 0.5),
    _rec("static_map", "multi_goal_ordered", False, multi=True, moved=True),
    _rec("static_map", "counting", False, mode="wrong_value"),
]


def test_categories_follow_family_order_then_summary_rows():
    assert categories_of(RECORDS) == [
        "object_recall",
        "multi_goal_ordered",
        "counting",
        CATEGORY_MULTI,
        CATEGORY_MOVED,
        CATEGORY_OVERALL,
    ]


def test_aggregate_numbers():
    t = aggregate(RECORDS, ["robomem", "static_map"])
    r = t["robomem"]
    assert r["object_recall"]["n"] == 2 and r["object_recall"]["success_rate"] == 1.0
    assert math.isclose(r["object_recall"]["spl"], 0.9)
    assert r[CATEGORY_MULTI]["n"] == 1 and r[CATEGORY_MULTI]["success_rate"] == 0.0
    assert r[CATEGORY_MOVED]["n"] == 2 and r[CATEGORY_MOVED]["success_rate"] == 0.5
    assert r[CATEGORY_OVERALL]["n"] == 4 and r[CATEGORY_OVERALL]["failures"] == 1
    assert r[CATEGORY_OVERALL]["failure_modes"] == {"wrong_order": 1}
    s = t["static_map"]
    assert s[CATEGORY_OVERALL]["success_rate"] == 0.25
    assert s[CATEGORY_OVERALL]["failure_modes"] == {"too_far": 1, "wrong_target": 1, "wrong_value": 1}
    assert s[CATEGORY_MOVED]["success_rate"] == 0.0


def test_target_checks_are_honest():
    t = aggregate(RECORDS, ["robomem", "static_map"])
    checks = {c["name"]: c for c in target_checks(t)}
    overall = checks["robomem overall success >= 90 %"]
    assert overall["value"] == 0.75 and overall["met"] is False
    multi = checks["robomem multi-goal success >= 80 %"]
    assert multi["met"] is False
    ratio = checks["robomem >= 2x static_map on moved-object tasks"]
    assert ratio["value"] is None and ratio["met"] is True  # static map solved none of them: infinite ratio
    assert target_checks(aggregate(RECORDS, ["static_map"])) == []  # no robomem: nothing to check


def test_tables_and_files(tmp_path):
    summary = summarize_run(
        RECORDS,
        [
            {
                "episode": 0,
                "frames": 100,
                "observe_seconds": {"robomem": 2.0, "static_map": 1.0},
                "answer_seconds": {"robomem": 0.5, "static_map": 0.4},
                "seconds": {"total": 5.0},
            }
        ],
        ["robomem", "static_map"],
        {"seed": 0, "width": 160, "height": 120},
        wall_s=5.5,
    )
    md = format_markdown_table(summary, "success_rate").splitlines()
    assert md[0] == "| category | n | robomem | static_map |"
    assert md[1] == "|---|---:|---:|---:|"
    assert "| object_recall | 2 | 100.0 | 50.0 |" in md
    assert "| overall | 4 | 75.0 | 25.0 |" in md
    spl = format_markdown_table(summary, "spl")
    assert "| object_recall | 2 | 0.90 | 0.25 |" in spl
    console = format_console(summary)
    assert "robomem" in console and "static_map" in console
    assert "[MISS] robomem overall success >= 90 %: 75.0 %" in console
    assert "[MET ] robomem >= 2x static_map on moved-object tasks: inf" in console
    assert summary["timings"]["ms_per_frame"] == {"robomem": 20.0, "static_map": 10.0}
    json.dumps(summary, allow_nan=False)  # strict JSON
    path = write_report(tmp_path, summary)
    text = path.read_text()
    assert text.startswith("# robomem-eval report")
    assert "## Success rate (HL-SR, %)" in text and "| wrong_order | 1 | 0 |" in text
    png = (tmp_path / "success.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
