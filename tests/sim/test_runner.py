"""``robomem-eval`` end to end with tiny settings: outputs, resume, and clear errors."""

from __future__ import annotations

import json

import pytest
from robomem_sim import runner
from robomem_sim.runner import RunConfig, append_jsonl_atomic, main, read_jsonl

from robomem.errors import SimError

TINY = [
    "--per-family",
    "1",
    "--objects",
    "8",
    "--interactions",
    "2-3",
    "--encoder",
    "hash",
    "--agents",
    "robomem,no_memory",
    "--families",
    "object_recall,room_visitation,absence,multi_goal_ordered",
    "--no-progress",
]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    rc = main(["--episodes", "1", "--out", str(out), *TINY])
    assert rc == 0
    return out


def test_outputs(first_run, capsys):
    out = first_run
    for name in ("run.json", "log.jsonl", "episodes.jsonl", "summary.json", "report.md", "success.png"):
        assert (out / name).is_file(), name
    rows = read_jsonl(out / "log.jsonl")
    metas = read_jsonl(out / "episodes.jsonl")
    assert len(metas) == 1 and metas[0]["episode"] == 0
    # one line per task per agent
    assert len(rows) == 2 * metas[0]["tasks"] and metas[0]["tasks"] >= 3
    assert {r["agent"] for r in rows} == {"robomem", "no_memory"}
    assert {r["family"] for r in rows} <= {"object_recall", "room_visitation", "absence", "multi_goal_ordered"}
    for r in rows:
        assert isinstance(r["success"], bool) and 0.0 <= r["spl"] <= 1.0
        assert r["answer"] and r["failure_mode"]
    assert all(r["plan"] for r in rows if r["agent"] == "robomem")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agents"] == ["robomem", "no_memory"]
    assert summary["categories"][-3:] == ["multi-goal", "moved objects", "overall"]
    overall = summary["table"]["robomem"]["overall"]
    assert overall["n"] == metas[0]["tasks"]
    assert overall["success_rate"] > summary["table"]["no_memory"]["overall"]["success_rate"]
    report = (out / "report.md").read_text()
    assert "| overall |" in report and "robomem" in report
    assert (out / "success.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "run.json").read_text())["config"]["agents"] == ["robomem", "no_memory"]


def test_resume_skips_finished_episodes(first_run, monkeypatch, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for name in ("run.json", "log.jsonl", "episodes.jsonl"):
        (out / name).write_bytes((first_run / name).read_bytes())
    before = (out / "log.jsonl").read_bytes()
    ran: list[int] = []
    real = runner.run_episode

    def counting(cfg, seed):
        ran.append(seed)
        return real(cfg, seed)

    monkeypatch.setattr(runner, "run_episode", counting)
    assert main(["--resume", str(out), "--episodes", "2", "--no-progress"]) == 0
    assert ran == [1]  # episode 0 was already in the log
    after = (out / "log.jsonl").read_bytes()
    assert after.startswith(before)  # old lines untouched, new ones appended
    assert {r["episode"] for r in read_jsonl(out / "log.jsonl")} == {0, 1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timings"]["episodes"] == 2
    # resuming again has nothing left to do
    ran.clear()
    assert main(["--resume", str(out), "--episodes", "2", "--no-progress"]) == 0
    assert ran == []


def test_resume_with_different_settings_is_refused(first_run, capsys):
    before = (first_run / "log.jsonl").read_bytes()
    rc = main(["--resume", str(first_run), "--objects", "9", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "settings differ" in err and "objects" in err and "new --out" in err
    assert (first_run / "log.jsonl").read_bytes() == before


def test_existing_output_without_resume_is_refused(first_run, capsys):
    assert main(["--episodes", "1", "--out", str(first_run), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--agents", "robomem,oracle"], "unknown agent"),
        (["--families", "telepathy"], "unknown task famil"),
        (["--episodes", "0"], "--episodes must be >= 1"),
        (["--resolution", "2000x2000"], "camera.width"),
        (["--resume", "/nonexistent/dir"], "no run.json"),
    ],
)
def test_bad_flags_give_clear_errors(argv, match, capsys, tmp_path):
    out = [] if "--resume" in argv else ["--out", str(tmp_path / "o")]
    assert main([*argv, *out, "--no-progress"]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o" / "log.jsonl").exists()


def test_jsonl_helpers_refuse_corrupt_files(tmp_path):
    p = tmp_path / "log.jsonl"
    append_jsonl_atomic(p, [{"a": 1}])
    append_jsonl_atomic(p, [{"a": 2}, {"a": 3}])
    assert [r["a"] for r in read_jsonl(p)] == [1, 2, 3]
    p.write_bytes(p.read_bytes()[:-3])  # a torn write
    with pytest.raises(SimError, match="newline"):
        append_jsonl_atomic(p, [{"a": 4}])
    with pytest.raises(SimError, match="not valid JSON"):
        read_jsonl(p)


def test_run_config_roundtrip_and_sim_overrides():
    cfg = RunConfig(days=2, min_interactions=3, max_interactions=4, objects=9, width=64, height=48, frame_every=2)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    sim = cfg.sim()
    assert (sim.dynamics.days, sim.house.n_objects, sim.camera.width, sim.agent.frame_every) == (2, 9, 64, 2)
    assert (sim.dynamics.min_interactions_per_day, sim.dynamics.max_interactions_per_day) == (3, 4)
    with pytest.raises(SimError, match="unknown key"):
        RunConfig.from_dict({"episodes": 1, "bogus": 2})
