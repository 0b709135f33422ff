"""ROS 2 edge benchmark: end-to-end ingest rate and service latency over loopback, against in-process
baselines measured in the same run.

* Ingest: a test driver publishes the synthetic scene (tests/ros/scene.py: Open3D ray-cast RGB-D, 16UC1
  depth, TF chain, camera_info, instance segmentation) at ``--rate`` Hz to an installed
  ``robomem-memory-server`` subprocess (default parameters: BEST_EFFORT depth-5 cameras, drop-oldest ingest
  queue of 4). Reported: frames published / paired by the node / ingested, the node's ingest rate, and
  the ratio to the in-process baseline (the same frames through FramePipeline + memory.ingest, no ROS).
* Services: ``--queries`` calls of Locate and GetInfo through the ROS services; p50/p95 latency vs the
  same queries on an in-process memory that ingested the same frames.

    python benchmarks/bench_ros.py                  # 640x480 at 30 Hz, 150 frames (the lead's numbers)
    python benchmarks/bench_ros.py --smoke          # 160x120, 20 frames, 10 queries: proves it runs

Needs the ROS wheels + scripts/build_ros.sh; sets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a random
ROS_DOMAIN_ID unless given.
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
from typing import Any, Callable, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ros"))

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(30, 200)))


def percentiles(samples_s: list[float]) -> dict[str, float]:
    a = np.array(samples_s) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)), "n": len(a)}


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    smoke = "--smoke" in argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=160 if smoke else 640)
    p.add_argument("--height", type=int, default=120 if smoke else 480)
    p.add_argument("--frames", type=int, default=20 if smoke else 150)
    p.add_argument("--rate", type=float, default=30.0, help="publish rate, Hz")
    p.add_argument("--queries", type=int, default=10 if smoke else 100)
    p.add_argument("--pixel-stride", type=int, default=4, help="voxel.pixel_stride of both memories")
    p.add_argument("--smoke", action="store_true", help="defaults 160x120, 20 frames, 10 queries")
    p.add_argument("--json", default="", help="also write the results here")
    args = p.parse_args(argv)

    import bagtools
    import nodetools
    import rclpy
    import scene
    import yaml

    from robomem.config import apply_overrides
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.encoders.base import create_encoder
    from robomem.ros.memory_client import RosMemoryClient
    from robomem.ros.pipeline import FramePipeline, PipelineConfig

    intr = scene.intrinsics_for(args.width, args.height)
    print(f"rendering {args.frames} frames {args.width}x{args.height} ...", flush=True)
    frames = bagtools.scene_frames(args.frames, intrinsics=intr)
    events = list(bagtools.scene_events(bagtools.Builder("rclpy"), frames))
    cfg = apply_overrides(scene.memory_config(), {"voxel.pixel_stride": args.pixel_stride})

    # ---------------------------------------------------------------- baseline: same messages, no ROS
    pipe = FramePipeline(PipelineConfig(use_segmentation=True))
    feed = {"/tf_static": lambda m: pipe.add_tf(m, True), "/tf": pipe.add_tf,
            bagtools.TOPICS["info"]: pipe.add_camera_info, bagtools.TOPICS["depth"]: pipe.add_depth,
            bagtools.TOPICS["rgb"]: pipe.add_rgb, bagtools.TOPICS["seg"]: pipe.add_segmentation}
    mem = SpatioSemanticMemory(cfg, create_encoder(cfg.encoder), scene.REGIONS)
    t0 = time.perf_counter()
    n_direct = 0
    for _, topic, msg in events:
        for out in feed[topic](msg):
            mem.ingest(out)  # type: ignore[arg-type]
            n_direct += 1
    direct_s = time.perf_counter() - t0
    direct_hz = n_direct / direct_s
    base_locate = percentiles(timed(lambda: mem.locate("red mug", k=5), args.queries))
    base_info = percentiles(timed(lambda: (mem.stats(), mem.time_range(), mem.regions()), args.queries))

    # ---------------------------------------------------------------- over ROS
    tmp = Path(tempfile.mkdtemp(prefix="bench_ros_"))
    (tmp / "memory.yaml").write_text(yaml.safe_dump({**scene.MEMORY_CONFIG,
                                                      "voxel": {**scene.MEMORY_CONFIG["voxel"],
                                                                "pixel_stride": args.pixel_stride}}))
    server_args = nodetools.server_args(tmp, tmp / "saved", extra={"memory_config_file": str(tmp / "memory.yaml"),
                                                                   "log_throttle_s": 5.0})
    server = nodetools.NodeProcess("robomem-memory-server", server_args, tmp / "server.log")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("bench_driver", context=context)
    client = RosMemoryClient(node, "/robomem", timeout_s=60.0)
    try:
        server.wait_for_log("memory server up", 120)
        pub = nodetools.ScenePublisher(node)
        pub.wait_for_subscribers()
        period = 1.0 / args.rate
        t_start = time.perf_counter()
        published = 0
        next_t = t_start
        by_stamp: dict[int, list[tuple[str, Any]]] = {}
        for stamp, topic, msg in events:
            by_stamp.setdefault(stamp, []).append((topic, msg))
        for stamp in sorted(by_stamp):
            delay = next_t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for topic, msg in by_stamp[stamp]:
                pub.pubs[topic].publish(msg)
            if any(t == bagtools.TOPICS["rgb"] for t, _ in by_stamp[stamp]):
                published += 1
            next_t += period
        publish_s = time.perf_counter() - t_start

        def settled() -> Any:
            s = client.stats()
            return s if s["ingest_pending"] == "0" and int(s.get("waiting_tf", "0")) == 0 else None

        time.sleep(0.5)
        stats = nodetools.wait_until(settled, 300, "the server to finish ingesting", interval_s=0.5)
        ros_s = time.perf_counter() - t_start
        ingested = int(stats["frames_ingested"])
        ros_locate = percentiles(timed(lambda: client.locate("red mug", k=5), args.queries))
        ros_info = percentiles(timed(lambda: client.stats(), args.queries))
    finally:
        rc = server.stop(signal.SIGINT, timeout_s=120)
        client.close()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    result = {
        "image": f"{args.width}x{args.height}",
        "publish_rate_hz": args.rate,
        "frames_published": published,
        "publish_hz_achieved": published / publish_s,
        "frames_paired_by_node": int(stats.get("paired", 0)),
        "frames_dropped_ingest_queue": int(stats.get("ingest_dropped_queue_full", 0)),
        "frames_ingested_over_ros": ingested,
        "ingested_fraction": ingested / max(published, 1),
        "ros_end_to_end_ingest_hz": ingested / ros_s,
        "in_process_ingest_hz": direct_hz,
        "ratio_ros_vs_in_process_ingest_hz": (ingested / ros_s) / direct_hz,
        "locate_ros": ros_locate,
        "locate_in_process": base_locate,
        "ratio_locate_p50": ros_locate["p50_ms"] / max(base_locate["p50_ms"], 1e-6),
        "get_info_ros": ros_info,
        "get_info_in_process": base_info,
        "server_exit_code": rc,
        "server_counters": {k: v for k, v in stats.items() if not k.startswith("pixels")},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
