"""``clip`` / ``siglip`` encoder: any transformers CLIP or SigLIP model directory, text and images.

``EncoderConfig.model_path`` is a local directory written by ``save_pretrained`` (model + tokenizer +
image processor), or a hub id that is already in the local Hugging Face cache (looked up with
``local_files_only=True``: nothing is ever downloaded). The model class is picked from the directory's
``config.json`` (``model_type`` "clip" -> ``CLIPModel``, "siglip" -> ``SiglipModel``); images are
preprocessed with the PIL image processors (``CLIPImageProcessorPil`` / ``SiglipImageProcessorPil``, which
need no torchvision). Inference runs under ``torch.no_grad`` in batches of ``EncoderConfig.batch_size`` on
``EncoderConfig.device`` ("cpu", "cuda", "cuda:N" or "auto"). Outputs are float32 unit rows; text and image
embeddings share one space of size :attr:`ClipEncoder.dim`.

The encoder holds a lock around inference, so a ROS service thread and the ingest worker may share it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from robomem.config import EncoderConfig
from robomem.encoders.base import normalize_rows, register_encoder
from robomem.errors import EncoderError

logger = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = ("clip", "siglip")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "spiece.model", "tokenizer.model", "vocab.txt")

_HOW_TO_PROVIDE = (
    "set encoder.model_path to a directory holding a transformers CLIP or SigLIP model saved with "
    "save_pretrained (config.json, weights, tokenizer and preprocessor_config.json), or to a hub id "
    "already in the local Hugging Face cache (nothing is downloaded)"
)


def resolve_device(device: str, error: type[Exception] = EncoderError) -> torch.device:
    """"cpu" / "cuda" / "cuda:N" / "auto" -> a usable torch device, or ``error`` saying what to change."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise error(f"encoder.device {device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'auto'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise error(f"encoder.device is {device!r} but torch sees no CUDA device; use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda"):
        raise error(f"encoder.device {device!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'auto'")
    return dev


def resolve_model_dir(model_path: str) -> Path:
    """A local model directory, or the local-cache snapshot of a hub id. Raises EncoderError."""
    if not model_path:
        raise EncoderError(f"encoder.model_path is empty; {_HOW_TO_PROVIDE}")
    p = Path(model_path).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise EncoderError(f"encoder.model_path {str(p)!r} is a file, not a model directory; {_HOW_TO_PROVIDE}")
    looks_like_hub_id = (
        not p.is_absolute() and not model_path.startswith(".") and model_path.count("/") <= 1
    )
    if looks_like_hub_id:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(repo_id=model_path, local_files_only=True))
        except Exception as exc:  # LocalEntryNotFoundError, HFValidationError, ...
            raise EncoderError(
                f"encoder.model_path {model_path!r} is neither a local directory nor a hub id in the local "
                f"Hugging Face cache ({type(exc).__name__}); {_HOW_TO_PROVIDE}"
            ) from None
    raise EncoderError(f"model directory {str(p)!r} does not exist; {_HOW_TO_PROVIDE}")


class ClipEncoder:
    """CLIP / SigLIP text + image encoder (see the module docstring)."""

    supports_images = True

    def __init__(self, config: EncoderConfig) -> None:
        config.validate()
        self.config = config
        self.device = resolve_device(config.device)
        self.model_dir = resolve_model_dir(config.model_path)
        self.model_type, self._model, self._tokenizer, self._processor = _load(self.model_dir, self.device)
        self.name = f"{self.model_type}:{self.model_dir.name}"
        text_cfg = self._model.config.text_config
        tok_max = getattr(self._tokenizer, "model_max_length", None) or 10**9
        self._max_length = int(min(tok_max, text_cfg.max_position_embeddings))
        self._lock = threading.Lock()
        self.dim = int(self._encode_text_batch(["a"]).shape[1])
        image_dim = int(self._encode_image_batch([np.zeros((8, 8, 3), dtype=np.uint8)]).shape[1])
        if image_dim != self.dim:
            raise EncoderError(
                f"{self.model_dir}: text embeddings are {self.dim}-d but image embeddings {image_dim}-d; "
                "use a model whose towers project into one space"
            )
        logger.info("clip encoder: %s (%s, %d-d) on %s", self.model_dir, self.model_type, self.dim, self.device)

    # -- Encoder ----------------------------------------------------------------------------------------
    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """-> (N, dim) float32 unit rows."""
        if isinstance(texts, str):
            raise EncoderError("encode_text takes a sequence of strings; wrap a single text as [text]")
        items = list(texts)
        if not items:
            raise EncoderError("encode_text got no texts; pass at least one string")
        bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
        if bad:
            raise EncoderError(f"encode_text needs strings; item {bad[0]} is {type(items[bad[0]]).__name__}")
        return self._batched(items, self._encode_text_batch)

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """HxWx3 uint8 RGB images (any size) -> (N, dim) float32 unit rows."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            raise EncoderError("encode_images takes a sequence of images; wrap a single image as [image]")
        items = list(images)
        if not items:
            raise EncoderError("encode_images got no images; pass at least one HxWx3 uint8 array")
        for i, img in enumerate(items):
            _check_image(img, i)
        return self._batched(items, self._encode_image_batch)

    # -- internals --------------------------------------------------------------------------------------
    def _batched(self, items: list[Any], fn: Any) -> np.ndarray:
        bs = self.config.batch_size
        with self._lock:
            parts = [fn(items[i : i + bs]) for i in range(0, len(items), bs)]
        return normalize_rows(np.concatenate(parts))

    def _encode_text_batch(self, texts: list[str]) -> np.ndarray:
        padding = "max_length" if self.model_type == "siglip" else True  # SigLIP pools the last position
        enc = self._tokenizer(
            texts, padding=padding, truncation=True, max_length=self._max_length, return_tensors="pt"
        )
        inputs = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        if self.model_type == "siglip":
            inputs.pop("attention_mask", None)  # SigLIP was trained without a text attention mask
        with torch.no_grad():
            out = self._model.get_text_features(**inputs)
        return _features(out)

    def _encode_image_batch(self, images: list[np.ndarray]) -> np.ndarray:
        pixels = self._processor(images=images, return_tensors="pt", input_data_format="channels_last")
        with torch.no_grad():
            out = self._model.get_image_features(pixel_values=pixels["pixel_values"].to(self.device))
        return _features(out)


def _features(out: Any) -> np.ndarray:
    """transformers v5 returns a ModelOutput whose ``pooler_output`` is the projected embedding."""
    t = out.pooler_output if hasattr(out, "pooler_output") else out
    return np.asarray(t.detach().float().cpu().numpy(), dtype=np.float32)


def _check_image(img: Any, i: int) -> None:
    if not isinstance(img, np.ndarray):
        raise EncoderError(f"image {i} is a {type(img).__name__}; pass HxWx3 uint8 numpy arrays (RGB)")
    if img.ndim != 3 or img.shape[2] != 3:
        raise EncoderError(
            f"image {i} has shape {img.shape}; pass HxWx3 RGB (convert grayscale/RGBA first, e.g. with cv2.cvtColor)"
        )
    if img.dtype != np.uint8:
        raise EncoderError(f"image {i} has dtype {img.dtype}; pass uint8 (0-255) RGB")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise EncoderError(f"image {i} is empty ({img.shape}); crop a region of at least 1x1 pixels")


def _load(model_dir: Path, device: torch.device) -> tuple[str, Any, Any, Any]:
    """-> (model_type, model in eval mode on ``device``, tokenizer, PIL image processor)."""
    import transformers

    if not (model_dir / "config.json").is_file():
        raise EncoderError(f"{model_dir} has no config.json; {_HOW_TO_PROVIDE}")
    try:
        cfg = transformers.AutoConfig.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EncoderError(f"{model_dir}/config.json could not be read ({exc}); {_HOW_TO_PROVIDE}") from None
    model_type = getattr(cfg, "model_type", "")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise EncoderError(
            f"{model_dir} holds a {model_type!r} model; the clip encoder loads {list(SUPPORTED_MODEL_TYPES)} "
            "models (point encoder.model_path at a CLIP or SigLIP checkpoint)"
        )
    model_cls: Any
    proc_cls: Any
    if model_type == "clip":
        model_cls, proc_cls = transformers.CLIPModel, transformers.CLIPImageProcessorPil
    else:
        model_cls, proc_cls = transformers.SiglipModel, transformers.SiglipImageProcessorPil
    if not (model_dir / "preprocessor_config.json").is_file():
        raise EncoderError(
            f"{model_dir} has no preprocessor_config.json (the image processor); save one with "
            f"{proc_cls.__name__}().save_pretrained(dir) or copy it from the original checkpoint"
        )
    try:
        model = model_cls.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise EncoderError(
            f"could not load the {model_type} weights from {model_dir} ({exc}); {_HOW_TO_PROVIDE}"
        ) from None
    save_tokenizer = "save it there with tokenizer.save_pretrained(dir) or copy it from the original checkpoint"
    if not any((model_dir / f).is_file() for f in _TOKENIZER_FILES):
        # AutoTokenizer would silently build an empty tokenizer from tokenizer_config.json alone
        raise EncoderError(f"{model_dir} has no tokenizer files (one of {list(_TOKENIZER_FILES)}); {save_tokenizer}")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise EncoderError(f"could not load the tokenizer from {model_dir} ({exc}); {save_tokenizer}") from None
    text_vocab = int(getattr(model.config.text_config, "vocab_size", 0))
    if not text_vocab // 2 <= len(tokenizer) <= text_vocab:
        raise EncoderError(
            f"the tokenizer in {model_dir} has {len(tokenizer)} tokens but the model's text vocabulary has "
            f"{text_vocab}: they do not belong together; {save_tokenizer}"
        )
    try:
        processor = proc_cls.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise EncoderError(f"could not load the image processor from {model_dir} ({exc})") from None
    model.eval().to(device)
    return model_type, model, tokenizer, processor


register_encoder("clip", ClipEncoder)
register_encoder("siglip", ClipEncoder)
