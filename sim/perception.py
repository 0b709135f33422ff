"""Perception modes: what the robot's perception front end hands the memory, derived from one ground-truth render.

Each frame is rendered once (:func:`robomem_sim.episode.iter_frames`: RGB, depth, per-pixel simulator ids,
exact labels) and converted per mode by a :class:`Perceiver`:

==============  ===============================================================================================
``gt_ids``      the render as is: persistent simulator ids (a perfect tracker), exact labels, exact depth/pose.
``gt_segments`` per-frame segment ids (re-drawn every frame: no tracker), exact masks, labels, depth and pose.
``noisy``       per-frame ids plus a seeded detector/sensor/localisation model (:class:`~robomem_sim.config.
                NoiseConfig`): missed detections (more for small segments), spurious segments on the background,
                label confusion among similar categories / colours / materials, mask erosion and bleed at
                segment boundaries, depth noise growing with z^2 plus dropouts, slow pose drift (a mean-reverting
                random walk of the robot's own pose estimate, also in its action events).
``unlabelled``  ``noisy`` without labels and without the receptacle flags: what a class-agnostic segmenter (SAM
                style) gives; the memory's image encoder must name things itself.
==============  ===============================================================================================

Every random draw comes from ``numpy.random.default_rng([seed, episode seed, frame index, mode])`` (the pose
drift of a frame from the episode's drift trajectory, itself drawn from ``[seed, episode seed, mode]``), so a
converted frame depends only on (seed, episode, frame, mode), not on which other modes or frames were converted.
Per-frame ids are positive int32 values, distinct within a frame, unrelated between frames.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Sequence

import numpy as np
from robomem_sim.config import NoiseConfig

from robomem.core.types import NO_INSTANCE, Frame
from robomem.errors import SimError

__all__ = [
    "CATEGORY_CONFUSIONS",
    "COLOUR_CONFUSIONS",
    "MATERIAL_CONFUSIONS",
    "PERCEPTION_MODES",
    "PerceivedFrame",
    "PerceptionMode",
    "Perceiver",
    "parse_modes",
]


class PerceptionMode(enum.Enum):
    """What the memory is given (see the module docstring)."""

    GT_IDS = "gt_ids"
    GT_SEGMENTS = "gt_segments"
    NOISY = "noisy"
    UNLABELLED = "unlabelled"

    @property
    def persistent_ids(self) -> bool:
        """Whether the mask ids are stable object ids (only ``gt_ids``)."""
        return self is PerceptionMode.GT_IDS

    @property
    def noisy(self) -> bool:
        return self in (PerceptionMode.NOISY, PerceptionMode.UNLABELLED)


PERCEPTION_MODES = tuple(m.value for m in PerceptionMode)
_MODE_CODE = {m: i + 1 for i, m in enumerate(PerceptionMode)}


def parse_modes(names: Sequence[str]) -> tuple[PerceptionMode, ...]:
    """Mode names -> modes (order kept). Raises SimError naming an unknown or repeated mode."""
    out: list[PerceptionMode] = []
    for n in names:
        try:
            m = PerceptionMode(n)
        except ValueError:
            raise SimError(f"unknown perception mode {n!r}; choose from {', '.join(PERCEPTION_MODES)}") from None
        if m in out:
            raise SimError(f"perception mode {n!r} is listed twice")
        out.append(m)
    if not out:
        raise SimError(f"give at least one perception mode ({', '.join(PERCEPTION_MODES)})")
    return tuple(out)


def _groups(*groups: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for g in groups:
        for a in g:
            out.setdefault(a, [])
            out[a].extend(b for b in g if b != a and b not in out[a])
    return {k: tuple(v) for k, v in out.items()}


CATEGORY_CONFUSIONS: dict[str, tuple[str, ...]] = _groups(
    ("mug", "can", "bottle", "vase", "candle"),
    ("bowl", "plate", "basket", "hat"),
    ("phone", "remote", "wallet", "keychain"),
    ("book", "box", "laptop"),
    ("pillow", "towel", "toy"),
    ("plant", "vase"),
    ("apple", "toy", "bowl"),
    ("shoe", "toy"),
    ("alarm clock", "box", "phone"),
    ("table", "desk", "dining table", "coffee table"),
    ("cabinet", "dresser", "nightstand", "vanity"),
    ("sofa", "bench", "bed"),
    ("shelf", "cabinet"),
    ("washing machine", "cabinet"),
    ("counter", "table"),
    ("tv stand", "cabinet", "coffee table"),
)
"""A detector's typical category confusions (look-alikes); a confused label picks one uniformly."""

COLOUR_CONFUSIONS: dict[str, tuple[str, ...]] = _groups(
    ("grey", "silver", "white"),
    ("red", "orange", "pink"),
    ("pink", "purple"),
    ("yellow", "orange", "beige"),
    ("teal", "green", "blue"),
    ("black", "grey", "brown"),
    ("beige", "white", "brown"),
)
"""Colours a detector mixes up under varying light."""

MATERIAL_CONFUSIONS: dict[str, tuple[str, ...]] = _groups(
    ("plastic", "metal"),
    ("ceramic", "glass", "plastic"),
    ("wooden", "wicker", "cardboard"),
    ("fabric", "cotton", "wool", "leather"),
    ("stone", "ceramic"),
    ("paper", "cardboard"),
)
"""Materials a detector mixes up."""


@dataclass(frozen=True, eq=False)
class PerceivedFrame:
    """One frame as a perception mode delivers it.

    ``frame``: what the memory ingests; ``segment_of``: simulator id -> this frame's segment id for every
    entity that has a segment in it (missed ones are absent; identity in ``gt_ids``); ``drift``: the pose
    error (dx m, dy m, dyaw rad) applied to this frame's pose (zeros outside the noisy modes).
    """

    frame: Frame
    segment_of: Mapping[int, int]
    drift: tuple[float, float, float] = (0.0, 0.0, 0.0)


class Perceiver:
    """Converts one episode's ground-truth frames for one perception mode (see the module docstring).

    ``labels``: simulator id -> exact label for every entity (``House.labels()``); ``receptacle_ids``: the
    receptacles' simulator ids; ``stamps_ns``: every frame's stamp, in order (the drift trajectory); ``seed``:
    the noise seed of the run; ``category_names``: object categories spurious segments are named after.
    """

    def __init__(
        self,
        mode: PerceptionMode,
        episode_seed: int,
        labels: Mapping[int, str],
        receptacle_ids: frozenset[int],
        stamps_ns: Sequence[int],
        noise: Optional[NoiseConfig] = None,
        seed: int = 0,
        category_names: Sequence[str] = ("mug", "book", "box", "bottle", "toy"),
        spurious_colours: Sequence[str] = ("red", "blue", "green", "white", "black", "grey"),
    ) -> None:
        self.mode = mode
        self.episode_seed = int(episode_seed)
        self.labels = dict(labels)
        self.receptacle_ids = frozenset(receptacle_ids)
        self.noise = noise or NoiseConfig()
        self.noise.validate()
        self.seed = int(seed)
        self.category_names = tuple(category_names)
        self.spurious_colours = tuple(spurious_colours)
        self._parts = {sid: _split(lab) for sid, lab in self.labels.items()}
        self._drift = self._drift_trajectory(np.asarray(stamps_ns, dtype=np.int64))

    # ------------------------------------------------------------------------------------------ drift
    def _drift_trajectory(self, stamps_ns: np.ndarray) -> np.ndarray:
        """(N, 3) pose error per frame: an Ornstein-Uhlenbeck process in x, y (m) and yaw (rad)."""
        n = len(stamps_ns)
        out = np.zeros((n, 3))
        nz = self.noise
        if not self.mode.noisy or n == 0 or (nz.pose_drift_m == 0 and nz.pose_drift_deg == 0):
            return out
        rng = np.random.default_rng([self.seed, self.episode_seed, _MODE_CODE[self.mode], 0xD81F7])
        sigma = np.array([nz.pose_drift_m, nz.pose_drift_m, math.radians(nz.pose_drift_deg)])
        z = rng.standard_normal((n, 3))
        x = z[0] * sigma
        out[0] = x
        dt = np.diff(stamps_ns).astype(np.float64) / 1e9
        decay = np.exp(-np.maximum(dt, 0.0) / nz.pose_drift_tau_s)
        for k in range(1, n):
            a = decay[k - 1]
            x = x * a + sigma * math.sqrt(max(0.0, 1.0 - a * a)) * z[k]
            out[k] = x
        return out

    def drift_at(self, index: int) -> tuple[float, float, float]:
        """The pose error (dx, dy, dyaw) of frame ``index``."""
        d = self._drift[index]
        return (float(d[0]), float(d[1]), float(d[2]))

    def drift_near(self, stamp_ns: int, stamps_ns: np.ndarray) -> tuple[float, float, float]:
        """The pose error of the last frame at or before ``stamp_ns`` (the first frame before any)."""
        if len(self._drift) == 0:
            return (0.0, 0.0, 0.0)
        k = max(0, int(np.searchsorted(stamps_ns, stamp_ns, side="right")) - 1)
        return self.drift_at(min(k, len(self._drift) - 1))

    @staticmethod
    def apply_drift(world_T_x: np.ndarray, drift: tuple[float, float, float]) -> np.ndarray:
        """``world_T_x`` as the drifting robot believes it: rotated by dyaw about the vertical through its own
        origin, then shifted by (dx, dy)."""
        dx, dy, dyaw = drift
        if dx == 0.0 and dy == 0.0 and dyaw == 0.0:
            return np.array(world_T_x, dtype=np.float64, copy=True)
        c, s = math.cos(dyaw), math.sin(dyaw)
        Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        T = np.array(world_T_x, dtype=np.float64, copy=True)
        T[:3, :3] = Rz @ T[:3, :3]
        T[0, 3] += dx
        T[1, 3] += dy
        return T

    # ------------------------------------------------------------------------------------------ frames
    def convert(self, index: int, frame: Frame) -> PerceivedFrame:
        """Frame ``index`` of the episode (ground truth from ``iter_frames``) as this mode delivers it."""
        if self.mode is PerceptionMode.GT_IDS:
            if frame.instance_mask is None:
                return PerceivedFrame(frame, {})
            ids = np.unique(frame.instance_mask)
            return PerceivedFrame(frame, {int(i): int(i) for i in ids if i != NO_INSTANCE})
        if frame.instance_mask is None:
            raise SimError("a ground-truth frame needs an instance mask to be converted")
        if index < 0:
            raise SimError(f"frame index {index} is negative")
        rng = np.random.default_rng([self.seed, self.episode_seed, int(index), _MODE_CODE[self.mode]])
        mask = frame.instance_mask.astype(np.int64)
        depth = frame.depth
        T = frame.world_T_camera
        drift = (0.0, 0.0, 0.0)
        spurious: dict[int, str] = {}
        if self.mode.noisy:
            nz = self.noise
            mask = _jitter_edges(mask, nz.edge_flip_prob, rng)
            mask = self._drop_missed(mask, rng)
            mask, spurious = self._add_spurious(mask, rng)
            depth = _noisy_depth(np.asarray(frame.depth, dtype=np.float32), frame.depth_scale, nz, rng)
            if index < len(self._drift):
                drift = self.drift_at(index)
                T = self.apply_drift(T, drift)
        # per-frame ids: a fresh random id per entity present
        present = [int(v) for v in np.unique(mask) if v != NO_INSTANCE]
        new_ids = _distinct_ids(rng, len(present))
        segment_of = {sid: int(nid) for sid, nid in zip(present, new_ids)}
        lut_keys = np.array(present, dtype=np.int64)
        out_mask = np.full(mask.shape, NO_INSTANCE, dtype=np.int32)
        if present:
            pos = np.searchsorted(lut_keys, mask)
            pos = np.clip(pos, 0, len(lut_keys) - 1)
            hit = lut_keys[pos] == mask
            out_mask[hit] = new_ids[pos[hit]]
        labels: dict[int, str] = {}
        receptacles: frozenset[int] = frozenset()
        if self.mode is not PerceptionMode.UNLABELLED:
            for sid in present:
                if sid in spurious:
                    labels[segment_of[sid]] = spurious[sid]
                else:
                    labels[segment_of[sid]] = self._label(sid, rng)
            receptacles = frozenset(segment_of[s] for s in present if s in self.receptacle_ids)
        # spurious segments are not simulator entities: keep them out of segment_of
        segment_of = {s: i for s, i in segment_of.items() if s not in spurious}
        out = replace(frame, depth=depth, world_T_camera=T, instance_mask=out_mask, instance_labels=labels,
                      receptacle_ids=receptacles)
        return PerceivedFrame(out, segment_of, drift)

    def _label(self, sid: int, rng: np.random.Generator) -> str:
        colour, material, category = self._parts.get(sid, ("", "", self.labels.get(sid, "")))
        if self.mode.noisy:
            nz = self.noise
            category = _confuse(category, CATEGORY_CONFUSIONS, nz.category_confusion_prob, rng)
            colour = _confuse(colour, COLOUR_CONFUSIONS, nz.colour_confusion_prob, rng)
            material = _confuse(material, MATERIAL_CONFUSIONS, nz.material_confusion_prob, rng)
        return " ".join(x for x in (colour, material, category) if x)

    def _drop_missed(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        nz = self.noise
        vals, counts = np.unique(mask[mask != NO_INSTANCE], return_counts=True)
        if len(vals) == 0:
            return mask
        u = rng.random(len(vals))
        small = nz.miss_small_pixels
        p = np.full(len(vals), nz.miss_prob)
        if small > 0:
            frac = np.clip(1.0 - counts / small, 0.0, 1.0)
            p = p + (1.0 - nz.miss_prob) * 0.5 * frac
        missed = vals[u < p]
        if len(missed) == 0:
            return mask
        out = mask.copy()
        out[np.isin(mask, missed)] = NO_INSTANCE
        return out

    def _add_spurious(self, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[int, str]]:
        nz = self.noise
        n = int(rng.poisson(nz.spurious_per_frame)) if nz.spurious_per_frame > 0 else 0
        if n == 0:
            return mask, {}
        h, w = mask.shape
        out = mask.copy()
        names: dict[int, str] = {}
        side_max = max(2, int(math.sqrt(nz.spurious_max_pixels)))
        for k in range(n):
            sh = int(rng.integers(2, side_max + 1))
            sw = int(rng.integers(2, side_max + 1))
            if sh >= h or sw >= w:
                continue
            v0 = int(rng.integers(0, h - sh))
            u0 = int(rng.integers(0, w - sw))
            patch = out[v0 : v0 + sh, u0 : u0 + sw]
            free = patch == NO_INSTANCE
            if not free.any():
                continue
            fake = -2 - k  # a temporary id below NO_INSTANCE; replaced by a per-frame id
            patch[free] = fake
            colour = self.spurious_colours[int(rng.integers(len(self.spurious_colours)))]
            category = self.category_names[int(rng.integers(len(self.category_names)))]
            names[fake] = f"{colour} {category}"
        return out, names


def _split(label: str) -> tuple[str, str, str]:
    """"<colour> <material> <category>" -> parts (a multi-word category keeps its words)."""
    words = label.split()
    if len(words) < 3:
        return ("", "", label)
    return (words[0], words[1], " ".join(words[2:]))


def _confuse(value: str, table: Mapping[str, tuple[str, ...]], p: float, rng: np.random.Generator) -> str:
    u = rng.random()  # always drawn, so one confusion does not shift the others' draws
    j = rng.random()
    options = table.get(value, ())
    if not options or u >= p:
        return value
    return options[min(int(j * len(options)), len(options) - 1)]


def _jitter_edges(mask: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Every pixel whose neighbour in a random direction has another id takes that id with probability ``p``
    (one segment erodes where its neighbour, or the background, bleeds in)."""
    u = rng.random(mask.shape)
    direction = rng.integers(0, 4, size=mask.shape)
    if p <= 0:
        return mask
    padded = np.pad(mask, 1, mode="edge")
    h, w = mask.shape
    nbrs = np.stack([padded[0:h, 1 : w + 1], padded[2 : h + 2, 1 : w + 1], padded[1 : h + 1, 0:w],
                     padded[1 : h + 1, 2 : w + 2]])
    nb = np.take_along_axis(nbrs, direction[None], axis=0)[0]
    flip = (nb != mask) & (u < p)
    return np.where(flip, nb, mask)


def _noisy_depth(depth: np.ndarray, depth_scale: float, nz: NoiseConfig, rng: np.random.Generator) -> np.ndarray:
    """Depth with std ``a + b z^2`` Gaussian noise and random dropouts (0); float32 metres or the input's
    uint16 units."""
    z = depth.astype(np.float64) * (depth_scale if depth.dtype == np.uint16 else 1.0)
    noise = rng.standard_normal(z.shape)
    drop = rng.random(z.shape) < nz.depth_dropout
    valid = np.isfinite(z) & (z > 0)
    zn = np.where(valid, z + noise * (nz.depth_sigma_m + nz.depth_sigma_z2 * z * z), 0.0)
    zn = np.where(drop | (zn <= 0), 0.0, zn)
    if depth.dtype == np.uint16:
        return np.clip(np.round(zn / depth_scale), 0, 65535).astype(np.uint16)
    return zn.astype(np.float32)


def _distinct_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct positive int32 ids (per-frame segment ids)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    while True:
        ids = rng.integers(1, 2**31 - 1, size=n, dtype=np.int64)
        if len(np.unique(ids)) == n:
            return ids
