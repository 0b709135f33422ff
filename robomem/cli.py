"""The ``robomem`` command line: inspect and query saved memories, print configs, build memories from bags.

    robomem info DIR                     sizes, time range, rooms of a saved memory
    robomem query DIR locate "red mug"   run one query against a saved memory (JSON out)
    robomem config                       print the default memory config as YAML
    robomem ingest-bag BAG --out DIR     build a memory offline from a rosbag2 (sqlite3 or MCAP)
    robomem ingest-dir DIR --format tum|7scenes|redwood|scannet --out MEMORY
                                         build a memory from a recorded RGB-D dataset directory

The simulation evaluation is ``robomem-eval`` (see README).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import logging
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import yaml

from robomem.config import MemoryConfig, to_plain
from robomem.errors import RobomemError

log = logging.getLogger("robomem")

DATASET_FORMATS = ("tum", "7scenes", "redwood", "scannet")
"""``ingest-dir --format`` values (the keys of :data:`robomem.datasets.ingest.FORMATS`)."""
QUERY_NAMES = ("locate", "last_seen", "where_at", "history", "changes", "count", "relations", "state_at",
               "keyframes_for", "room_visits")


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, numpy and tuples -> plain JSON values (thumbnails summarised by shape)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if f.name == "thumbnail" and isinstance(v, np.ndarray):
                out[f.name] = {"shape": list(v.shape)}
            else:
                out[f.name] = to_jsonable(v)
        return out
    if isinstance(obj, enum.Enum):
        return obj.name if isinstance(obj.value, int) else obj.value
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


def _load(directory: str) -> Any:
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.core.persistence import read_saved_config
    from robomem.encoders.base import create_encoder

    cfg = read_saved_config(Path(directory))
    return SpatioSemanticMemory.load(directory, create_encoder(cfg.encoder))


def _cmd_info(args: argparse.Namespace) -> int:
    mem = _load(args.directory)
    t0, t1 = mem.time_range()
    info = {"stats": mem.stats(), "time_range_ns": [t0, t1], "rooms": [r.name for r in mem.regions()],
            "encoder": mem.encoder.name}
    print(json.dumps(info, indent=2))
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    mem = _load(args.directory)
    kwargs: dict[str, Any] = {}
    for item in args.arg:
        key, _, value = item.partition("=")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    if args.text is not None:
        kwargs["text"] = args.text
    fn = getattr(mem, args.name)
    try:
        result = fn(**kwargs)
    except TypeError as exc:
        print(f"robomem query: bad arguments for {args.name}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(to_jsonable(result), indent=2))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    print(yaml.safe_dump({"memory": to_plain(MemoryConfig())}, sort_keys=False), end="")
    return 0


def _parse_shift(text: str) -> Any:
    if text in ("auto", "report"):
        return text
    parts = text.replace(" ", "").split(",")
    try:
        dx, dy = (int(v) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give DX,DY in pixels, 'auto' or 'report'") from None
    return (dx, dy)


def _cmd_ingest_dir(args: argparse.Namespace) -> int:
    from robomem.config import apply_overrides, load_yaml
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.datasets.ingest import check_out_dir, ingest_sequence, read_sequence
    from robomem.datasets.options import ReaderOptions
    from robomem.encoders.base import create_encoder

    out = Path(args.out)
    check_out_dir(out, args.force)  # before any work: nothing is written unless --out may hold a memory
    cfg = load_yaml(MemoryConfig, args.config, section="memory") if args.config else MemoryConfig()
    overrides: dict[str, Any] = {}
    if args.encoder:
        overrides["encoder.backend"] = args.encoder
    if args.model_path:
        overrides["encoder.model_path"] = args.model_path
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    seq = read_sequence(args.directory, args.format, ReaderOptions(
        intrinsics=args.intrinsics, depth_scale=args.depth_scale, max_dt_s=args.max_dt,
        pose_max_gap_s=args.max_pose_gap, trajectory=args.trajectory))
    log.info("%s: %d frames listed, intrinsics %s, depth scale %g m/unit", seq.root, len(seq.records),
             seq.intrinsics, seq.depth_scale)
    regions: Any = ()
    if args.regions:
        from robomem.ros.params import load_regions

        regions = load_regions(args.regions)
    encoder = create_encoder(cfg.encoder)
    front_end = None
    pipeline = None
    if args.perception != "none" or args.perception_config:
        from robomem.perception.base import create_front_end, load_perception_config

        pcfg = load_perception_config(args.perception_config,
                                      backend=args.perception if args.perception != "none" else None)
        if pcfg.backend != "none":
            front_end = create_front_end(pcfg, encoder)
            pipeline = front_end.pipeline()
    memory = SpatioSemanticMemory(cfg, encoder, regions, pipeline=pipeline)
    report = ingest_sequence(seq, memory.ingest, front_end=front_end, every=args.every,
                             max_frames=args.max_frames, color_shift=args.color_shift,
                             progress=not args.no_progress)
    print(report.summary())
    if report.frames_ingested == 0:
        print(f"robomem ingest-dir: no frame could be ingested; nothing saved to {out}", file=sys.stderr)
        return 1
    comparison = None
    if args.compare_tsdf:
        from robomem.datasets.ingest import compare_with_tsdf

        surface, _ = memory.voxel_cloud()
        comparison = compare_with_tsdf(seq, report, surface, cfg.voxel.voxel_size, cfg.voxel.max_depth, args.every,
                                       args.max_frames, color_shift=report.color_shift_px)
        print(comparison.summary(0.05))
    check_out_dir(out, args.force)  # again: the directory may have changed during a long ingest
    path = memory.save(out)
    out_json: dict[str, Any] = {"saved": str(path), "stats": memory.stats(), "report": to_jsonable(report.to_dict())}
    if comparison is not None:
        out_json["tsdf_comparison"] = {**dataclasses.asdict(comparison), "ratio": comparison.ratio}
    print(json.dumps(out_json, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="robomem", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="sizes, time range and rooms of a saved memory")
    info.add_argument("directory")
    info.set_defaults(func=_cmd_info)
    q = sub.add_parser("query", help="run one query against a saved memory and print JSON")
    q.add_argument("directory")
    q.add_argument("name", choices=QUERY_NAMES)
    q.add_argument("text", nargs="?", default=None, help="text to search for (where the query takes one)")
    q.add_argument("--arg", action="append", default=[], metavar="KEY=JSON",
                   help="extra keyword argument, e.g. --arg t_ns=1767254400000000000 --arg k=3")
    q.set_defaults(func=_cmd_query)
    d = sub.add_parser("ingest-dir", help="build a memory from a recorded RGB-D dataset directory",
                       description="Build a memory from a TUM RGB-D, 7-Scenes, Redwood/Open3D or ScanNet (SensReader "
                                   "export) sequence and save "
                                   "it to --out (which must be new, empty, or a robomem memory with --force).")
    d.add_argument("directory", help="the sequence directory")
    d.add_argument("--format", required=True, choices=DATASET_FORMATS, help="dataset layout")
    d.add_argument("--out", required=True, help="directory to save the memory to")
    d.add_argument("--force", action="store_true", help="replace a robomem memory already saved at --out")
    d.add_argument("--config", default="", help="memory config YAML (with a top-level 'memory:' section)")
    d.add_argument("--encoder", default="", help="override encoder.backend (clip, siglip, gt_text, hash)")
    d.add_argument("--model-path", default="", help="override encoder.model_path")
    d.add_argument("--perception", default="none",
                   help="perception front end: none (geometry only), detector, dense, clustering")
    d.add_argument("--perception-config", default="", help="perception config YAML (config/perception.yaml)")
    d.add_argument("--intrinsics", default="", help="fx,fy,cx,cy of the depth image (overrides the layout's)")
    d.add_argument("--depth-scale", type=float, default=None, help="metres per depth unit (overrides the layout's)")
    d.add_argument("--max-dt", type=float, default=0.02, help="colour/depth/pose association tolerance, s (TUM)")
    d.add_argument("--max-pose-gap", type=float, default=0.1,
                   help="largest gap between two ground-truth samples a pose is interpolated over, s (TUM)")
    d.add_argument("--trajectory", default="", help="trajectory .log file (Redwood/Open3D; default: found in DIR)")
    d.add_argument("--every", type=int, default=1, help="use every n-th frame")
    d.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    d.add_argument("--color-shift", type=_parse_shift, default="report",
                   help="colour/depth misregistration: DX,DY pixels to move colour by, 'auto' (estimate and apply) "
                        "or 'report' (estimate only; default)")
    d.add_argument("--regions", default="", help="rooms YAML {name: {min: [x,y,z], max: [x,y,z]}}")
    d.add_argument("--compare-tsdf", action="store_true",
                   help="also integrate the frames into Open3D's TSDF and print the memory's surface coverage and "
                        "precision at 5 cm against it, and the ingest rate ratio")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_ingest_dir)
    c = sub.add_parser("config", help="print the default memory config (YAML)")
    c.set_defaults(func=_cmd_config)
    try:
        from robomem.ros.bag_cli import add_ros_subcommands
    except ImportError as exc:  # rosbags missing: the rest of the CLI still works
        log.debug("bag commands unavailable: %s", exc)
    else:
        add_ros_subcommands(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except RobomemError as exc:
        print(f"robomem {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
