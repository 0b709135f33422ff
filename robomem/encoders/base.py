"""Feature encoders: one Protocol, backends chosen by name (``EncoderConfig.backend``).

Encoders are built outside the memory and injected into it. Every output row is float32 and
L2-normalised, so inner products are cosine similarities. Text and image embeddings of one encoder live
in the same space (CLIP/SigLIP); an encoder without an image tower (ground truth text) says so with
``supports_images = False``.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from robomem.config import EncoderConfig
from robomem.errors import EncoderError


@runtime_checkable
class Encoder(Protocol):
    """Maps text and (optionally) images to unit vectors of size ``dim``."""

    name: str
    dim: int
    supports_images: bool

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """-> (N, dim) float32, unit rows. Raises EncoderError on empty input."""

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """HxWx3 uint8 RGB images (any size) -> (N, dim) float32, unit rows.

        Raises EncoderError if ``supports_images`` is False.
        """


EncoderFactory = Callable[[EncoderConfig], Encoder]
_REGISTRY: dict[str, EncoderFactory] = {}


def register_encoder(name: str, factory: EncoderFactory) -> None:
    _REGISTRY[name] = factory


def create_encoder(config: EncoderConfig) -> Encoder:
    """Build the encoder named by ``config.backend``."""
    from robomem.encoders import clip, gt_text, hashing  # noqa: F401  (registers built-ins)

    try:
        factory = _REGISTRY[config.backend]
    except KeyError:
        raise EncoderError(
            f"unknown encoder backend {config.backend!r}; choose one of {sorted(_REGISTRY)}"
        ) from None
    return factory(config)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """float32 copy of ``x`` with unit-length rows (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(n > 0, x / np.maximum(n, 1e-12), 0.0).astype(np.float32)
