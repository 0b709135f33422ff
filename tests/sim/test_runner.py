"""``robomem-eval`` end to end with tiny settings: outputs, results rows over perception modes and phrasings,
resume with the new dimensions, and clear errors."""

from __future__ import annotations

import json

import pytest
from robomem_sim import runner
from robomem_sim.runner import RunConfig, append_jsonl_atomic, main, read_jsonl
from robomem_sim.tasks import TEMPLATES
from robomem_sim.types import TaskFamily

from robomem.errors import SimError

FAMILIES = ("object_recall", "room_visitation", "absence", "multi_goal_ordered")
PHRASINGS = [  # a polite prefix for every template of the families run below
    {"family": f, "template": t, "phrasings": ["hey robot, " + t[0].lower() + t[1:]]}
    for f in FAMILIES for t in TEMPLATES[TaskFamily(f)]
]

TINY = [
    "--days",
    "1",
    "--resolution",
    "64x48",
    "--perception",
    "gt_ids,noisy",
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
    ",".join(FAMILIES),
    "--no-progress",
]


@pytest.fixture(scope="module")
def phrasing_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("ph") / "people.json"
    p.write_text(json.dumps(PHRASINGS))
    return p


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, phrasing_file):
    out = tmp_path_factory.mktemp("eval") / "run"
    rc = main(["--episodes", "1", "--out", str(out), "--phrasings", str(phrasing_file), *TINY])
    assert rc == 0
    return out


def test_outputs(first_run, capsys):
    out = first_run
    for name in ("run.json", "log.jsonl", "episodes.jsonl", "summary.json", "report.md", "success.png"):
        assert (out / name).is_file(), name
    rows = read_jsonl(out / "log.jsonl")
    metas = read_jsonl(out / "episodes.jsonl")
    assert len(metas) == 1 and metas[0]["episode"] == 0
    n_tasks = metas[0]["tasks"]
    assert n_tasks >= 3
    # robomem answers every task once per phrasing in each mode; no_memory once (template texts)
    columns = {(r["agent"], r["perception"]) for r in rows}
    assert columns == {("robomem", "gt_ids"), ("robomem", "noisy"), ("no_memory", "none")}
    for mode in ("gt_ids", "noisy"):
        mine = [r for r in rows if r["agent"] == "robomem" and r["perception"] == mode]
        assert len([r for r in mine if r["phrasing"] == "templates"]) == n_tasks
        assert len(mine) == metas[0]["task_variants"]
        phrased = [r for r in mine if r["phrasing"] == "people"]
        assert len(phrased) == n_tasks and all(r["text"].startswith("hey robot, ") for r in phrased)
    assert len([r for r in rows if r["agent"] == "no_memory"]) == n_tasks
    assert {r["family"] for r in rows} <= {"object_recall", "room_visitation", "absence", "multi_goal_ordered"}
    for r in rows:
        assert isinstance(r["success"], bool) and 0.0 <= r["spl"] <= 1.0 and 0.0 <= r["chance"] <= 1.0
        assert r["answer"] and r["failure_mode"]
    absence = [r for r in rows if r["family"] == "absence"]
    assert absence and all(r["control_text"] and isinstance(r["control_not_found"], bool) for r in absence)
    for r in absence:  # the control is asked in the same wording as the absence question
        assert r["control_text"].startswith("hey robot, ") == r["text"].startswith("hey robot, ")
        assert not r["success"] or not r["control_not_found"]
    assert all(r["expected_values"] == [] for r in rows if r["family"] == "object_recall")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["perception"] == ["gt_ids", "noisy"] and summary["headline_perception"] == "noisy"
    assert summary["phrasings"] == ["templates", "people"]
    res = summary["results"]
    keys = {(r["agent"], r["perception"], r["phrasing"], r["category"]) for r in res}
    assert ("robomem", "noisy", "people", "overall") in keys and ("no_memory", "none", "templates", "overall") in keys
    overall = next(r for r in res if r["agent"] == "robomem" and r["perception"] == "gt_ids"
                   and r["phrasing"] == "templates" and r["category"] == "overall")
    assert overall["n"] == n_tasks
    assert overall["success_rate"] > 0
    assert summary["timings"]["wall_seconds"] > 0 and "exclusions" in summary
    for row in res:  # the documented fields, nothing else
        assert set(row) == {"agent", "perception", "phrasing", "category", "n", "success_rate", "spl"}
        assert isinstance(row["n"], int) and row["n"] > 0 and 0.0 <= row["success_rate"] <= 1.0
        assert 0.0 <= row["spl"] <= row["success_rate"] + 1e-9 and row["category"] in summary["categories"]
    for name in ("", "_random", "_prior", "_here", "_map", "_coin"):  # the chance column and its strategies
        level = summary[f"chance{name}"]
        assert set(level) == set(summary["categories"]), name
        assert all(v is None or 0.0 <= v <= 1.0 for v in level.values()), name
    report = (out / "report.md").read_text()
    assert "| overall |" in report and "perception `noisy`" in report and "people" in report
    assert (out / "success.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "run.json").read_text())["config"]["agents"] == ["robomem", "no_memory"]


def test_resume_skips_finished_episodes(first_run, monkeypatch, tmp_path):
    """Resuming keeps the saved perception modes and phrasing file and only runs the missing episodes."""
    out = tmp_path / "copy"
    out.mkdir()
    for name in ("run.json", "log.jsonl", "episodes.jsonl"):
        (out / name).write_bytes((first_run / name).read_bytes())
    before = (out / "log.jsonl").read_bytes()
    # a run stopped after writing episode 1's meta line but before its records: that line is superseded
    stale = {**read_jsonl(out / "episodes.jsonl")[0], "episode": 1, "frames": 10**6}
    runner.append_jsonl_atomic(out / "episodes.jsonl", [stale])
    ran: list[int] = []
    real = runner.run_episode

    def counting(cfg, seed, progress=None):
        ran.append(seed)
        return real(cfg, seed, progress)

    monkeypatch.setattr(runner, "run_episode", counting)
    assert main(["--resume", str(out), "--episodes", "2", "--no-progress"]) == 0
    assert ran == [1]  # episode 0 was already in the log
    after = (out / "log.jsonl").read_bytes()
    assert after.startswith(before)  # old lines untouched, new ones appended
    assert {r["episode"] for r in read_jsonl(out / "log.jsonl")} == {0, 1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timings"]["episodes"] == 2
    metas = read_jsonl(out / "episodes.jsonl")
    assert summary["timings"]["frames"] == metas[0]["frames"] + metas[-1]["frames"]
    assert summary["timings"]["frames"] < 10**6
    assert summary["perception"] == ["gt_ids", "noisy"] and summary["phrasings"] == ["templates", "people"]
    assert {r["perception"] for r in read_jsonl(out / "log.jsonl") if r["episode"] == 1} == {"gt_ids", "noisy", "none"}
    # resuming again has nothing left to do
    ran.clear()
    assert main(["--resume", str(out), "--episodes", "2", "--no-progress"]) == 0
    assert ran == []


@pytest.mark.parametrize("flag", [["--objects", "9"], ["--perception", "gt_ids"], ["--phrasings", "none"],
                                  ["--no-action-events"]])
def test_resume_with_different_settings_is_refused(first_run, capsys, flag):
    before = (first_run / "log.jsonl").read_bytes()
    rc = main(["--resume", str(first_run), *flag, "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "settings differ" in err and "new --out" in err
    assert (first_run / "log.jsonl").read_bytes() == before


def test_resume_notices_an_edited_phrasing_file(first_run, phrasing_file, capsys, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for name in ("run.json", "log.jsonl", "episodes.jsonl"):
        (out / name).write_bytes((first_run / name).read_bytes())
    edited = tmp_path / "people.json"
    edited.write_text(json.dumps(PHRASINGS[1:]))
    saved = json.loads((out / "run.json").read_text())
    saved["config"]["phrasings"] = str(edited)
    (out / "run.json").write_text(json.dumps(saved))
    rc = main(["--resume", str(out), "--phrasings", str(phrasing_file), "--no-progress"])
    assert rc == 2 and "phrasings" in capsys.readouterr().err


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
        (["--perception", "gt_ids,xray"], "unknown perception mode 'xray'"),
        (["--phrasings", "/nonexistent/p.json"], "cannot read phrasing file"),
        (["--serial", "--ray"], "either --serial or --ray"),
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


def test_defaults_are_a_long_horizon_over_every_perception_mode_with_phrasings():
    d = RunConfig()
    assert d.days >= 3 and set(d.perception) == {"gt_ids", "gt_segments", "noisy", "unlabelled"}
    assert d.phrasings.endswith("dev.json") and d.action_events
    d.validate()


def test_findingdory_preset_is_findingdory_scale_and_flags_still_override():
    from robomem_sim.episode import generate_episode
    from robomem_sim.runner import build_parser, config_from_args

    preset = config_from_args(build_parser().parse_args(["--preset", "findingdory"]))
    assert preset.frame_every == 1 and preset.max_interactions == 11 and preset.days >= 2 and preset.episodes >= 4
    args = ["--preset", "findingdory", "--days", "1", "--resolution", "32x24"]
    cfg = config_from_args(build_parser().parse_args(args))
    assert cfg.days == 1 and cfg.width == 32 and cfg.frame_every == 1  # flags override the preset
    ep = generate_episode(cfg.sim(), seed=0)
    assert len(ep.frames) >= 400  # FindingDory: 400-3,500 frames a day


def test_run_config_roundtrip_and_sim_overrides():
    cfg = RunConfig(days=2, min_interactions=3, max_interactions=4, objects=9, width=64, height=48, frame_every=2,
                    perception=("noisy",), phrasings="")
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    sim = cfg.sim()
    assert (sim.dynamics.days, sim.house.n_objects, sim.camera.width, sim.agent.frame_every) == (2, 9, 64, 2)
    assert (sim.dynamics.min_interactions_per_day, sim.dynamics.max_interactions_per_day) == (3, 4)
    with pytest.raises(SimError, match="unknown key"):
        RunConfig.from_dict({"episodes": 1, "bogus": 2})


def test_progress_moves_during_an_episode_and_the_bar_ends_full(tmp_path, capsys):
    """An episode reports how far it is (frames, then each agent's answers); the bar counts fractions of
    episodes, so it moves while the default run's two long episodes are running."""
    cfg = runner.config_from_args(runner.build_parser().parse_args([*TINY, "--phrasings", "none"]))
    seen: list[tuple[float, str]] = []
    runner.run_episode(cfg, 0, lambda fraction, what: seen.append((fraction, what)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] < 0.5 and fractions[-1] == 1.0
    whats = {w.partition(":")[0] for _, w in seen}
    assert {"frames", "answers", "done"} <= whats
    assert sum(1 for _, w in seen if w == "frames") >= 5  # several updates while the frames stream
    runner.run(cfg, tmp_path / "bar", progress=True)
    err = capsys.readouterr().err
    assert "2.00/2 ep" in err and "seed 0: frames" in err
