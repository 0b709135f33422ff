"""Recorded RGB-D sequences: the common value types, image loading and real-sensor artefact handling.

A dataset reader (:mod:`robomem.datasets.tum`, :mod:`~robomem.datasets.sevenscenes`,
:mod:`~robomem.datasets.redwood`) turns a directory into a :class:`Sequence`: camera intrinsics, the depth
scale and an ordered list of :class:`FrameRecord` s (stamp, colour and depth file, raw pose), plus the
problems found while listing it (unassociated images, frames without a pose, missing files). Images are only
read when a frame is loaded (:func:`load_frame`), so listing a long sequence is cheap.

Real sensors are not clean, and this module says what it did about it (counted in :class:`ArtefactCounts`):

* depth 0 and 65535 (the "no measurement" codes of Kinect / PrimeSense / RealSense 16-bit PNGs) are invalid;
* colour may be JPEG (decoded with OpenCV, BGR -> RGB) and may have another size than the depth image (it is
  resized to the depth image, whose intrinsics the memory uses);
* ground-truth rotations are orthonormal only to ~1e-3 (motion capture, text round-off): they are projected onto
  the nearest rotation (SVD) and counted; a matrix further than :data:`MAX_ROTATION_ERROR` from a rotation is a
  broken pose and the frame is skipped;
* colour and depth are misregistered by some pixels on uncalibrated sensors: :func:`estimate_color_shift` measures
  the shift between colour edges and depth edges, and a known shift can be undone (:func:`shift_image`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Optional

import numpy as np

from robomem.core.types import CameraIntrinsics
from robomem.errors import DatasetError

log = logging.getLogger(__name__)

MAX_ROTATION_ERROR = 0.05
"""|R^T R - I| above this is not round-off but a broken pose: the frame is skipped."""
ORTHO_COUNT_TOLERANCE = 1e-6
"""Rotations further than this from orthonormal are re-orthonormalised *and counted*."""
INVALID_DEPTH_MAX = 65535
"""16-bit depth code meaning "no measurement" on several sensors (7-Scenes, some OpenNI drivers)."""
SYNTHETIC_T0_NS = 1_600_000_000_000_000_000
"""Start stamp given to sequences that carry no time stamps (7-Scenes, Redwood): 2020-09-13 UTC."""
SYNTHETIC_DT_NS = 33_333_333
"""Frame period of those sequences (30 Hz)."""


@dataclass(frozen=True)
class FrameRecord:
    """One listed frame: files and pose, not yet read.

    index: position in the sequence (0-based, after association); stamp_ns: acquisition time (ns);
    world_T_camera: (4, 4) float64 pose of the optical camera as read (may be slightly non-orthonormal).
    """

    index: int
    stamp_ns: int
    rgb_path: Path
    depth_path: Path
    world_T_camera: np.ndarray


@dataclass
class ListingProblems:
    """What listing a sequence found wrong (frames it could not form)."""

    unassociated_rgb: int = 0  # colour images without a depth image close enough in time
    unassociated_depth: int = 0  # depth images no colour image was paired with
    without_pose: int = 0  # colour/depth pairs without a (finite, close enough) pose
    missing_files: int = 0  # listed files that do not exist
    broken_poses: int = 0  # poses that are not rotations even approximately, or not finite
    notes: list[str] = field(default_factory=list)  # first few messages, for the report

    def note(self, message: str, limit: int = 20) -> None:
        if len(self.notes) < limit:
            self.notes.append(message)
        log.debug(message)


@dataclass(frozen=True)
class Sequence:
    """A listed RGB-D sequence (see the module docstring)."""

    name: str
    format: str
    root: Path
    intrinsics: CameraIntrinsics  # of the depth image; colour is resized to it
    depth_scale: float  # metres per 16-bit depth unit
    records: tuple[FrameRecord, ...]
    problems: ListingProblems
    synthetic_stamps: bool = False  # True when the format has no time stamps (30 Hz were assigned)


@dataclass
class ArtefactCounts:
    """Real-sensor artefacts handled while loading frames."""

    depth_invalid_zero: int = 0  # depth pixels equal to 0
    depth_invalid_max: int = 0  # depth pixels equal to 65535
    poses_reorthonormalised: int = 0
    max_rotation_error: float = 0.0  # largest |R^T R - I| seen before re-orthonormalising
    colour_resized: int = 0  # frames whose colour image had another size than the depth image
    jpeg_colour: int = 0  # frames whose colour image was a JPEG


@dataclass(frozen=True)
class LoadedFrame:
    """Images and pose of one frame, ready for :class:`robomem.core.types.Frame`.

    rgb: (H, W, 3) uint8 RGB, at the depth image's size; depth: (H, W) uint16, invalid codes set to 0;
    world_T_camera: (4, 4) float64, an exact rotation.
    """

    record: FrameRecord
    rgb: np.ndarray
    depth: np.ndarray
    world_T_camera: np.ndarray


# ------------------------------------------------------------------------------------------ parsing


def parse_stamp_ns(text: str, where: str) -> int:
    """Seconds as text ("1305031102.175304") -> int ns, exactly (no float round-off)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DatasetError(f"{where}: {text!r} is not a time stamp in seconds") from None
    if not value.is_finite() or value < 0:
        raise DatasetError(f"{where}: time stamp {text!r} must be a finite number of seconds >= 0")
    return int(value * 1_000_000_000)


def parse_floats(parts: list[str], n: int, where: str) -> np.ndarray:
    if len(parts) < n:
        raise DatasetError(f"{where}: expected {n} numbers, got {len(parts)}: {' '.join(parts)!r}")
    try:
        return np.array([float(p) for p in parts[:n]], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{where}: expected {n} numbers, got {' '.join(parts[:n])!r}") from None


def data_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, whitespace-split fields) of the non-empty, non-comment lines of a text file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not a text file") from None
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            out.append((i, s.replace(",", " ").split()))
    return out


def read_matrix_file(path: Path) -> np.ndarray:
    """A 4x4 matrix written as 4 rows of 4 numbers (7-Scenes ``.pose.txt``). Raises DatasetError."""
    rows = [fields for _, fields in data_lines(path)]
    if len(rows) < 4 or any(len(r) < 4 for r in rows[:4]):
        raise DatasetError(f"{path}: expected a 4x4 matrix (4 lines of 4 numbers)")
    return np.stack([parse_floats(r, 4, str(path)) for r in rows[:4]])


# ------------------------------------------------------------------------------------------ poses


def rotation_error(world_T_camera: np.ndarray) -> float:
    """max |R^T R - I| of the pose's rotation block (inf if not finite)."""
    R = np.asarray(world_T_camera, dtype=np.float64)[:3, :3]
    if not np.all(np.isfinite(R)):
        return float("inf")
    return float(np.abs(R.T @ R - np.eye(3)).max())


def reorthonormalise(world_T_camera: np.ndarray) -> np.ndarray:
    """The pose with its rotation replaced by the nearest proper rotation (SVD), last row [0 0 0 1]."""
    T = np.array(world_T_camera, dtype=np.float64, copy=True)
    U, _, Vt = np.linalg.svd(T[:3, :3])
    D = np.diag([1.0, 1.0, float(np.sign(np.linalg.det(U @ Vt)) or 1.0)])
    T[:3, :3] = U @ D @ Vt
    T[3] = (0.0, 0.0, 0.0, 1.0)
    return T


def check_pose(world_T_camera: np.ndarray, where: str, problems: ListingProblems) -> bool:
    """True if the pose is usable (finite, a rotation within :data:`MAX_ROTATION_ERROR`, det > 0)."""
    T = np.asarray(world_T_camera, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        problems.broken_poses += 1
        problems.note(f"{where}: pose is not a finite 4x4 matrix; frame skipped")
        return False
    err = rotation_error(T)
    if err > MAX_ROTATION_ERROR or np.linalg.det(T[:3, :3]) <= 0:
        problems.broken_poses += 1
        problems.note(f"{where}: rotation is not a rotation (|R^T R - I| = {err:.3g}); frame skipped")
        return False
    return True


def quaternion_pose(t: np.ndarray, q_xyzw: np.ndarray) -> np.ndarray:
    """Translation + quaternion (x, y, z, w; normalised here) -> 4x4 float64 pose."""
    x, y, z, w = q_xyzw / np.linalg.norm(q_xyzw)
    T = np.eye(4)
    T[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    T[:3, 3] = t
    return T


# ------------------------------------------------------------------------------------------ images


def read_depth(path: Path) -> np.ndarray:
    """A 16-bit depth PNG as (H, W) uint16 (raw codes). Raises DatasetError."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise DatasetError(f"cannot read depth image {path} (missing, truncated or not an image)")
    if img.ndim != 2 or img.dtype != np.uint16:
        raise DatasetError(
            f"depth image {path} is {img.dtype} with shape {img.shape}; expected a single-channel 16-bit PNG "
            "(8-bit or colour depth images are visualisations, not measurements)"
        )
    return img


def read_rgb(path: Path) -> np.ndarray:
    """A colour image (PNG/JPEG, 8-bit) as (H, W, 3) uint8 RGB. Raises DatasetError."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError(f"cannot read colour image {path} (missing, truncated or not an image)")
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def shift_image(rgb: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Shift an image by (dx, dy) pixels (content moves right/down), replicating the border."""
    import cv2

    if dx == 0 and dy == 0:
        return rgb
    M = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float64)
    h, w = rgb.shape[:2]
    return np.asarray(cv2.warpAffine(rgb, M, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE))


MAX_COLOR_SHIFT = 40
"""Largest colour/depth misregistration searched for, pixels."""


def _edge_maps(rgb: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(colour edges, depth edges), each (H, W) float32 in [0, 1]: the strongest 10 % of intensity gradients and
    relative depth jumps > 5 % of a 5x5-median-filtered depth, blurred by 1.5 px."""
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    d = np.where(depth == INVALID_DEPTH_MAX, 0, depth).astype(np.float32)
    d = np.asarray(cv2.medianBlur(d, 5), dtype=np.float32)
    logd = np.log(np.where(d > 0, d, 1.0))
    jump = np.zeros_like(d)
    gy = np.abs(np.diff(logd, axis=0))
    gx = np.abs(np.diff(logd, axis=1))
    jump[:-1] = np.maximum(jump[:-1], gy)
    jump[:, :-1] = np.maximum(jump[:, :-1], gx)
    jump[d == 0] = 0
    de = (jump > 0.05).astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    ce = (mag > max(float(np.percentile(mag, 90)), 1e-3)).astype(np.float32)
    return cv2.GaussianBlur(ce, (0, 0), 1.5), cv2.GaussianBlur(de, (0, 0), 1.5)


def color_shift_scores(rgb: np.ndarray, depth: np.ndarray, max_shift: int = MAX_COLOR_SHIFT) -> np.ndarray:
    """Cross-correlation of colour edges shifted by (dx, dy) with depth edges, for |dx|, |dy| <= ``max_shift``:
    (2 max_shift + 1, 2 max_shift + 1) float64 indexed [dy + max_shift, dx + max_shift], normalised so that
    perfectly matching edge maps score 1. Sum it over frames for a sequence estimate."""
    ce, de = _edge_maps(rgb, depth)
    h, w = ce.shape
    H, W = h + max_shift, w + max_shift
    fc = np.fft.rfft2(ce, s=(H, W))
    fd = np.fft.rfft2(de, s=(H, W))
    corr = np.fft.irfft2(fd * np.conj(fc), s=(H, W))  # corr[dy, dx] = sum de(p) ce(p - (dx, dy))
    ys = np.r_[H - max_shift:H, 0:max_shift + 1]
    xs = np.r_[W - max_shift:W, 0:max_shift + 1]
    out = corr[np.ix_(ys, xs)]
    norm = float(np.sqrt((ce * ce).sum() * (de * de).sum()))
    return np.asarray(out / norm if norm > 0 else out * 0.0, dtype=np.float64)


def best_shift(scores: np.ndarray) -> tuple[float, float, float]:
    """(dx, dy, score) of the maximum of :func:`color_shift_scores` (summed or not)."""
    m = (scores.shape[0] - 1) // 2
    iy, ix = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(ix - m), float(iy - m), float(scores[iy, ix])


def estimate_color_shift(rgb: np.ndarray, depth: np.ndarray) -> tuple[float, float, float]:
    """Shift (dx, dy) in pixels that moves the colour image's edges onto the depth image's edges, and the
    normalised edge correlation there (0..1, higher = more reliable). ``shift_image(rgb, dx, dy)`` then
    registers colour to depth. Depth edges are depth discontinuities; colour edges are intensity gradients."""
    return best_shift(color_shift_scores(rgb, depth))


def load_frame(seq: Sequence, record: FrameRecord, counts: ArtefactCounts,
               color_shift: tuple[int, int] = (0, 0)) -> LoadedFrame:
    """Read one frame's images, apply the artefact handling of the module docstring, count what was done.

    Raises DatasetError when an image cannot be read."""
    import cv2

    depth = read_depth(record.depth_path)
    rgb = read_rgb(record.rgb_path)
    if record.rgb_path.suffix.lower() in (".jpg", ".jpeg"):
        counts.jpeg_colour += 1
    h, w = depth.shape
    if (w, h) != (seq.intrinsics.width, seq.intrinsics.height):
        raise DatasetError(
            f"depth image {record.depth_path} is {w}x{h} but the sequence's intrinsics are for "
            f"{seq.intrinsics.width}x{seq.intrinsics.height}; give --intrinsics for this image size"
        )
    if rgb.shape[:2] != depth.shape:
        rgb = np.ascontiguousarray(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))
        counts.colour_resized += 1
    rgb = shift_image(rgb, *color_shift)
    zero = depth == 0
    maxed = depth == INVALID_DEPTH_MAX
    counts.depth_invalid_zero += int(zero.sum())
    n_max = int(maxed.sum())
    counts.depth_invalid_max += n_max
    if n_max:
        depth = np.where(maxed, np.uint16(0), depth)
    err = rotation_error(record.world_T_camera)
    counts.max_rotation_error = max(counts.max_rotation_error, err)
    pose = np.asarray(record.world_T_camera, dtype=np.float64)
    if err > 0 or np.any(pose[3] != (0.0, 0.0, 0.0, 1.0)):
        if err > ORTHO_COUNT_TOLERANCE:
            counts.poses_reorthonormalised += 1
        pose = reorthonormalise(pose)
    return LoadedFrame(record, rgb, depth, pose)


def find_file(path: Path, problems: ListingProblems, what: str) -> Optional[Path]:
    """``path`` if it is a file, else None (counted as missing)."""
    if path.is_file():
        return path
    problems.missing_files += 1
    problems.note(f"{what} {path} is listed but does not exist; frame skipped")
    return None


def first_depth_shape(records: tuple[FrameRecord, ...] | list[FrameRecord], tries: int = 10) -> tuple[int, int]:
    """(H, W) of the first readable depth image among the first ``tries`` records (a corrupt first frame is
    skipped later, counted, and must not stop the listing). Raises DatasetError naming the files when none is."""
    errors = []
    for rec in records[:tries]:
        try:
            h, w = read_depth(rec.depth_path).shape
            return int(h), int(w)
        except DatasetError as exc:
            errors.append(str(exc))
    raise DatasetError(f"none of the first {min(tries, len(records))} depth images can be read: "
                       + "; ".join(errors[:3]))


def synthetic_stamp(i: int) -> int:
    return SYNTHETIC_T0_NS + i * SYNTHETIC_DT_NS


def parse_intrinsics(text: str, width: int, height: int) -> CameraIntrinsics:
    """"fx,fy,cx,cy" (or "fx,fy,cx,cy,width,height") -> CameraIntrinsics. Raises DatasetError."""
    parts = text.replace(" ", ",").split(",")
    parts = [p for p in parts if p]
    if len(parts) not in (4, 6):
        raise DatasetError(f"--intrinsics {text!r}: give fx,fy,cx,cy or fx,fy,cx,cy,width,height")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise DatasetError(f"--intrinsics {text!r}: not numbers") from None
    if len(vals) == 6:
        width, height = int(vals[4]), int(vals[5])
    if not all(np.isfinite(vals)) or vals[0] <= 0 or vals[1] <= 0 or width <= 0 or height <= 0:
        raise DatasetError(f"--intrinsics {text!r}: need finite fx, fy > 0 and a positive image size")
    return CameraIntrinsics(vals[0], vals[1], vals[2], vals[3], width, height)
