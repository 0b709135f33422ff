"""Argument and serialised-data validation helpers of :mod:`robomem.core.scene_graph`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robomem.core.types import Box3D, TimeInterval
from robomem.errors import MemoryStateError, PersistenceError


def _check_stamp(stamp_ns: Any) -> None:
    if isinstance(stamp_ns, bool) or not isinstance(stamp_ns, (int, np.integer)):
        raise MemoryStateError(f"stamp_ns must be an integer number of nanoseconds, got {stamp_ns!r}")


def _field(obj: dict[str, Any], name: str, tp: type, where: str) -> Any:
    if name not in obj:
        raise PersistenceError(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise PersistenceError(f"{where}.{name}: expected {tp.__name__}, got {type(value).__name__}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PersistenceError(f"{where}: expected an integer, got {value!r}")
    return value


def _box(value: Any, where: str) -> Box3D:
    ok = (
        isinstance(value, list) and len(value) == 2
        and all(isinstance(c, list) and len(c) == 3 for c in value)
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                for c in value for x in c)
    )
    if not ok:
        raise PersistenceError(
            f"{where}: expected [[minx, miny, minz], [maxx, maxy, maxz]] of finite numbers, got {value!r}"
        )
    mn = (float(value[0][0]), float(value[0][1]), float(value[0][2]))
    mx = (float(value[1][0]), float(value[1][1]), float(value[1][2]))
    if any(mn[i] > mx[i] for i in range(3)):
        raise PersistenceError(f"{where}: min {mn} > max {mx}")
    return Box3D(mn, mx)


def _intervals(value: Any, where: str) -> list[TimeInterval]:
    if not isinstance(value, list):
        raise PersistenceError(f"{where}: expected a list of [start_ns, end_ns|null], got {value!r}")
    out: list[TimeInterval] = []
    for j, iv in enumerate(value):
        if not isinstance(iv, list) or len(iv) != 2:
            raise PersistenceError(f"{where}[{j}]: expected [start_ns, end_ns|null], got {iv!r}")
        start = _int(iv[0], f"{where}[{j}][0]")
        end = None if iv[1] is None else _int(iv[1], f"{where}[{j}][1]")
        if end is not None and end < start:
            raise PersistenceError(f"{where}[{j}]: end {end} < start {start}")
        if out:
            prev_end = out[-1].end_ns
            if prev_end is None:
                raise PersistenceError(f"{where}[{j}]: only the last interval may be open (end null)")
            if start < prev_end:
                raise PersistenceError(
                    f"{where}[{j}]: intervals must be sorted and disjoint; starts at {start} < previous end "
                    f"{prev_end}"
                )
        out.append(TimeInterval(start, end))
    return out
