"""Calibrated open-vocabulary scores: with CLIP-like image features (every cosine in a low, narrow band) a fixed
cosine threshold finds nothing, while relevance against negative prompts finds what is there and still says
"not found" for what is not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robomem.config import ConfigError, MemoryConfig, QueryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.query_types import QueryStatus
from tests.core._scene import T0, VIEW_TABLE1, VIEW_TABLE2, kitchen_world

DIM = 64
WORDS = ("mug", "bowl", "plant", "book", "table", "shelf", "counter", "zebra", "giraffe", "object", "things", "stuff",
         "texture", "background", "a photo", "chair", "red")


class ClipLikeEncoder:
    """Text: a common direction (cosine ~0.7 between any two texts, as CLIP's text tower gives) plus a word
    direction. Images: the common direction, a generic 'thing' direction and, weakly, the word direction of the
    object whose colour dominates the crop - so a matching text scores ~0.3 and others ~0.2."""

    name = "cliplike"
    dim = DIM
    supports_images = True

    def __init__(self, colour_to_word: dict[tuple[int, int, int], str]) -> None:
        rng = np.random.default_rng(0)
        basis, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
        self.common, self.generic = basis[0], basis[1]
        self.other = basis[2 + len(WORDS):]  # the image modality's own directions (CLIP's modality gap)
        self.word = {w: basis[2 + i] for i, w in enumerate(WORDS)}
        self.colour_to_word = colour_to_word

    def _text(self, t: str) -> np.ndarray:
        v = 0.85 * self.common + 0.5 * sum((self.word[w] for w in t.split() if w in self.word), np.zeros(DIM))
        for w in ("object", "things", "stuff", "texture", "background"):
            if w in t:
                v = v + 0.25 * self.generic
        return v / np.linalg.norm(v)

    def encode_text(self, texts):  # type: ignore[no-untyped-def]
        return np.stack([self._text(t) for t in texts]).astype(np.float32)

    def encode_images(self, images):  # type: ignore[no-untyped-def]
        out = []
        for img in images:
            px = img.reshape(-1, 3).astype(int)
            best = max(self.colour_to_word, key=lambda c: int(np.sum(np.all(np.abs(px - c) < 60, axis=1))))
            v = 0.25 * self.common + 0.12 * self.generic + 0.10 * self.word[self.colour_to_word[best]]
            noise = np.random.default_rng(int(img.sum()) % 1000).normal(size=len(self.other)) @ self.other
            v = v + 0.95 * noise / np.linalg.norm(noise)
            out.append(v / np.linalg.norm(v))
        return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def memory_factory():
    world, regions = kitchen_world()
    colour_to_word = {e.color: e.label.split()[-1] for e in world.entities.values() if e.label.split()[-1] in WORDS}
    frames = [world.frame(eye, target, T0 + i * 10**9) for i, (eye, target) in enumerate([VIEW_TABLE1, VIEW_TABLE2])]
    # unlabelled segments: the memory embeds image crops (a real camera with masks from another node)
    frames = [dataclasses.replace(f, instance_labels={}) for f in frames]

    def build(query: QueryConfig) -> SpatioSemanticMemory:
        mem = SpatioSemanticMemory(dataclasses.replace(MemoryConfig(), query=query), ClipLikeEncoder(colour_to_word),
                                   regions)
        for f in frames:
            mem.ingest(f)
        return mem

    return build, colour_to_word


def test_fixed_cosine_finds_nothing_but_relevance_finds_what_is_there(memory_factory) -> None:
    build, colour_to_word = memory_factory
    present = sorted(set(colour_to_word.values()))
    assert present
    absolute = build(QueryConfig(score_mode="absolute"))
    relative = build(QueryConfig())  # auto: the encoder embeds images
    for word in present:
        assert absolute.locate(word).status is QueryStatus.NOT_FOUND  # cosines ~0.3 never reach 0.5
        res = relative.locate(word)
        assert res.status is QueryStatus.OK, res.message
        assert 0.5 <= res.matches[0].score <= 1.0
    for absent in ("zebra", "giraffe", "chair"):
        res = relative.locate(absent)
        assert res.status is QueryStatus.NOT_FOUND and "relevance" in res.message, res.message
        assert relative.count(absent).count == 0
    assert relative.count(present[0]).count >= 1


def test_query_config_checks() -> None:
    with pytest.raises(ConfigError, match="score_mode"):
        QueryConfig(score_mode="cosine").validate()
    with pytest.raises(ConfigError, match="negative_prompts"):
        QueryConfig(negative_prompts=()).validate()
    assert QueryConfig(negative_prompts=["a", "b"]).negative_prompts == ("a", "b")  # type: ignore[arg-type]
