"""``robomem-eval``: run the FindingDory-style suite with robomem and its baselines side by side.

For each seeded episode: generate the house and the oracle's day(s), render every frame ONCE and feed it to
every agent, ask every task of every family, score each answer (:mod:`robomem_sim.scoring`). Output, under
``--out`` (default ``runs/<timestamp>``):

* ``run.json``      the settings (a resumed run must use the same ones);
* ``log.jsonl``     one line per task per agent (the answer, its plan, the score), appended atomically per
                    episode (the whole file is rewritten to a temp file in the same directory + ``os.replace``);
* ``episodes.jsonl`` one line per episode (frames, tasks, per-agent ingest / answer seconds);
* ``summary.json``  per agent and category: n, success rate (HL-SR), SPL, distance-/coverage-only success,
                    failure modes; overall, "moved objects" and "multi-goal" rows; timings; target checks;
* ``report.md``     the same as tables, and ``success.png`` (success per category per agent).

``--resume DIR`` continues a run: episodes already in ``DIR/log.jsonl`` are skipped. ``--ray`` runs episodes in
parallel on a local Ray cluster (``--num-cpus``) or an existing one (``--address``); the results are identical
to the serial path (episodes are deterministic and the log is ordered by episode).

Speed: torch runs with one thread per process (``--torch-threads``): the memory's many small tensor ops are
several times faster single-threaded on a busy 2-core machine than with torch's default thread pool.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from robomem_sim.agents import AGENT_NAMES
from robomem_sim.episode_run import MULTI_GOAL_FAMILIES, EpisodeResult, expected_values, run_episode
from robomem_sim.run_config import RunConfig
from robomem_sim.types import TaskFamily

from robomem.errors import RobomemError, SimError

__all__ = [
    "MULTI_GOAL_FAMILIES",
    "EpisodeResult",
    "RunConfig",
    "append_jsonl_atomic",
    "done_episodes",
    "expected_values",
    "main",
    "read_jsonl",
    "run",
    "run_episode",
]

_LOG = logging.getLogger(__name__)


# ============================================================================================ files


def append_jsonl_atomic(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to a JSON-lines file atomically: the old content plus the new lines are written to a
    temp file in the same directory, fsynced, and moved over the file (a crash leaves the old file intact)."""
    path = Path(path)
    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):
        raise SimError(f"{path} does not end with a newline (truncated?); fix or remove it before resuming")
    new = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
    _write_atomic(path, old + new)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    _write_atomic(Path(path), (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file ([] when it does not exist). Raises SimError naming the bad line."""
    path = Path(path)
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SimError(f"{path}:{i} is not valid JSON ({exc}); the log is corrupt, start a new --out") from None
    return out


def done_episodes(out_dir: Path) -> set[int]:
    """Episode seeds already in ``out_dir/log.jsonl``."""
    return {int(r["episode"]) for r in read_jsonl(Path(out_dir) / "log.jsonl")}


# ============================================================================================ a run


def _serial(cfg: RunConfig, seeds: Sequence[int],
            progress: Callable[[int, float, str], None]) -> Iterator[EpisodeResult]:
    for s in seeds:
        yield run_episode(cfg, s, lambda fraction, what, seed=s: progress(seed, fraction, what))


class _EpisodeBar:
    """Progress over episodes: those done plus the fraction of each running one (frames, then answers), so
    the bar moves during the two long episodes of the default run (serial or on Ray)."""

    def __init__(self, bar: Any, done: int) -> None:
        self.bar = bar
        self.done = done
        self.running: dict[int, float] = {}

    def __call__(self, seed: int, fraction: float, what: str) -> None:
        self.running[seed] = max(self.running.get(seed, 0.0), min(1.0, float(fraction)))
        self.bar.n = round(self.done + sum(self.running.values()), 2)
        self.bar.set_postfix_str(f"seed {seed}: {what}", refresh=False)
        self.bar.refresh()


def run(
    cfg: RunConfig,
    out_dir: Path,
    use_ray: bool = False,
    num_cpus: Optional[int] = None,
    address: Optional[str] = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the evaluation into ``out_dir``; returns the summary (also written to summary.json)."""
    from robomem_sim.report import summarize_run, write_report

    t0 = time.perf_counter()
    cfg.validate()
    out_dir = Path(out_dir)
    run_json = out_dir / "run.json"
    if resume:
        if not run_json.exists():
            raise SimError(f"--resume {out_dir}: no run.json there; is it a robomem-eval output directory?")
        saved = RunConfig.from_dict(json.loads(run_json.read_text())["config"])
        if saved.result_fields() != cfg.result_fields():
            diff = {
                k: (saved.result_fields()[k], v)
                for k, v in cfg.result_fields().items()
                if saved.result_fields().get(k) != v
            }
            raise SimError(
                f"--resume {out_dir}: settings differ from the saved run (saved, now): {diff}; "
                "resume with the same flags or start a new --out"
            )
    elif (out_dir / "log.jsonl").exists():
        raise SimError(f"{out_dir} already holds a run; use --resume {out_dir} or another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_json, {"config": cfg.to_dict(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    done = done_episodes(out_dir) if resume else set()
    todo = [s for s in cfg.episode_seeds() if s not in done]
    if done & set(cfg.episode_seeds()):
        _LOG.info("resuming: %d episode(s) done, %d to run", len(done & set(cfg.episode_seeds())), len(todo))
    from tqdm import tqdm

    bar = tqdm(
        total=len(cfg.episode_seeds()),
        initial=len(cfg.episode_seeds()) - len(todo),
        desc="episodes",
        unit="ep",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.2f}/{total} ep [{elapsed}<{remaining}{postfix}]",
    )
    tracker = _EpisodeBar(bar, len(cfg.episode_seeds()) - len(todo))
    if use_ray and todo:
        from robomem_sim.parallel import run_episodes_ray

        results: Iterator[EpisodeResult] = run_episodes_ray(cfg, todo, num_cpus=num_cpus, address=address,
                                                            progress=tracker if progress else None)
    else:
        results = _serial(cfg, todo, tracker)
    try:
        for res in results:
            append_jsonl_atomic(out_dir / "episodes.jsonl", [res.meta])
            append_jsonl_atomic(out_dir / "log.jsonl", res.records)
            tracker(res.seed, 1.0, f"{res.meta['frames']} frames, {res.meta['tasks']} tasks")
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    seeds = set(cfg.episode_seeds())
    # episode order, not finishing order (Ray): the summary's sums are then bit-identical to the serial run's
    records = sorted((r for r in read_jsonl(out_dir / "log.jsonl") if int(r["episode"]) in seeds),
                     key=lambda r: int(r["episode"]))
    # one meta line per episode (the last): a run stopped between writing an episode's meta and its records
    # reruns that episode on --resume and writes its meta again
    last_meta = {int(m["episode"]): m for m in read_jsonl(out_dir / "episodes.jsonl") if int(m["episode"]) in seeds}
    metas = [last_meta[k] for k in sorted(last_meta)]
    summary = summarize_run(records, metas, list(cfg.agents), cfg.to_dict(), wall_s=wall)
    write_json_atomic(out_dir / "summary.json", summary)
    write_report(out_dir, summary)
    return summary


# ============================================================================================ CLI


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _interactions(text: str) -> tuple[int, int]:
    try:
        if "-" in text:
            a, b = text.split("-", 1)
            return int(a), int(b)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--interactions must be N or MIN-MAX per day, got {text!r}") from None


def _resolution(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--resolution must be WIDTHxHEIGHT, e.g. 160x120, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    d = RunConfig()
    p = argparse.ArgumentParser(
        prog="robomem-eval",
        description="Evaluate robomem and baselines on FindingDory-style long-horizon memory tasks "
        "(built-in simulator; perception modes gt_ids, gt_segments, noisy, unlabelled; template texts and "
        "people's phrasings).",
    )
    # defaults are None so that a resumed run takes its saved settings unless a flag is given explicitly
    p.add_argument("--episodes", type=int, help=f"number of seeded episodes (default {d.episodes})")
    p.add_argument("--seed", type=int, help=f"first episode seed (default {d.seed})")
    p.add_argument("--days", type=int, help=f"simulated days per episode (default {d.days})")
    p.add_argument(
        "--interactions",
        type=_interactions,
        help=f"oracle pick-and-places per day, N or MIN-MAX (default {d.min_interactions}-{d.max_interactions})",
    )
    p.add_argument("--objects", type=int, help=f"objects per house (default {d.objects})")
    p.add_argument("--rooms", type=int, help=f"rooms per house, 2-10 (default {d.rooms})")
    p.add_argument("--steps-per-day", type=int,
                   help=f"clock steps per 16-hour day; a frame every --frame-every steps while the robot works "
                   f"(default {d.steps_per_day}: 1 s steps)")
    p.add_argument("--resolution", type=_resolution, help=f"camera WIDTHxHEIGHT (default {d.width}x{d.height})")
    p.add_argument(
        "--frame-every", type=int, help=f"a frame every k clock steps while active (default {d.frame_every})"
    )
    p.add_argument("--per-family", type=int, help=f"tasks per family per episode (default {d.per_family})")
    p.add_argument("--task-seed", type=int, help=f"seed of the task sampling (default {d.task_seed})")
    p.add_argument(
        "--agents",
        type=_csv,
        help=f"comma-separated agents (default {','.join(d.agents)}; all: {','.join(AGENT_NAMES)})",
    )
    p.add_argument(
        "--families",
        type=_csv,
        help=f"comma-separated task families (default: all of {','.join(f.value for f in TaskFamily)})",
    )
    p.add_argument(
        "--perception",
        type=_csv,
        help=f"comma-separated perception modes every memory agent runs in (default {','.join(d.perception)})",
    )
    p.add_argument(
        "--noise-seed", type=int, help=f"seed of the noisy/unlabelled perception draws (default {d.noise_seed})"
    )
    p.add_argument(
        "--phrasings",
        help="phrasing file (JSON, see robomem_sim.phrasings): every task is also asked in its phrasings; "
        "'none' = template texts only (default: the shipped sim/phrasings/dev.json)",
    )
    p.add_argument(
        "--phrasing-agents",
        type=_csv,
        help=f"agents asked the phrasings too (default {','.join(d.phrasing_agents)}; the others: template "
        "texts only)",
    )
    p.add_argument(
        "--no-action-events",
        action="store_true",
        default=None,
        help="do not feed the robot's own pick/place events to the memories (video only, FindingDory's setting)",
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a named set of defaults the other flags override: findingdory = FindingDory-scale days "
        "(400-3,500 frames a day, several days) on Ray",
    )
    p.add_argument("--encoder", help=f"memory encoder: gt_text or hash (default {d.encoder})")
    p.add_argument("--vlm-planner", help=f"planner backend of robomem_vlm (default {d.vlm_planner})")
    p.add_argument("--planner-config", help="planner.yaml with the robomem_vlm endpoint/model (default: built-in)")
    p.add_argument("--last-n", type=int, help=f"frames kept by last_n_frames (default {d.last_n})")
    p.add_argument("--uniform-k", type=int, help=f"frames kept by uniform_keyframes (default {d.uniform_k})")
    p.add_argument("--sim-config", help="a sim.yaml the flags override (default: built-in defaults)")
    p.add_argument("--torch-threads", type=int, help=f"torch threads per process (default {d.torch_threads})")
    p.add_argument("--out", type=Path, help="output directory (default runs/<timestamp>)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR, skipping finished episodes")
    p.add_argument("--ray", action="store_true", help="run episodes in parallel on Ray (the default when there are "
                   "several episodes to run and Ray is installed; results are identical to --serial)")
    p.add_argument("--serial", action="store_true", help="run episodes one after another in this process")
    p.add_argument("--num-cpus", type=int, default=None,
                   help=f"CPUs of the local Ray cluster (default: {DEFAULT_RAY_CPUS}, or all with --ray)")
    p.add_argument("--address", default=None, help="address of an existing Ray cluster (implies --ray)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


PRESETS: dict[str, dict[str, Any]] = {
    "findingdory": {"episodes": 8, "days": 3, "min_interactions": 2, "max_interactions": 11, "width": 160,
                    "height": 120, "frame_every": 1, "per_family": 6, "rooms": 8, "objects": 30,
                    "steps_per_day": 115200},
}
"""Named defaults (``--preset``). findingdory: FindingDory-scale days - 8-room houses with 30 objects, 2-11
pick-and-places a day, two frames per second while the robot works (0.5 s clock steps): several hundred to a few
thousand frames a day, like FindingDory's 400-3,500 - three days, eight episodes, 160x120; run with Ray on every
core."""


def config_from_args(args: argparse.Namespace, base: Optional[RunConfig] = None) -> RunConfig:
    """``base`` (defaults, a preset, or a resumed run's settings) with the flags that were given applied."""
    cfg = base or RunConfig()
    if getattr(args, "preset", None):
        cfg = dataclasses.replace(cfg, **PRESETS[args.preset])
    over: dict[str, Any] = {}
    simple = {
        "episodes": "episodes",
        "vlm_planner": "vlm_planner",
        "planner_config": "planner_config",
        "seed": "seed",
        "days": "days",
        "objects": "objects",
        "rooms": "rooms",
        "steps_per_day": "steps_per_day",
        "frame_every": "frame_every",
        "per_family": "per_family",
        "task_seed": "task_seed",
        "agents": "agents",
        "families": "families",
        "encoder": "encoder",
        "last_n": "last_n",
        "uniform_k": "uniform_k",
        "sim_config": "sim_config",
        "torch_threads": "torch_threads",
        "perception": "perception",
        "noise_seed": "noise_seed",
        "phrasing_agents": "phrasing_agents",
    }
    for arg, fld in simple.items():
        v = getattr(args, arg, None)
        if v is not None:
            over[fld] = v
    if getattr(args, "phrasings", None) is not None:
        over["phrasings"] = "" if args.phrasings.strip().lower() in ("", "none") else args.phrasings
    if getattr(args, "no_action_events", None):
        over["action_events"] = False
    if args.interactions is not None:
        over["min_interactions"], over["max_interactions"] = args.interactions
    if args.resolution is not None:
        over["width"], over["height"] = args.resolution
    return dataclasses.replace(cfg, **over)


DEFAULT_RAY_CPUS = 2
"""Ray CPUs of the default local cluster (this project's reference machine has 2 cores)."""


def _use_ray(args: argparse.Namespace, cfg: RunConfig, out: Path) -> bool:
    """Ray when asked (``--ray``, ``--address``, the findingdory preset) or, unless ``--serial``, when at least
    two episodes are left to run and Ray is installed."""
    if args.serial:
        if args.ray or args.address:
            raise SimError("give either --serial or --ray/--address, not both")
        return False
    if args.ray or args.address or getattr(args, "preset", None) == "findingdory":
        return True
    done = done_episodes(out) if args.resume is not None else set()
    if len([s for s in cfg.episode_seeds() if s not in done]) < 2:
        return False
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.resume is not None:
            if args.out is not None and Path(args.out) != Path(args.resume):
                raise SimError("give either --resume DIR or --out DIR, not two different directories")
            run_json = Path(args.resume) / "run.json"
            if not run_json.exists():
                raise SimError(f"--resume {args.resume}: no run.json there; is it a robomem-eval output directory?")
            base = RunConfig.from_dict(json.loads(run_json.read_text())["config"])
            cfg = config_from_args(args, base)
            out = Path(args.resume)
        else:
            cfg = config_from_args(args)
            out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        summary = run(
            cfg,
            out,
            use_ray=_use_ray(args, cfg, out),
            num_cpus=args.num_cpus if args.num_cpus is not None else (None if args.ray else DEFAULT_RAY_CPUS),
            address=args.address,
            resume=args.resume is not None,
            progress=not args.no_progress,
        )
    except RobomemError as exc:
        print(f"robomem-eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("robomem-eval: interrupted; finished episodes are in the log, continue with --resume", file=sys.stderr)
        return 130
    from robomem_sim.report import format_console

    print(format_console(summary))
    print(f"\nwrote {out}/log.jsonl, summary.json, report.md, success.png")
    wall = summary.get("timings", {}).get("wall_seconds")
    if wall is not None:
        print(f"wall time: {wall:.1f} s ({wall / 60:.1f} min)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
