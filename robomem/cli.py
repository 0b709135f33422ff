"""The ``robomem`` command line: inspect and query saved memories, print configs, build memories from bags.

    robomem info DIR                     sizes, time range, rooms of a saved memory
    robomem query DIR locate "red mug"   run one query against a saved memory (JSON out)
    robomem config                       print the default memory config as YAML
    robomem ingest-bag BAG --out DIR     build a memory offline from a rosbag2 (sqlite3 or MCAP)

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
