"""Soak benchmark: a static scene streamed through the ROS memory server for minutes; is its memory bounded?

A test driver renders ``--views`` camera views of the synthetic scene (tests/ros/scene.py: a table, a mug and
a book; Open3D ray-cast RGB-D, 16UC1 depth, TF chain, camera_info, instance segmentation) once, then publishes
them in a loop at ``--rate`` Hz, restamped so time keeps going forward, to an installed
``robomem-memory-server`` subprocess (default parameters, ``--pixel-stride`` for both). Nothing in the world
changes, so nothing the memory keeps should grow: every ``--sample-s`` seconds the resident set size of the
server and its camera intake child process (``/proc/<pid>/status`` VmRSS, summed) and the memory counters
(voxels, instances, keyframes, scene-graph edges, frames ingested) are recorded. Reported: the RSS curve, and
its growth from the end of the first minute (warm-up: allocator pools, FAISS/torch buffers, the first views) to
the end; target < 5 %. Written: ``--out`` JSON and a PNG plot of RSS and voxels over time.

    nice -n 10 python benchmarks/bench_soak.py                  # 10 minutes, 640x480 at 30 Hz
    nice -n 10 python benchmarks/bench_soak.py --hour           # 60 minutes
    python benchmarks/bench_soak.py --smoke                     # 160x120, 20 s, samples every 4 s

Needs the ROS wheels + scripts/build_ros.sh; sets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a random
ROS_DOMAIN_ID unless given. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ros"))
sys.path.insert(0, str(REPO / "benchmarks"))

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(30, 200)))

MIB = 1024 * 1024


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def rss_bytes(pid: int) -> int:
    """Resident set size in bytes of ``pid`` and its child processes (the memory server's camera intake
    process), from VmRSS of /proc/<pid>/status."""
    total, found = 0, False
    for p in [pid, *_children(pid)]:
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue  # a child that just exited
        for line in lines:
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
                found = True
    if not found:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return total


def growth_after_warmup(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """RSS growth from the first sample at or after ``warmup_s`` to the last one."""
    after = [s for s in samples if s["t_s"] >= warmup_s] or samples[-1:]
    base, end = after[0], samples[-1]
    return {"from_t_s": base["t_s"], "to_t_s": end["t_s"], "rss_from_mib": base["rss_mib"],
            "rss_to_mib": end["rss_mib"], "growth_pct": 100.0 * (end["rss_mib"] - base["rss_mib"]) / base["rss_mib"],
            "rss_max_mib": max(s["rss_mib"] for s in after)}


def plot(samples: list[dict[str, Any]], growth: dict[str, Any], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_s"] / 60.0 for s in samples]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(t, [s["rss_mib"] for s in samples], "o-", color="tab:blue", label="server RSS (MiB)")
    ax.axvline(growth["from_t_s"] / 60.0, color="gray", ls=":", lw=1)
    ax.set_xlabel("minutes of streaming")
    ax.set_ylabel("RSS (MiB)", color="tab:blue")
    ax.set_ylim(0, max(s["rss_mib"] for s in samples) * 1.15)
    ax2 = ax.twinx()
    ax2.plot(t, [s["voxels"] for s in samples], "s--", color="tab:orange", label="voxels")
    ax2.set_ylabel("voxels in memory", color="tab:orange")
    ax2.set_ylim(0, max(max(s["voxels"] for s in samples) * 1.15, 1))
    ax.set_title(f"{title}\nRSS growth after warm-up: {growth['growth_pct']:+.2f} % (target < 5 %)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    smoke = "--smoke" in argv
    hour = "--hour" in argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=0.34 if smoke else 60.0 if hour else 10.0)
    p.add_argument("--hour", action="store_true", help="stream for 60 minutes")
    p.add_argument("--sample-s", type=float, default=4.0 if smoke else 60.0, help="s between RSS samples")
    p.add_argument("--warmup-s", type=float, default=None,
                   help="growth is measured from the first sample at or after this (default 60 s; smoke: 1 sample)")
    p.add_argument("--width", type=int, default=160 if smoke else 640)
    p.add_argument("--height", type=int, default=120 if smoke else 480)
    p.add_argument("--rate", type=float, default=30.0, help="publish rate, Hz")
    p.add_argument("--views", type=int, default=16, help="camera views of the static scene, cycled")
    p.add_argument("--pixel-stride", type=int, default=4, help="voxel.pixel_stride of the server")
    p.add_argument("--out", default="", help="directory for soak.json and soak.png (default: a temp dir)")
    p.add_argument("--server-param", action="append", default=[], metavar="NAME=YAML",
                   help="extra memory-server parameter (repeatable)")
    p.add_argument("--server-exe", default="robomem-memory-server",
                   help="the server executable in the venv's bin (e.g. a wrapper that profiles it)")
    p.add_argument("--smoke", action="store_true", help="160x120, 20 s, a sample every 4 s")
    args = p.parse_args(argv)
    warmup_s = (args.sample_s if smoke else 60.0) if args.warmup_s is None else args.warmup_s

    import bagtools
    import nodetools
    import rclpy
    import scene
    import yaml
    from bench_ros import restamp

    from robomem.ros.memory_client import RosMemoryClient

    out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_soak_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    intr = scene.intrinsics_for(args.width, args.height)
    print(f"rendering {args.views} views {args.width}x{args.height} ...", flush=True)
    frames = bagtools.scene_frames(args.views, intrinsics=intr)
    by_stamp: dict[int, list[tuple[str, Any]]] = {}
    static_tf = None
    for stamp, topic, msg in bagtools.scene_events(bagtools.Builder("rclpy"), frames):
        if topic == "/tf_static":
            static_tf = msg
        else:
            by_stamp.setdefault(stamp, []).append((topic, msg))
    stamps = sorted(by_stamp)
    span = stamps[-1] - stamps[0] + scene.DT_NS

    tmp = Path(tempfile.mkdtemp(prefix="bench_soak_server_"))
    (tmp / "memory.yaml").write_text(yaml.safe_dump({**scene.MEMORY_CONFIG,
                                                      "voxel": {**scene.MEMORY_CONFIG["voxel"],
                                                                "pixel_stride": args.pixel_stride}}))
    extra = {"memory_config_file": str(tmp / "memory.yaml"), "log_throttle_s": 30.0, "save_on_shutdown": False}
    for kv in args.server_param:
        name, _, value = kv.partition("=")
        extra[name] = yaml.safe_load(value)
    server_args = nodetools.server_args(tmp, tmp / "saved", extra=extra)
    server = nodetools.NodeProcess(args.server_exe, server_args, tmp / "server.log")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("soak_driver", context=context)
    client = RosMemoryClient(node, "/robomem", timeout_s=60.0)
    samples: list[dict[str, Any]] = []
    published = 0
    try:
        server.wait_for_log("memory server up", 120)
        pub = nodetools.ScenePublisher(node)
        pub.wait_for_subscribers()
        pub.pubs["/tf_static"].publish(static_tf)

        def sample(t_s: float) -> None:
            s = client.stats()
            row = {"t_s": round(t_s, 1), "rss_mib": round(rss_bytes(server.proc.pid) / MIB, 1),
                   "frames_published": published, "frames_ingested": int(s["frames_ingested"]),
                   "voxels": int(s["voxels"]), "instances": int(s["instances"]), "keyframes": int(s["keyframes"]),
                   "graph_edges": int(s["graph_edges"]), "dropped_queue": int(s.get("ingest_dropped_queue_full", 0))}
            samples.append(row)
            print(json.dumps(row), flush=True)

        duration = args.minutes * 60.0
        period = 1.0 / args.rate
        t0 = time.perf_counter()
        sample(0.0)
        next_pub, next_sample, cycle = t0, t0 + args.sample_s, 1
        while True:
            for stamp in stamps:
                now = time.perf_counter()
                if now >= next_sample:
                    sample(now - t0)
                    next_sample += args.sample_s
                if now - t0 >= duration:
                    break
                if next_pub > now:
                    time.sleep(next_pub - now)
                for topic, msg in by_stamp[stamp]:
                    pub.pubs[topic].publish(restamp(msg, topic, stamp + cycle * span))
                published += 1
                next_pub += period
            else:
                cycle += 1
                continue
            break
        if samples[-1]["t_s"] < duration - 1.0:
            sample(time.perf_counter() - t0)
    finally:
        rc = server.stop(signal.SIGINT, timeout_s=120)
        client.close()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    growth = growth_after_warmup(samples, warmup_s)
    result = {
        "image": f"{args.width}x{args.height}", "rate_hz": args.rate, "views": args.views,
        "minutes": args.minutes, "frames_published": published,
        "frames_ingested": samples[-1]["frames_ingested"], "rss_growth_after_warmup": growth,
        "target_growth_lt_5pct": "met" if growth["growth_pct"] < 5.0 else "NOT met",
        "static_scene": {k: sorted({s[k] for s in samples if s["t_s"] >= warmup_s}) for k in
                         ("instances", "keyframes", "graph_edges")},
        "server_exit_code": rc, "samples": samples,
    }
    (out_dir / "soak.json").write_text(json.dumps(result, indent=2))
    plot(samples, growth, f"robomem-memory-server, static scene {args.width}x{args.height} at {args.rate:g} Hz, "
         f"{args.minutes:g} min", out_dir / "soak.png")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    print(f"wrote {out_dir / 'soak.json'} and {out_dir / 'soak.png'} (server log: {tmp / 'server.log'})")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
