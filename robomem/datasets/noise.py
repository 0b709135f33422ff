"""A realistic RGB-D sensor noise model, to test real-sensor handling on rendered frames.

Measured behaviour of structured-light / ToF consumer cameras (Kinect v1, PrimeSense, RealSense), applied to a
clean z-depth + colour pair:

* axial depth noise growing with z^2: sigma(z) = ``sigma0 + sigma2 * (z - 0.4)^2`` m (Nguyen et al. 2012,
  Kinect v1: 0.0012 + 0.0019 (z - 0.4)^2), quantised to whole millimetres;
* disparity quantisation of structured light: depth is ``f b / d`` with the disparity ``d`` measured in steps of
  ``disparity_step`` px (Kinect v1: f b ~ 580 px * 0.075 m, 1/8 px), so depth comes in steps of ~z^2 / 348 m
  (2.6 cm at 3 m, 7 cm at 5 m);
* flying pixels at depth discontinuities: pixels next to a jump take a depth between the two surfaces;
* invalid pixels: random dropout, dropout next to depth edges (shadows), beyond ``max_range``; encoded as 0,
  and a fraction as 65535 (the other "no measurement" code seen in 16-bit PNGs);
* colour/depth misregistration: the colour camera sits ``baseline`` m to the side of the depth camera and colour
  is not registered, so a colour pixel is shifted by ``f * baseline / z`` (plus ``offset_px``): 15-31 px at
  2-1 m with the defaults;
* JPEG colour (``jpeg_quality``, 0 = off);
* rotations orthonormal only to ~``rotation_noise`` (motion capture / text round-off);
* ground-truth pose error: each recorded pose is off the true camera pose by ~``pose_sigma_t`` m and
  ``pose_sigma_deg`` degrees (motion capture accuracy and clock offset; a few mm and a few tenths of a degree).

Everything is deterministic in the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SensorNoise:
    """Parameters of :func:`apply_noise` (see the module docstring). Defaults: a Kinect-v1-like camera."""

    sigma0: float = 0.0012
    sigma2: float = 0.0019
    edge_jump: float = 0.05  # m: neighbouring depths further apart than this (plus 3 sigma) form an edge
    flying_fraction: float = 0.5  # of the pixels at a depth edge that become flying pixels
    edge_dropout: float = 0.3  # of the (other) pixels at a depth edge that become invalid
    dropout: float = 0.01  # random invalid pixels
    invalid_max_fraction: float = 0.3  # of the invalid pixels written as 65535 instead of 0
    max_range: float = 6.0  # m: farther surfaces are invalid
    baseline: float = 0.06  # m: colour camera offset along x (misregistration f * b / z)
    offset_px: tuple[int, int] = (0, 0)
    jpeg_quality: int = 85
    rotation_noise: float = 4e-4
    disparity_fb: float = 43.5  # px m: focal length (px) * projector baseline (m); 0 = no quantisation
    disparity_step: float = 0.125  # px
    pose_sigma_t: float = 0.003  # m
    pose_sigma_deg: float = 0.15


def depth_sigma(z: np.ndarray, noise: SensorNoise) -> np.ndarray:
    """Axial noise standard deviation (m) at z-depth ``z`` (m)."""
    return noise.sigma0 + noise.sigma2 * (z - 0.4) ** 2


def edge_pixels(depth_m: np.ndarray, noise: SensorNoise) -> np.ndarray:
    """(H, W) bool: valid pixels with a 4-neighbour more than ``edge_jump`` (+ 3 sigma) away in depth."""
    d = depth_m
    out = np.zeros(d.shape, dtype=bool)
    thr = noise.edge_jump + 3 * depth_sigma(d, noise)
    for axis in (0, 1):
        diff = np.abs(np.diff(d, axis=axis))
        first = np.take(d, range(d.shape[axis] - 1), axis=axis)
        both = (first > 0) & (np.take(d, range(1, d.shape[axis]), axis=axis) > 0)
        lo = np.take(thr, range(d.shape[axis] - 1), axis=axis)
        jump = (diff > lo) & both
        if axis == 0:
            out[:-1] |= jump
            out[1:] |= jump
        else:
            out[:, :-1] |= jump
            out[:, 1:] |= jump
    return out & (d > 0)


def noisy_depth_mm(depth_m: np.ndarray, noise: SensorNoise, rng: np.random.Generator) -> np.ndarray:
    """Clean z-depth (m, 0 = none) -> noisy uint16 depth in mm (0 and 65535 = invalid)."""
    d = depth_m.astype(np.float64)
    valid = (d > 0) & np.isfinite(d) & (d <= noise.max_range)
    z = np.where(valid, d, 0.0)
    out = z + rng.normal(size=d.shape) * depth_sigma(z, noise)
    edges = edge_pixels(z, noise)
    # flying pixels: depth between this pixel's surface and its farthest/nearest 3x3 neighbour
    pad = np.pad(np.where(valid, z, np.nan), 1, mode="edge")
    stack = np.stack([pad[1 + dv: 1 + dv + d.shape[0], 1 + du: 1 + du + d.shape[1]]
                      for dv in (-1, 0, 1) for du in (-1, 0, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (no valid depth around a pixel)
        far = np.nanmax(stack, axis=0)
        near = np.nanmin(stack, axis=0)
    other = np.where(np.abs(far - z) > np.abs(near - z), far, near)
    u = rng.random(d.shape)
    fly = edges & (u < noise.flying_fraction) & np.isfinite(other)
    mix = rng.random(d.shape)
    out = np.where(fly, z + mix * (other - z), out)
    shadow = edges & ~fly & (rng.random(d.shape) < noise.edge_dropout)
    invalid = ~valid | shadow | (rng.random(d.shape) < noise.dropout)
    if noise.disparity_fb > 0 and noise.disparity_step > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            disp = np.round(noise.disparity_fb / np.where(out > 0, out, np.inf) / noise.disparity_step)
            out = np.where(disp > 0, noise.disparity_fb / (np.maximum(disp, 1.0) * noise.disparity_step), 0.0)
        invalid = invalid | ~(out > 0)
    mm = np.clip(np.round(out * 1000.0), 1, 65534).astype(np.uint16)
    code = np.where(rng.random(d.shape) < noise.invalid_max_fraction, 65535, 0).astype(np.uint16)
    return np.where(invalid, code, mm)


def misregister(rgb: np.ndarray, depth_m: np.ndarray, fx: float, noise: SensorNoise) -> np.ndarray:
    """Colour as an unregistered camera ``baseline`` m to the side sees it: pixel (u, v) shows the colour at
    ``u + fx * baseline / z + offset``. Where depth is invalid the median depth of the image is used."""
    import cv2

    h, w = depth_m.shape
    valid = depth_m > 0
    zfill = np.where(valid, depth_m, np.median(depth_m[valid]) if valid.any() else 1.0).astype(np.float32)
    shift = (fx * noise.baseline / zfill).astype(np.float32)
    map_x = (np.arange(w, dtype=np.float32)[None, :] + shift + noise.offset_px[0]).astype(np.float32)
    map_y = (np.arange(h, dtype=np.float32)[:, None] + np.zeros((1, w), np.float32) + noise.offset_px[1])
    return np.asarray(cv2.remap(rgb, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE))


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (RGB in, RGB out); ``quality`` 0 returns the input."""
    import cv2

    if quality <= 0:
        return rgb
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None
    return np.ascontiguousarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB))


def perturb_rotation(world_T_camera: np.ndarray, noise: SensorNoise, rng: np.random.Generator) -> np.ndarray:
    """The recorded pose: off the true one by ~``pose_sigma_t`` / ``pose_sigma_deg`` (a small random rigid
    motion), with its rotation entries then perturbed by ~``rotation_noise`` (no longer exactly orthonormal)."""
    T = np.array(world_T_camera, dtype=np.float64, copy=True)
    if noise.pose_sigma_t > 0 or noise.pose_sigma_deg > 0:
        import cv2

        rvec = rng.normal(size=3) * np.deg2rad(noise.pose_sigma_deg)
        R, _ = cv2.Rodrigues(rvec)
        T[:3, :3] = T[:3, :3] @ R
        T[:3, 3] += rng.normal(size=3) * noise.pose_sigma_t
    T[:3, :3] += rng.uniform(-1.0, 1.0, size=(3, 3)) * noise.rotation_noise
    return T


def apply_noise(
    rgb: np.ndarray, depth_m: np.ndarray, world_T_camera: np.ndarray, fx: float, noise: SensorNoise,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean (rgb uint8, z-depth m, pose) -> (noisy rgb, uint16 mm depth with 0/65535 invalid, perturbed pose)."""
    colour = jpeg(misregister(rgb, depth_m, fx, noise), noise.jpeg_quality)
    return colour, noisy_depth_mm(depth_m, noise, rng), perturb_rotation(world_T_camera, noise, rng)
