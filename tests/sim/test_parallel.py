"""The Ray path (a real local cluster) gives exactly the serial path's results."""

from __future__ import annotations

import pytest
from robomem_sim.parallel import run_episodes_ray
from robomem_sim.runner import RunConfig, read_jsonl, run

from robomem.errors import SimError

ray = pytest.importorskip("ray")

CFG = RunConfig(
    episodes=2,
    seed=5,
    days=1,
    width=64,
    height=48,
    perception=("gt_ids", "noisy"),
    per_family=1,
    objects=8,
    min_interactions=2,
    max_interactions=2,
    frame_every=2,
    encoder="hash",
    agents=("robomem", "no_memory"),
    families=("object_recall", "interaction_order", "counting", "absence"),
)


def _key(r):
    return (r["episode"], r["agent"], r["perception"], r["task_id"], r["phrasing"], r["phrasing_index"])


def test_ray_matches_serial(tmp_path, capsys):
    serial = run(CFG, tmp_path / "serial", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        parallel = run(CFG, tmp_path / "ray", use_ray=True, progress=True)  # the bar follows Ray's episodes
    finally:
        ray.shutdown()
    assert "2.00/2 ep" in capsys.readouterr().err
    a = sorted(read_jsonl(tmp_path / "serial" / "log.jsonl"), key=_key)
    b = sorted(read_jsonl(tmp_path / "ray" / "log.jsonl"), key=_key)
    assert len(a) == len(b) > 0
    assert a == b  # answers, plans and scores identical
    assert {r["episode"] for r in b} == {5, 6}
    assert serial["table"] == parallel["table"] and serial["results"] == parallel["results"]
    assert {r["perception"] for r in b} == {"gt_ids", "noisy", "none"} and {r["phrasing"] for r in b} == {
        "templates", "dev"}


def test_bad_cluster_settings_are_reported():
    with pytest.raises(SimError, match="num-cpus"):
        next(run_episodes_ray(CFG, [5], num_cpus=0))
