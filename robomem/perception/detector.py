"""``detector`` backend: open-vocabulary detection (OWLv2 / OWL-ViT from transformers) prompted with
``PerceptionConfig.vocabulary``, then a mask per box from SAM (``mask_model_path``) or, without a mask model,
from the depth inside the box (:func:`box_to_depth_segment`).

Per frame: boxes whose best vocabulary score (sigmoid of the OWL class logit) reaches ``score_threshold``,
per-label non-maximum suppression at ``nms_iou``, at most ``max_detections``; masks are painted in order of
decreasing score (a pixel belongs to the best detection that claims it); segments smaller than
``min_mask_pixels`` are dropped. Labels are vocabulary words (the memory embeds them with its text encoder);
``receptacles`` words are flagged as receptacles.

Models: ``detector_model_path`` is a local directory written by ``save_pretrained`` (model + tokenizer +
``preprocessor_config.json``) of an ``owlv2`` or ``owlvit`` checkpoint (e.g. google/owlv2-base-patch16-ensemble),
``mask_model_path`` one of a ``sam`` checkpoint (e.g. facebook/sam-vit-base); loaded with ``local_files_only``,
with the PIL image processors (no torchvision). Frames are batched (``batch_size``) on ``device``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from robomem.core.types import NO_INSTANCE, Frame
from robomem.encoders.base import Encoder
from robomem.errors import PerceptionError
from robomem.perception.base import (
    Perception,
    Segment,
    boxes_iou,
    register_backend,
    resolve_model,
    resolve_torch_device,
)
from robomem.perception.config import PerceptionConfig

log = logging.getLogger(__name__)

_DETECTORS = {"owlv2": ("Owlv2ForObjectDetection", "Owlv2ImageProcessorPil"),
              "owlvit": ("OwlViTForObjectDetection", "OwlViTImageProcessorPil")}


def _model_type(model_dir: Path) -> str:
    import transformers

    if not (model_dir / "config.json").is_file():
        raise PerceptionError(f"{model_dir} has no config.json; save the model there with save_pretrained")
    try:
        cfg = transformers.AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PerceptionError(f"{model_dir}/config.json could not be read ({exc})") from None
    return str(getattr(cfg, "model_type", ""))


def _load_pretrained(cls: Any, model_dir: Path, what: str) -> Any:
    try:
        return cls.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise PerceptionError(f"could not load the {what} from {model_dir} ({type(exc).__name__}: {exc}); put the "
                              "files written by save_pretrained there") from None


class OwlDetector:
    """OWLv2 / OWL-ViT: (image, vocabulary) -> boxes, scores, labels."""

    def __init__(self, model_path: str, vocabulary: Sequence[str], device: torch.device) -> None:
        import transformers

        self.model_dir = resolve_model(model_path, "perception.detector_model_path")
        mtype = _model_type(self.model_dir)
        if mtype not in _DETECTORS:
            raise PerceptionError(f"{self.model_dir} holds a {mtype!r} model; the detector backend loads "
                                  f"{sorted(_DETECTORS)} (OWLv2 / OWL-ViT) checkpoints")
        model_cls, proc_cls = (getattr(transformers, n) for n in _DETECTORS[mtype])
        self.model = _load_pretrained(model_cls, self.model_dir, f"{mtype} detector").eval().to(device)
        self.processor = _load_pretrained(proc_cls, self.model_dir, "image processor (preprocessor_config.json)")
        self.tokenizer = _load_pretrained(transformers.AutoTokenizer, self.model_dir, "tokenizer")
        self.device = device
        self.vocabulary = [v.strip() for v in vocabulary if v.strip()]
        max_len = int(self.model.config.text_config.max_position_embeddings)
        enc = self.tokenizer([f"a photo of a {v}" for v in self.vocabulary], padding="max_length", truncation=True,
                             max_length=min(16, max_len), return_tensors="pt")
        self._ids = enc["input_ids"].to(device)
        self._mask = enc["attention_mask"].to(device)
        self.name = f"{mtype}:{self.model_dir.name}"

    def detect(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per image: boxes (K, 4) float xyxy pixels, scores (K,), vocabulary indices (K,) of every patch."""
        pixels = self.processor(images=list(images), return_tensors="pt")["pixel_values"].to(self.device)
        b, q = len(images), self._ids.shape[0]
        with torch.no_grad():
            out = self.model(input_ids=self._ids.repeat(b, 1), attention_mask=self._mask.repeat(b, 1),
                             pixel_values=pixels)
        probs = torch.sigmoid(out.logits.float()).cpu().numpy()  # (B, P, Q)
        boxes = out.pred_boxes.float().cpu().numpy()  # (B, P, 4) cx cy w h, relative to the padded square image
        res = []
        for i, img in enumerate(images):
            h, w = img.shape[:2]
            side = float(max(h, w))  # OWLv2 pads to a square (bottom/right); OWL-ViT resizes: scale per axis
            sx, sy = (side, side) if self.model.config.model_type == "owlv2" else (float(w), float(h))
            cx, cy, bw, bh = boxes[i].T
            xyxy = np.stack([(cx - bw / 2) * sx, (cy - bh / 2) * sy, (cx + bw / 2) * sx, (cy + bh / 2) * sy], 1)
            xyxy = np.clip(xyxy, 0, [w, h, w, h])
            lab = probs[i].argmax(axis=1)
            res.append((xyxy, probs[i][np.arange(len(lab)), lab], lab))
        assert q == len(self.vocabulary)
        return res


class SamMasker:
    """SAM: (image, boxes) -> one binary mask per box."""

    def __init__(self, model_path: str, device: torch.device) -> None:
        import transformers

        self.model_dir = resolve_model(model_path, "perception.mask_model_path")
        mtype = _model_type(self.model_dir)
        if mtype != "sam":
            raise PerceptionError(f"{self.model_dir} holds a {mtype!r} model; mask_model_path must be a SAM checkpoint")
        self.model = _load_pretrained(transformers.SamModel, self.model_dir, "SAM model").eval().to(device)
        image_processor = _load_pretrained(transformers.SamImageProcessorPil, self.model_dir, "SAM image processor")
        self.processor = transformers.SamProcessor(image_processor=image_processor)  # scales the boxes too
        self.device = device

    def masks(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(K, H, W) bool masks of the (K, 4) xyxy boxes."""
        h, w = image.shape[:2]
        if len(boxes) == 0:
            return np.zeros((0, h, w), dtype=bool)
        inputs = self.processor(images=[image], input_boxes=[boxes.tolist()], return_tensors="pt")
        with torch.no_grad():
            out = self.model(pixel_values=inputs["pixel_values"].to(self.device),
                             input_boxes=inputs["input_boxes"].to(self.device), multimask_output=False)
        masks = self.processor.post_process_masks(out.pred_masks.cpu(), inputs["original_sizes"],
                                                  inputs.get("reshaped_input_sizes"))[0]
        return np.asarray(masks[:, 0].numpy(), dtype=bool)


def box_to_depth_segment(depth_m: np.ndarray, box: Sequence[float], band: float) -> np.ndarray:
    """(H, W) bool: the pixels of ``box`` (xyxy) on the object's surface, from depth alone.

    The object's depth is the median valid depth of the box's central half (objects fill their box's centre);
    pixels within ``max(band, 0.1 * depth)`` of it form the candidate mask, and the connected component that
    holds most of the central half is kept (the table top behind a mug at the same depth but not connected to it
    stays out)."""
    import cv2

    h, w = depth_m.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    out = np.zeros((h, w), dtype=bool)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    crop = depth_m[y0:y1, x0:x1]
    ch, cw = crop.shape
    centre = crop[ch // 4: ch - ch // 4 or None, cw // 4: cw - cw // 4 or None]
    valid = centre[(centre > 0) & np.isfinite(centre)]
    if valid.size == 0:
        return out
    z = float(np.median(valid))
    cand = (np.abs(crop - z) <= max(band, 0.1 * z)) & (crop > 0)
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=4)
    if n <= 1:
        return out
    core = labels[ch // 4: ch - ch // 4 or None, cw // 4: cw - cw // 4 or None]
    counts = np.bincount(core[core > 0].ravel(), minlength=n)
    if counts.max() == 0:
        return out
    out[y0:y1, x0:x1] = labels == int(counts.argmax())
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by per-label non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order.tolist():
        same = [k for k in keep if labels[k] == labels[i]]
        if same and boxes_iou(boxes[i:i + 1], boxes[same]).max() > iou:
            continue
        keep.append(i)
    return np.asarray(keep, dtype=np.int64)


class DetectorBackend:
    """The ``detector`` perception backend (see the module docstring)."""

    def __init__(self, config: PerceptionConfig, encoder: Optional[Encoder] = None) -> None:
        self.config = config
        device = resolve_torch_device(config.device)
        self.detector = OwlDetector(config.detector_model_path, config.vocabulary, device)
        self.masker = SamMasker(config.mask_model_path, device) if config.mask_model_path else None
        self.receptacles = {r.strip().lower() for r in config.receptacles}
        self.name = "detector"
        log.info("detector front end: %s, masks from %s, %d prompts, on %s", self.detector.name,
                 self.masker.model_dir if self.masker else "depth", len(self.detector.vocabulary), device)

    def perceive(self, frames: Sequence[Frame]) -> list[Perception]:
        cfg = self.config
        out: list[Perception] = []
        for start in range(0, len(frames), cfg.batch_size):
            batch = frames[start:start + cfg.batch_size]
            for frame, (boxes, scores, labels) in zip(batch, self.detector.detect([f.rgb for f in batch]),
                                                      strict=True):
                out.append(self._segments(frame, boxes, scores, labels))
        return out

    def _segments(self, frame: Frame, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> Perception:
        cfg = self.config
        h, w = frame.rgb.shape[:2]
        sel = np.nonzero(scores >= cfg.score_threshold)[0]
        boxes, scores, labels = boxes[sel], scores[sel], labels[sel]
        keep = nms(boxes, scores, labels, cfg.nms_iou)[: cfg.max_detections]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        mask = np.full((h, w), NO_INSTANCE, dtype=np.int32)
        if len(keep) == 0:
            return Perception(mask, ())
        if self.masker is not None:
            masks = self.masker.masks(frame.rgb, boxes)
        else:
            depth = _depth_m(frame)
            masks = np.stack([box_to_depth_segment(depth, b, cfg.depth_band) for b in boxes])
        segments: list[Segment] = []
        for k in range(len(keep)):  # best first: a pixel belongs to the best detection claiming it
            m = masks[k] & (mask == NO_INSTANCE)
            if int(m.sum()) < cfg.min_mask_pixels:
                continue
            sid = len(segments)
            mask[m] = sid
            label = self.detector.vocabulary[int(labels[k])]
            x0, y0, x1, y1 = (int(v) for v in np.round(boxes[k]))
            segments.append(Segment(sid, label, float(scores[k]), (x0, y0, x1, y1),
                                    receptacle=label.lower() in self.receptacles))
        return Perception(mask, tuple(segments))


def _depth_m(frame: Frame) -> np.ndarray:
    d = frame.depth
    if d.dtype == np.uint16:
        out = d.astype(np.float32) * np.float32(frame.depth_scale)
        out[d == 65535] = 0
        return out
    out = np.asarray(d, dtype=np.float32)
    return np.where(np.isfinite(out) & (out > 0), out, 0).astype(np.float32)


def _factory(config: PerceptionConfig, encoder: Optional[Encoder]) -> DetectorBackend:
    return DetectorBackend(config, encoder)


register_backend("detector", _factory)
