"""``dense`` backend: per-pixel CLIP / SigLIP features (MaskCLIP / DynaMem style) fused into the voxels, so text
queries find things no detector vocabulary names.

The whole image (not a centre crop) is resized so its short side is the model's input size (sides rounded to the
patch size) and run through the vision tower with interpolated position embeddings. Each patch token becomes an
embedding in the model's joint text/image space:

* CLIP, ``dense_mode: maskclip``: the last layer's value path (``out_proj(v_proj(ln1(x)))``, query/key attention,
  residual and MLP skipped, as MaskCLIP / ClearCLIP do: plain patch tokens of the last layer barely localise),
  then ``post_layernorm`` and ``visual_projection``; ``tokens``: the last layer's patch tokens, same projection;
* SigLIP: each token through the attention-pooling head as if it attended only to itself (value path, output
  projection, MLP), which is what the head computes for a one-token image.

The (h, w) patch grid is upsampled bilinearly to ``dense_grid`` cells on its long side and L2-normalised; the
``dense_features`` ingest step (added after ``associate`` by :meth:`FrontEnd.pipeline`) gives every back-projected
point the feature of its cell, and the voxel map fuses them per voxel (running mean). The memory's encoder must be
the same model, so voxel features and encoded text share one space (``locate_voxels``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from robomem.core.types import Frame
from robomem.encoders.base import Encoder
from robomem.errors import EncoderError, PerceptionError
from robomem.perception.base import FrontEnd, Perception, register_backend, resolve_model, resolve_torch_device
from robomem.perception.config import PerceptionConfig

if TYPE_CHECKING:
    from robomem.core.pipeline import FrameContext
    from robomem.core.state import MemoryState

log = logging.getLogger(__name__)


class DenseBackend:
    """The ``dense`` perception backend (see the module docstring)."""

    def __init__(self, config: PerceptionConfig, encoder: Optional[Encoder] = None) -> None:
        from robomem.encoders.clip import _load

        self.config = config
        path = config.dense_model_path or (getattr(getattr(encoder, "config", None), "model_path", "") or "")
        if not path:
            raise PerceptionError("the dense backend needs a CLIP/SigLIP model: set perception.dense_model_path, or "
                                  "use encoder.backend clip/siglip with encoder.model_path")
        self.device = resolve_torch_device(config.device)
        self.model_dir = resolve_model(path, "perception.dense_model_path")
        try:
            self.model_type, self.model, _tok, self.processor = _load(self.model_dir, self.device)
        except EncoderError as exc:
            raise PerceptionError(f"dense backend: {exc}") from None
        vcfg = self.model.config.vision_config
        self.patch = int(vcfg.patch_size)
        self.input_size = int(vcfg.image_size)
        self.mean = torch.tensor(self.processor.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(self.processor.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        probe = self._features(np.zeros((self.input_size, self.input_size, 3), np.uint8))
        self.dim = int(probe.shape[-1])
        if encoder is not None and encoder.dim != self.dim:
            raise PerceptionError(
                f"dense features from {self.model_dir} are {self.dim}-d but the memory's encoder ({encoder.name}) is "
                f"{encoder.dim}-d: the memory must use the same CLIP/SigLIP model (encoder.backend clip, "
                "encoder.model_path = perception.dense_model_path)"
            )
        self.name = "dense"
        log.info("dense front end: %s (%s, %d-d, %s) on %s", self.model_dir, self.model_type, self.dim,
                 config.dense_mode, self.device)

    # -- model ------------------------------------------------------------------------------------------
    def _pixels(self, image: np.ndarray) -> torch.Tensor:
        h, w = image.shape[:2]
        s = self.input_size / min(h, w)
        th = max(self.patch, int(round(h * s / self.patch)) * self.patch)
        tw = max(self.patch, int(round(w * s / self.patch)) * self.patch)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def _features(self, image: np.ndarray) -> torch.Tensor:
        """(h, w, D) float32 unit features of the image's patch grid."""
        pv = self._pixels(image).to(self.device)
        gh, gw = pv.shape[2] // self.patch, pv.shape[3] // self.patch
        vm = self.model.vision_model
        with torch.no_grad():
            out = vm(pixel_values=pv, output_hidden_states=True, interpolate_pos_encoding=True)
            if self.model_type == "clip":
                if self.config.dense_mode == "maskclip":
                    layer = vm.encoder.layers[-1]
                    x = out.hidden_states[-2]
                    tokens = layer.self_attn.out_proj(layer.self_attn.v_proj(layer.layer_norm1(x)))[:, 1:]
                else:
                    tokens = out.last_hidden_state[:, 1:]
                feats = self.model.visual_projection(vm.post_layernorm(tokens))
            else:  # siglip: no CLS token; each token through the pooling head as a one-token image
                head = vm.head
                x = vm.post_layernorm(out.last_hidden_state)
                attn = head.attention
                d = x.shape[-1]
                v = F.linear(x, attn.in_proj_weight[2 * d:], attn.in_proj_bias[2 * d:])
                y = attn.out_proj(v)
                feats = y + head.mlp(head.layernorm(y))
        feats = feats.float()[0].reshape(gh, gw, -1)
        return F.normalize(feats, dim=-1)

    def dense(self, image: np.ndarray) -> np.ndarray:
        """(gh, gw, D) float32 unit features covering the whole image, upsampled to ``dense_grid`` cells."""
        f = self._features(image)
        gh, gw = f.shape[:2]
        scale = self.config.dense_grid / max(gh, gw)
        if scale > 1:
            th, tw = max(1, int(round(gh * scale))), max(1, int(round(gw * scale)))
            f = F.interpolate(f.permute(2, 0, 1)[None], size=(th, tw), mode="bilinear", align_corners=False)[0]
            f = F.normalize(f.permute(1, 2, 0), dim=-1)
        return np.ascontiguousarray(f.cpu().numpy(), dtype=np.float32)

    # -- PerceptionBackend --------------------------------------------------------------------------------
    def perceive(self, frames: Sequence[Frame]) -> list[Perception]:
        return [Perception(None, (), self.dense(f.rgb)) for f in frames]

    def pipeline_steps(self, front_end: FrontEnd) -> list[tuple[str, Callable[[Any, Any], None], str]]:
        def step(state: MemoryState, ctx: FrameContext) -> None:
            dense_step(self, front_end, state, ctx)

        return [("dense_features", step, "associate")]


def sample_dense(grid: np.ndarray, pixel_index: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Row of the flattened (gh, gw) ``grid`` holding each flat pixel index of an (H, W) image: (N,) int64."""
    h, w = image_hw
    gh, gw = grid.shape[:2]
    v, u = np.divmod(np.asarray(pixel_index, dtype=np.int64), w)
    return (v * gh // h) * gw + (u * gw // w)


def dense_step(backend: DenseBackend, front_end: FrontEnd, state: MemoryState, ctx: FrameContext) -> None:
    """Ingest step: every back-projected point takes the dense feature of its cell (replacing segment features
    for the voxel fusion; instances keep theirs)."""
    if len(ctx.points) == 0:
        return
    grid = front_end.take_dense(ctx.stamp_ns)
    rgb = ctx.checked.frame.rgb
    if grid is None:  # the frame was not annotated beforehand (or was resized by check_frame): compute it now
        grid = backend.dense(rgb)
    if grid.shape[-1] != state.voxels.feature_dim:
        raise PerceptionError(f"dense features are {grid.shape[-1]}-d but the voxel map stores "
                              f"{state.voxels.feature_dim}-d features; use the memory encoder's model")
    rows = sample_dense(grid, ctx.pixel_index, rgb.shape[:2])
    ctx.feature_table = torch.from_numpy(grid.reshape(-1, grid.shape[-1])).to(state.device)
    ctx.feature_rows = rows


def _factory(config: PerceptionConfig, encoder: Optional[Encoder]) -> DenseBackend:
    return DenseBackend(config, encoder)


register_backend("dense", _factory)

__all__ = ["DenseBackend", "sample_dense", "dense_step", "Path"]
