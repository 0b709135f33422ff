"""Report aggregation, results rows and formatting from hand-written task records."""

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


def _rec(agent, family, success, spl=None, moved=False, multi=False, mode="wrong_target", perception="noisy",
         phrasing="templates", task="t0", chance=0.1, strict=None):
    return {
        "agent": agent,
        "perception": perception,
        "phrasing": phrasing,
        "task_id": task,
        "family": family,
        "success": success,
        "distance_success": success,
        "coverage_success": True,
        "strict_success": success if strict is None else strict,
        "spl": (1.0 if success else 0.0) if spl is None else spl,
        "about_moved_object": moved,
        "multi_goal": multi,
        "failure_mode": "none" if success else mode,
        "episode": 0,
        "chance": chance,
    }


RECORDS = [
    _rec("robomem", "object_recall", True, 0.8, moved=True, task="a", strict=False),
    _rec("robomem", "object_recall", True, 1.0, task="b"),
    _rec("robomem", "multi_goal_ordered", False, multi=True, moved=True, mode="wrong_order", task="c", chance=0.0),
    _rec("robomem", "counting", True, task="d", chance=0.2),
    _rec("robomem", "object_recall", False, phrasing="dev", task="a"),
    _rec("robomem", "object_recall", True, phrasing="dev", task="b"),
    _rec("robomem", "object_recall", True, perception="gt_ids", task="a"),
    _rec("static_map", "object_recall", False, moved=True, mode="too_far", task="a"),
    _rec("static_map", "object_recall", True, 0.5, task="b"),
    _rec("static_map", "multi_goal_ordered", False, multi=True, moved=True, task="c", chance=0.0),
    _rec("static_map", "counting", False, mode="wrong_value", task="d", chance=0.2),
    _rec("no_memory", "counting", False, perception="none", mode="gave_up", task="d", chance=0.2),
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


def test_aggregate_by_agent_perception_and_phrasing():
    t = aggregate(RECORDS, ["robomem", "static_map", "no_memory"])
    assert list(t) == ["robomem@noisy", "static_map@noisy", "robomem@gt_ids", "no_memory@none"]
    r = t["robomem@noisy"]["templates"]
    assert r["object_recall"]["n"] == 2 and r["object_recall"]["success_rate"] == 1.0
    assert r["object_recall"]["strict_success_rate"] == 0.5
    assert math.isclose(r["object_recall"]["spl"], 0.9)
    assert r[CATEGORY_MULTI]["n"] == 1 and r[CATEGORY_MULTI]["success_rate"] == 0.0
    assert r[CATEGORY_MOVED]["n"] == 2 and r[CATEGORY_MOVED]["success_rate"] == 0.5
    assert r[CATEGORY_OVERALL]["n"] == 4 and r[CATEGORY_OVERALL]["failure_modes"] == {"wrong_order": 1}
    dev = t["robomem@noisy"]["dev"]
    assert dev[CATEGORY_OVERALL]["n"] == 2 and dev[CATEGORY_OVERALL]["success_rate"] == 0.5
    assert "dev" not in t["static_map@noisy"]
    s = t["static_map@noisy"]["templates"]
    assert s[CATEGORY_OVERALL]["success_rate"] == 0.25
    assert s[CATEGORY_OVERALL]["failure_modes"] == {"too_far": 1, "wrong_target": 1, "wrong_value": 1}


def test_results_rows_are_machine_readable():
    summary = summarize_run(RECORDS, [{"episode": 0, "frames": 10, "exclusions": {"changes: x": 2}}],
                            ["robomem", "static_map", "no_memory"], {"seed": 0}, wall_s=3.0)
    rows = summary["results"]
    assert rows and all(set(r) == {"agent", "perception", "phrasing", "category", "n", "success_rate", "spl"}
                        for r in rows)
    by_key = {(r["agent"], r["perception"], r["phrasing"], r["category"]): r for r in rows}
    assert by_key[("robomem", "noisy", "templates", "overall")]["success_rate"] == 0.75
    assert by_key[("robomem", "noisy", "dev", "object_recall")]["n"] == 2
    assert by_key[("robomem", "gt_ids", "templates", "overall")]["n"] == 1
    assert by_key[("no_memory", "none", "templates", "counting")]["success_rate"] == 0.0
    assert all(r["n"] > 0 for r in rows)  # empty cells are left out
    assert summary["timings"]["wall_seconds"] == 3.0
    assert summary["exclusions"] == {"changes: x": 2}
    assert summary["headline_perception"] == "noisy" and summary["perception"] == ["noisy", "gt_ids"]
    assert summary["phrasings"] == ["templates", "dev"]
    assert math.isclose(summary["chance"]["counting"], 0.2) and summary["chance"][CATEGORY_MULTI] == 0.0
    json.dumps(summary, allow_nan=False)  # strict JSON


def test_target_checks_are_honest():
    t = aggregate(RECORDS, ["robomem", "static_map", "no_memory", "uniform_keyframes"])
    chance = {"counting": 0.2, CATEGORY_OVERALL: 0.1}
    checks = {c["name"]: c for c in target_checks(t, chance)}
    ratio = checks["noisy: robomem >= 2x static_map on moved-object tasks"]
    assert ratio["value"] is None and ratio["met"] is True  # static map solved none of them
    assert checks["no_memory not above chance in any category"]["met"] is True
    cheat = aggregate(RECORDS + [_rec("no_memory", "counting", True, perception="none", task="e")],
                      ["no_memory"])
    checks = {c["name"]: c for c in target_checks(cheat, {"counting": 0.2})}
    bad = checks["no_memory not above chance in any category"]
    assert bad["met"] is False and "counting" in bad["above"][0]
    gap = aggregate(RECORDS + [_rec("uniform_keyframes", "counting", True, task=x) for x in "abcd"],
                    ["robomem", "uniform_keyframes"])
    checks = {c["name"]: c for c in target_checks(gap, {})}
    assert checks["noisy: uniform_keyframes >= 25 points below robomem"]["met"] is False


def test_tables_and_files(tmp_path):
    summary = summarize_run(
        RECORDS,
        [{"episode": 0, "frames": 100, "tasks": 4, "task_variants": 6,
          "observe_seconds": {"robomem@noisy": 2.0, "static_map@noisy": 1.0},
          "answer_seconds": {"robomem@noisy": 0.5, "static_map@noisy": 0.4}, "seconds": {"total": 5.0}}],
        ["robomem", "static_map", "no_memory"],
        {"seed": 0, "width": 160, "height": 120},
        wall_s=5.5,
    )
    md = format_markdown_table(summary, "success_rate", with_chance=True).splitlines()
    assert md[0] == "| category | n | robomem | static_map | no_memory | chance |"
    assert "| object_recall | 2 | 100.0 | 50.0 | - | 10.0 |" in md
    assert "| overall | 4 | 75.0 | 25.0 | 0.0 | 10.0 |" in md
    gt = format_markdown_table(summary, mode="gt_ids").splitlines()
    assert gt[0] == "| category | n | robomem | no_memory |"
    console = format_console(summary)
    assert "perception noisy" in console and "wall time 5.5 s" in console
    assert summary["timings"]["ms_per_frame"] == {"robomem@noisy": 20.0, "static_map@noisy": 10.0}
    path = write_report(tmp_path, summary)
    text = path.read_text()
    assert text.startswith("# robomem-eval report")
    assert "## Headline: perception `noisy`" in text and "Template texts vs phrasings" in text
    assert "Relaxed vs strict" in text and "Perception `gt_ids`" in text
    png = (tmp_path / "success.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
