"""``robomem ingest-bag BAG --out DIR``: build a memory offline from a rosbag2 (sqlite3 or MCAP), then save it.

Wired into ``robomem`` by :func:`add_ros_subcommands`. Needs only ``rosbags`` (no rclpy, no built
interfaces unless the bag carries robomem_interfaces/InstanceSegmentation, whose definitions are read from
msg/). The saved memory is written atomically; an existing memory at ``--out`` is only replaced with
``--force``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from robomem.errors import ConfigError

EXIT_OK, EXIT_NO_FRAMES, EXIT_USAGE = 0, 1, 2


def add_ros_subcommands(subparsers: Any) -> None:
    """Add ``ingest-bag`` to the ``robomem`` CLI's subparsers (each sets ``func`` returning an exit code)."""
    from robomem.ros.presets import PRESETS

    p = subparsers.add_parser(
        "ingest-bag",
        help="build a memory offline from a rosbag2 (sqlite3 or MCAP) and save it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bag", help="rosbag2 directory (or a single .mcap/.db3 file's directory)")
    p.add_argument("--out", required=True, help="directory to save the memory to")
    p.add_argument("--force", action="store_true", help="replace a memory already saved at --out")
    p.add_argument("--config", default="", help="MemoryConfig YAML (default: built-in defaults)")
    p.add_argument("--encoder", default="", help="override encoder.backend (gt_text, clip, hash)")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS), help="camera topic names")
    p.add_argument("--rgb-topic", default="", help="colour image topic (overrides the preset)")
    p.add_argument("--depth-topic", default="", help="depth image topic, registered to colour")
    p.add_argument("--info-topic", default="", help="colour camera_info topic")
    p.add_argument("--segmentation-topic", default="", help="robomem_interfaces/InstanceSegmentation topic")
    p.add_argument("--use-segmentation", action="store_true", help="pair the segmentation topic too")
    p.add_argument("--world-frame", default="map", help="TF frame of the memory's world")
    p.add_argument("--camera-frame", default="", help="override the colour image's header.frame_id")
    p.add_argument("--pair-tolerance", type=float, default=0.02, help="max stamp difference in a frame, s")
    p.add_argument("--tf-tolerance", type=float, default=0.05, help="TF nearest-sample tolerance, s")
    p.add_argument("--regions", default="", help="rooms YAML {name: {min: [x,y,z], max: [x,y,z]}}")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    p.set_defaults(func=cmd_ingest_bag)


def cmd_ingest_bag(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from robomem.config import MemoryConfig, apply_overrides, load_yaml
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.encoders.base import create_encoder
    from robomem.ros.bags import ingest_bag
    from robomem.ros.params import load_regions
    from robomem.ros.pipeline import PipelineConfig
    from robomem.ros.presets import get_preset

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory; choose another path")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise ConfigError(f"--out {out} is not empty; pass --force to replace the memory saved there")
    if args.max_frames < 0:
        raise ConfigError("--max-frames must be >= 0")
    from robomem.core.atomic_store import check_target, resolve_target
    from robomem.core.persistence import FORMAT

    check_target(resolve_target(out), FORMAT)  # before the work: --force never replaces what is not a memory
    cfg = load_yaml(MemoryConfig, args.config) if args.config else MemoryConfig()
    if args.encoder:
        cfg = apply_overrides(cfg, {"encoder.backend": args.encoder})
    preset = get_preset(args.preset)
    topics = replace(
        preset,
        rgb=args.rgb_topic or preset.rgb,
        depth=args.depth_topic or preset.depth,
        camera_info=args.info_topic or preset.camera_info,
        segmentation=args.segmentation_topic or preset.segmentation,
    )
    pipe = PipelineConfig(
        world_frame=args.world_frame,
        camera_frame=args.camera_frame,
        pair_tolerance_s=args.pair_tolerance,
        tf_tolerance_s=args.tf_tolerance,
        use_segmentation=bool(args.use_segmentation),
        max_future_s=cfg.ingest.max_future_s,
    )
    pipe.validate()
    memory = SpatioSemanticMemory(cfg, create_encoder(cfg.encoder), load_regions(args.regions))
    report = ingest_bag(args.bag, memory.ingest, topics, pipe, max_frames=args.max_frames)
    print(report.summary())
    if report.frames_ingested == 0:
        print(f"robomem ingest-bag: no frame could be ingested; nothing saved to {out} "
              f"(pipeline counters: {json.dumps(report.pipeline)})")
        return EXIT_NO_FRAMES
    path = memory.save(out)
    print(json.dumps({"saved": str(path), "stats": memory.stats()}, indent=2))
    return EXIT_OK
