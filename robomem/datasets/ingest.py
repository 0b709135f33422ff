"""Build a memory from a recorded RGB-D sequence: list it, load each frame (artefacts handled and counted),
optionally run a perception front end on it, ingest it, and report what happened.

Used by ``robomem ingest-dir DIR --format tum|7scenes|redwood|scannet --out MEMORY`` (:mod:`robomem.cli`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Union
from typing import Sequence as Seq

import numpy as np

from robomem.core import atomic_store, persistence
from robomem.core.types import Frame
from robomem.datasets.base import (
    ArtefactCounts,
    Sequence,
    best_shift,
    color_shift_scores,
    load_frame,
    read_depth,
    read_rgb,
)
from robomem.datasets.options import ReaderOptions
from robomem.datasets.redwood import read_redwood
from robomem.datasets.scannet import read_scannet
from robomem.datasets.sevenscenes import read_7scenes
from robomem.datasets.tum import read_tum
from robomem.errors import DatasetError, FrameError, PersistenceError

log = logging.getLogger(__name__)

Reader = Callable[[Path, ReaderOptions], Sequence]
FORMATS: dict[str, Reader] = {
    "tum": read_tum, "7scenes": read_7scenes, "redwood": read_redwood, "scannet": read_scannet,
}
"""Dataset layout name -> reader."""

def read_sequence(root: Union[str, Path], fmt: str, options: Optional[ReaderOptions] = None) -> Sequence:
    """List the sequence at ``root`` in layout ``fmt`` (a key of :data:`FORMATS`). Raises DatasetError."""
    opts = options or ReaderOptions()
    opts.validate()
    try:
        reader = FORMATS[fmt]
    except KeyError:
        raise DatasetError(f"unknown dataset format {fmt!r}; choose one of {sorted(FORMATS)}") from None
    path = Path(root)
    if not path.is_dir():
        raise DatasetError(f"dataset directory {path} does not exist or is not a directory")
    try:
        return reader(path, opts)
    except DatasetError as exc:
        guess = guess_format(path)
        if guess is not None and guess != fmt:
            raise DatasetError(f"{exc}; {path} looks like a {guess} sequence: try --format {guess}") from None
        raise


def guess_format(root: Path) -> Optional[str]:
    """The layout ``root`` looks like (a key of :data:`FORMATS`), from the names of its entries; None if unclear."""
    try:
        names = {p.name.lower(): p for p in root.iterdir()}
    except OSError:
        return None
    if "rgb.txt" in names and "depth.txt" in names:
        return "tum"
    if any(n.startswith("frame-") and n.endswith(".pose.txt") for n in names) or any(
            n.startswith("seq-") and p.is_dir() for n, p in names.items()):
        return "7scenes"
    if "depth" in names and "pose" in names and "color" in names:
        return "scannet"
    if "depth" in names and any(n in names for n in ("color", "colors", "image", "rgb")) and any(
            n.endswith(".log") or (n.endswith(".txt") and "traj" in n) for n in names):
        return "redwood"
    return None


def is_memory_dir(path: Path) -> bool:
    """True if ``path`` holds a robomem memory (a manifest naming the robomem format)."""
    try:
        data = json.loads((path / atomic_store.MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == persistence.FORMAT.name


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse an output path that is not (or would not become only) a robomem memory.

    Allowed: a path that does not exist, an empty directory, or (with ``force``) a directory holding a robomem
    memory, which the save then replaces atomically. The store's own target checks
    (:func:`robomem.core.atomic_store.check_target`) run too. Raises DatasetError; nothing is written."""
    try:
        target = atomic_store.resolve_target(out)
        atomic_store.check_target(target, persistence.FORMAT)
    except PersistenceError as exc:
        raise DatasetError(f"--out: {exc}") from None
    if is_memory_dir(target) and not force:
        raise DatasetError(f"--out {out} already holds a robomem memory; pass --force to replace it")


@dataclass
class DatasetReport:
    """What ``ingest-dir`` did."""

    sequence: str
    format: str
    frames_listed: int
    frames_ingested: int = 0
    frames_rejected: int = 0
    frames_unreadable: int = 0
    reject_reasons: Counter[str] = field(default_factory=Counter)
    unassociated_rgb: int = 0
    unassociated_depth: int = 0
    without_pose: int = 0
    missing_files: int = 0
    broken_poses: int = 0
    synthetic_stamps: bool = False
    color_shift_px: tuple[int, int] = (0, 0)
    color_shift_estimate: Optional[tuple[float, float, float]] = None  # dx, dy, response
    artefacts: ArtefactCounts = field(default_factory=ArtefactCounts)
    perception_s: float = 0.0
    ingest_s: float = 0.0  # time inside the memory's ingest calls (no image decoding, no perception)
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rate_hz(self) -> float:
        return self.frames_ingested / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["reject_reasons"] = dict(self.reject_reasons)
        d["rate_hz"] = round(self.rate_hz, 2)
        return d

    def summary(self) -> str:
        a = self.artefacts
        lines = [
            f"{self.format} sequence {self.sequence}: {self.frames_ingested}/{self.frames_listed} frames ingested "
            f"in {self.elapsed_s:.1f} s ({self.rate_hz:.1f} frames/s)",
            f"  not formed: {self.unassociated_rgb} colour / {self.unassociated_depth} depth image(s) unassociated, "
            f"{self.without_pose} without pose, {self.broken_poses} broken pose(s), "
            f"{self.missing_files} missing file(s)",
            f"  skipped: {self.frames_unreadable} unreadable, {self.frames_rejected} rejected "
            f"{dict(self.reject_reasons) if self.reject_reasons else ''}".rstrip(),
            f"  artefacts: {a.depth_invalid_zero} depth pixels 0, {a.depth_invalid_max} depth pixels 65535 (invalid); "
            f"{a.poses_reorthonormalised} rotation(s) re-orthonormalised (max |R^T R - I| {a.max_rotation_error:.2g}); "
            f"{a.colour_resized} colour image(s) resized to the depth size; {a.jpeg_colour} JPEG colour image(s)",
        ]
        if self.color_shift_estimate is not None:
            dx, dy, r = self.color_shift_estimate
            lines.append(f"  colour/depth registration: estimated shift ({dx:+.1f}, {dy:+.1f}) px "
                         f"(edge correlation {r:.2f}); applied "
                         f"({self.color_shift_px[0]:+d}, {self.color_shift_px[1]:+d}) px")
        if self.synthetic_stamps:
            lines.append("  this layout has no time stamps: frames were stamped at 30 Hz")
        lines += [f"  note: {n}" for n in self.notes[:10]]
        return "\n".join(lines)


def estimate_sequence_shift(seq: Sequence, samples: int = 8) -> tuple[float, float, float]:
    """Colour->depth edge shift (dx, dy, mean correlation) maximising the edge correlation summed over ``samples``
    frames spread over the sequence (see :func:`robomem.datasets.base.color_shift_scores`)."""
    import cv2

    idx = np.unique(np.linspace(0, len(seq.records) - 1, num=min(samples, len(seq.records))).round().astype(int))
    total: Optional[np.ndarray] = None
    n = 0
    for i in idx.tolist():
        r = seq.records[i]
        try:
            depth = read_depth(r.depth_path)
            rgb = read_rgb(r.rgb_path)
        except DatasetError:
            continue
        if rgb.shape[:2] != depth.shape:
            rgb = cv2.resize(rgb, (depth.shape[1], depth.shape[0]), interpolation=cv2.INTER_AREA)
        s = color_shift_scores(rgb, depth)
        total = s if total is None else total + s
        n += 1
    if total is None:
        return 0.0, 0.0, 0.0
    dx, dy, score = best_shift(total)
    return dx, dy, score / n


class FrontEnd(Protocol):
    """What ingest needs of a perception front end (:class:`robomem.perception.base.FrontEnd`)."""

    def annotate(self, frames: Seq[Frame]) -> list[Frame]: ...


def ingest_sequence(
    seq: Sequence,
    ingest: Callable[[Frame], Any],
    *,
    front_end: Optional[FrontEnd] = None,
    every: int = 1,
    max_frames: int = 0,
    color_shift: Union[str, tuple[int, int]] = (0, 0),
    progress: bool = True,
) -> DatasetReport:
    """Feed the sequence's frames to ``ingest`` (e.g. ``memory.ingest``), in order.

    every: use every n-th frame; max_frames: stop after this many ingested (0 = all); color_shift: (dx, dy)
    pixels to move the colour image by, or "auto" (estimated from edges, see :func:`estimate_sequence_shift`),
    or "report" (estimated and reported, not applied); front_end: annotates the frames (segments, labels) in
    batches of its ``config.batch_size`` before they are ingested. Frames whose images cannot be read, or that
    the memory rejects (:class:`FrameError`), are skipped and counted; other errors propagate."""
    from tqdm import tqdm

    if every < 1 or max_frames < 0:
        raise DatasetError("--every must be >= 1 and --max-frames >= 0")
    p = seq.problems
    report = DatasetReport(
        seq.name, seq.format, len(seq.records), unassociated_rgb=p.unassociated_rgb,
        unassociated_depth=p.unassociated_depth, without_pose=p.without_pose, missing_files=p.missing_files,
        broken_poses=p.broken_poses, synthetic_stamps=seq.synthetic_stamps, notes=list(p.notes),
    )
    shift: tuple[int, int] = (0, 0)
    if isinstance(color_shift, str):
        if color_shift not in ("auto", "report"):
            raise DatasetError(f"--color-shift {color_shift!r}: give DX,DY pixels, 'auto' or 'report'")
        report.color_shift_estimate = estimate_sequence_shift(seq)
        if color_shift == "auto":
            shift = (int(round(report.color_shift_estimate[0])), int(round(report.color_shift_estimate[1])))
    else:
        shift = (int(color_shift[0]), int(color_shift[1]))
    report.color_shift_px = shift
    records = seq.records[::every]
    total = min(len(records), max_frames) if max_frames else len(records)
    batch = max(1, int(getattr(getattr(front_end, "config", None), "batch_size", 1))) if front_end else 1
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc=f"ingest {seq.name}", unit="frame", disable=not progress, leave=False)
    pending: list[Frame] = []

    def flush() -> None:
        frames = pending[:]
        pending.clear()
        if front_end is not None and frames:
            tp = time.perf_counter()
            frames = front_end.annotate(frames)
            report.perception_s += time.perf_counter() - tp
        for frame in frames:
            ti = time.perf_counter()
            try:
                ingest(frame)
            except FrameError as exc:
                report.ingest_s += time.perf_counter() - ti
                report.frames_rejected += 1
                reason = str(exc).split(";")[0][:80]
                report.reject_reasons[reason] += 1
                log.debug("frame at %d ns rejected: %s", frame.stamp_ns, exc)
                continue
            report.ingest_s += time.perf_counter() - ti
            report.frames_ingested += 1
            bar.update(1)

    try:
        for rec in records:
            if max_frames and report.frames_ingested + len(pending) >= max_frames:
                break
            try:
                loaded = load_frame(seq, rec, report.artefacts, shift)
            except DatasetError as exc:
                report.frames_unreadable += 1
                report.notes.append(str(exc))
                log.warning("%s", exc)
                continue
            pending.append(Frame(rgb=loaded.rgb, depth=loaded.depth, intrinsics=seq.intrinsics,
                                 world_T_camera=loaded.world_T_camera, stamp_ns=rec.stamp_ns,
                                 depth_scale=seq.depth_scale))
            if len(pending) >= batch:
                flush()
        flush()
    finally:
        bar.close()
        report.elapsed_s = time.perf_counter() - t0
    return report


@dataclass(frozen=True)
class TsdfComparison:
    """``ingest-dir --compare-tsdf``: the memory's surface against Open3D's TSDF of the same frames."""

    coverage: float
    precision: float
    tsdf_rate_hz: float
    memory_rate_hz: float
    n_map: int
    n_reference: int

    @property
    def ratio(self) -> float:
        return self.memory_rate_hz / self.tsdf_rate_hz if self.tsdf_rate_hz > 0 else 0.0

    def summary(self, tol: float) -> str:
        return (f"vs Open3D TSDF of the same frames ({self.n_reference} surface points, {self.n_map} map voxels): "
                f"coverage {100 * self.coverage:.1f} %, precision {100 * self.precision:.1f} % at {100 * tol:.0f} cm; "
                f"memory ingest {self.memory_rate_hz:.1f} frames/s vs TSDF {self.tsdf_rate_hz:.1f} frames/s "
                f"({self.ratio:.2f}x; the memory's rate includes everything its ingest does)")


def compare_with_tsdf(seq: Sequence, report: DatasetReport, surface_points: np.ndarray, voxel_size: float,
                      depth_max: float, every: int = 1, max_frames: int = 0, tol: float = 0.05,
                      color_shift: tuple[int, int] = (0, 0)) -> TsdfComparison:
    """Integrate the frames ``ingest_sequence`` used into Open3D's TSDF (timed, integration only) and score the
    memory's surface voxels against its surface (:mod:`robomem.datasets.tsdf_reference`)."""
    from robomem.datasets.tsdf_reference import TsdfReference, surface_metrics

    ref = TsdfReference(voxel_size, depth_max)
    counts = ArtefactCounts()
    n = 0
    for rec in seq.records[::every]:
        if max_frames and n >= max_frames:
            break
        try:
            loaded = load_frame(seq, rec, counts, color_shift)
        except DatasetError:
            continue
        ref.integrate_prepared(ref.prepare(loaded.depth, loaded.rgb, seq.intrinsics, loaded.world_T_camera,
                                           seq.depth_scale))
        n += 1
    m = surface_metrics(surface_points, ref.surface(), tol)
    mem_rate = report.frames_ingested / report.ingest_s if report.ingest_s > 0 else 0.0
    return TsdfComparison(m.coverage, m.precision, ref.rate_hz, mem_rate, m.n_map, m.n_reference)
