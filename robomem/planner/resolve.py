"""Entity resolution: the words of a question -> instances and rooms actually in memory.

The memory's own vocabulary comes first: every instance label is split into its category (the longest ending
the common-sense lexicon knows, else the last word) and modifiers ("red ceramic mug" -> mug + red, ceramic);
rooms are the memory's regions. A phrase (:class:`~robomem.planner.nl.plan.EntityRef`) is matched in stages,
the first that finds something wins, and the answer reports which stage and score (:class:`Resolution`):

1. ``exact``: the phrase's noun is a label's category ("mug" - "red ceramic mug");
2. ``word`` / ``kind``: an everyday word or a kind for it, from the lexicon ("cup" -> mug, "dish" -> plate);
3. ``fuzzy``: a misspelling of a category in memory ("vasse");
4. ``embedding``: the parser's sentence model (text-text) when the noun or the memory's categories are not in the
   lexicon (a detector vocabulary): best cosine >= ``embed_min_similarity`` and ahead of the runner-up by
   ``embed_min_margin``;
5. ``semantic``: the memory's own encoder (``count(text, min_score=-1)`` ranks every instance) when the noun is
   unknown or instances carry no label. Scores are relative: the best must stand ``semantic_min_z`` robust
   standard deviations above the median of this memory's scores, so the rule holds for CLIP's ~0.3 cosines
   and a text encoder's ~0.9 alike.

The phrase's attributes (colour, material, shape from the lexicon, other words) must then all hold. A known
category that is not in memory is not "semantically" replaced by a neighbour: the answer is that it was not seen.
"""

from __future__ import annotations

import difflib
import statistics
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np

from robomem.core.query_types import InstanceSummary
from robomem.core.types import NodeKind, Region
from robomem.planner.config import ResolveConfig
from robomem.planner.facts import AnswerContext, MemorySnapshot
from robomem.planner.knowledge import Knowledge, SenseKind
from robomem.planner.nl.embedder import TextEmbedder
from robomem.planner.nl.lexicon import COLOURS, MATERIALS, SIZES, normalize, singular, tokens
from robomem.planner.nl.plan import EntityKind, EntityRef

__all__ = ["LabelParse", "Resolution", "Resolver", "RoomResolution", "Vocabulary", "parse_label"]

_UNLABELLED = frozenset({"", "object", "unknown", "thing", "item", "segment", "instance", "receptacle"})
_MATERIAL_EQUIV = {"wood": "wooden", "metallic": "metal", "wool": "woolen", "golden": "gold", "steel": "metal",
                   "stainless": "metal"}
_SHAPE_LOOSE = {"round": {"spherical", "round", "oval"}, "spherical": {"spherical", "round"},
                "rectangular": {"rectangular", "flat"}, "square": {"rectangular"}, "flat": {"flat", "rectangular"},
                "cylindrical": {"cylindrical"}, "oval": {"oval", "round"}}


@dataclass(frozen=True)
class LabelParse:
    """An instance label split into its category and modifiers (normalised, singular)."""

    label: str
    words: tuple[str, ...]
    head: str
    modifiers: tuple[str, ...]
    category: str  # the lexicon's category for the head, else the head
    kinds: tuple[str, ...]
    known: bool  # the lexicon knows the head


def parse_label(label: str, knowledge: Knowledge) -> LabelParse:
    words = tuple(w for w in tokens(normalize(label)) if w != ",")
    if not words or " ".join(words) in _UNLABELLED:
        return LabelParse(label, words, "", words, "", (), False)
    for n in range(min(len(words), knowledge.max_words), 0, -1):
        phrase = " ".join(words[-n:])
        for s in knowledge.senses(phrase):
            if s.kind in (SenseKind.OBJECT, SenseKind.RECEPTACLE):
                head = " ".join(list(words[-n:-1]) + [singular(words[-1])])
                info = knowledge.objects.get(s.name)
                kinds = info.kinds if info else knowledge.receptacles.get(s.name, ((), ()))[1]
                return LabelParse(label, words, head, words[:-n], s.name, tuple(kinds), True)
    head = singular(words[-1])
    return LabelParse(label, words, head, words[:-1], head, (), False)


class Vocabulary:
    """The memory's words: label parses per instance, and phrase -> kind for the parser."""

    def __init__(self, snapshot: MemorySnapshot, knowledge: Knowledge) -> None:
        self.labels = {i.instance_id: parse_label(i.label, knowledge) for i in snapshot.instances}
        phrases: dict[str, str] = {}
        mods: set[str] = set()
        for inst in snapshot.instances:
            p = self.labels[inst.instance_id]
            if not p.head:
                continue
            kind = "receptacle" if inst.kind is NodeKind.RECEPTACLE else "object"
            phrases.setdefault(p.head, kind)
            mods.update(p.modifiers)
        for r in snapshot.regions():
            phrases[" ".join(tokens(normalize(r.name.replace("_", " "))))] = "room"
        self.phrases = phrases
        self.attribute_words = frozenset(m for m in mods if not m.isdigit())
        self.unlabelled = any(not p.head for p in self.labels.values())


@dataclass(frozen=True)
class Resolution:
    """What a phrase resolved to. ``matches``: instances with the noun and every attribute; ``how`` the stage
    (exact, word, kind, fuzzy, embedding, semantic, generic, none); ``score`` its score; ``near``: instances
    with the noun but not the attributes (for "I saw mugs, but none that is purple")."""

    ref: EntityRef
    matches: tuple[InstanceSummary, ...]
    how: str
    score: float
    near: tuple[InstanceSummary, ...] = ()
    note: str = ""

    def describe(self) -> str:
        if not self.matches:
            return f"resolve({self.ref.describe()!r}) -> nothing ({self.how})"
        labels = sorted({m.label for m in self.matches})
        shown = ", ".join(repr(x) for x in labels[:4]) + (" ..." if len(labels) > 4 else "")
        return f"resolve({self.ref.describe()!r}) -> {shown} ({self.how}, score {self.score:.2f})"


@dataclass(frozen=True)
class RoomResolution:
    name: Optional[str]  # the region's name, None when no single room
    candidates: tuple[str, ...] = ()  # several rooms fit ("bedroom" -> bedroom 1, bedroom 2)


class Resolver:
    """Resolves phrases against a memory (see the module docstring)."""

    def __init__(self, knowledge: Knowledge, config: ResolveConfig, embedder: Optional[TextEmbedder] = None) -> None:
        self.knowledge = knowledge
        self.config = config
        self.embedder = embedder

    def vocabulary(self, ctx: AnswerContext) -> Vocabulary:
        return ctx.snap.cached("vocabulary", lambda: Vocabulary(ctx.snap, self.knowledge))

    # ------------------------------------------------------------------------------------------ instances
    def resolve(self, ref: EntityRef, ctx: AnswerContext,
                kinds: Iterable[NodeKind] = (NodeKind.OBJECT,)) -> Resolution:
        kinds = tuple(kinds)
        if ref.kind is EntityKind.RECEPTACLE:
            kinds = (NodeKind.RECEPTACLE,)
        key = ("resolve", ref, kinds)
        res = ctx.snap.cached(key, lambda: self._resolve(ref, ctx, kinds))
        ctx.log(res.describe())
        return res

    def _resolve(self, ref: EntityRef, ctx: AnswerContext, kinds: tuple[NodeKind, ...]) -> Resolution:
        vocab = self.vocabulary(ctx)
        pool = [i for i in ctx.snap.instances if i.kind in kinds]
        if ref.generic or not ref.head:
            hits, how, score = pool, "generic", 1.0
        else:
            hits, how, score = self._by_head(ref, pool, vocab, ctx)
        if not hits:
            return Resolution(ref, (), "none", 0.0, note=f"no {ref.head or 'such thing'} in memory")
        good = self._with_attributes(ref, hits, vocab, strict=True)
        if not good:
            good = self._with_attributes(ref, hits, vocab, strict=False)
        if not good:
            return Resolution(ref, (), how, score, near=tuple(hits))
        return Resolution(ref, tuple(good), how, score)

    def _by_head(self, ref: EntityRef, pool: list[InstanceSummary], vocab: Vocabulary, ctx: AnswerContext
                 ) -> tuple[list[InstanceSummary], str, float]:
        head = ref.head
        parses = {i.instance_id: vocab.labels[i.instance_id] for i in pool}
        exact = [i for i in pool if head and head in (parses[i.instance_id].head, parses[i.instance_id].category)]
        if exact:
            return exact, "exact", 1.0
        senses = self.knowledge.senses(head)
        best: tuple[list[InstanceSummary], str, float] = ([], "none", 0.0)
        for s in senses:
            if s.kind in (SenseKind.OBJECT, SenseKind.RECEPTACLE):
                hits = [i for i in pool if parses[i.instance_id].category == s.name]
                how = "word"
            elif s.kind is SenseKind.KIND:
                members = set(self.knowledge.members(s.name))
                hits = [i for i in pool if parses[i.instance_id].category in members
                        or s.name in parses[i.instance_id].kinds]
                how = "kind"
            else:
                continue
            if hits and s.score > best[2]:
                best = (hits, how, s.score)
        if best[0]:
            return best
        heads = sorted({p.head for p in parses.values() if p.head})
        if heads:
            ratio, near_head = max((difflib.SequenceMatcher(None, head, h).ratio(), h) for h in heads)
            if ratio >= self.config.fuzzy_min_ratio:
                return [i for i in pool if parses[i.instance_id].head == near_head], "fuzzy", ratio
        head_known = bool(senses)
        unknown_heads = [h for h in heads if not any(p.known for p in parses.values() if p.head == h)]
        if self.embedder is not None and heads and (not head_known or unknown_heads):
            cands = heads if not head_known else unknown_heads
            vecs = self.embedder.embed([head, *cands])
            sims = vecs[1:] @ vecs[0]
            order = np.argsort(-sims)
            top = float(sims[order[0]])
            second = float(sims[order[1]]) if len(order) > 1 else 0.0
            if top >= self.config.embed_min_similarity and top - second >= self.config.embed_min_margin:
                h = cands[int(order[0])]
                return [i for i in pool if parses[i.instance_id].head == h], "embedding", top
        if not head_known or vocab.unlabelled:
            return self._semantic(ref, pool, ctx)
        return [], "none", 0.0

    def _semantic(self, ref: EntityRef, pool: list[InstanceSummary], ctx: AnswerContext
                  ) -> tuple[list[InstanceSummary], str, float]:
        if len(pool) < 4:
            return [], "none", 0.0
        text = " ".join((*ref.attributes, ref.head)).strip()
        res = ctx.memory.count(text, min_score=-1.0, include_vanished=True)
        ctx.log(f"count({text!r}, min_score=-1.0, include_vanished=True)")
        ids = {i.instance_id for i in pool}
        scored = [(m.score, m.instance_id) for m in res.instances if m.instance_id in ids]
        if len(scored) < 4:
            return [], "none", 0.0
        values = [s for s, _ in scored]
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values) * 1.4826
        best = max(values)
        z = (best - med) / max(mad, 1e-6)
        if z < self.config.semantic_min_z:
            return [], "none", 0.0
        keep = {iid for s, iid in scored if s - med >= self.config.semantic_keep * (best - med)}
        return [i for i in pool if i.instance_id in keep], "semantic", float(best)

    def _with_attributes(self, ref: EntityRef, hits: Sequence[InstanceSummary], vocab: Vocabulary, strict: bool
                         ) -> list[InstanceSummary]:
        attrs = [a for a in ref.attributes if a not in SIZES]
        if not attrs:
            return list(hits)
        return [i for i in hits if all(self._has(vocab.labels[i.instance_id], a, strict) for a in attrs)]

    def _has(self, p: LabelParse, attr: str, strict: bool) -> bool:
        words = set(p.modifiers) | {_MATERIAL_EQUIV.get(w, w) for w in p.modifiers}
        a = _MATERIAL_EQUIV.get(attr, attr)
        if a in words or attr in words:
            return True
        shape = self.knowledge.shape_word(attr)
        if shape is not None:
            mine = self.knowledge.shape_of(p.category) if p.category else None
            if mine is None:
                return False
            return mine == shape or (not strict and mine in _SHAPE_LOOSE.get(shape, set()))
        if attr in COLOURS or attr in MATERIALS:
            return False
        return not strict and attr in " ".join(p.words)

    def shape_of(self, inst: InstanceSummary, ctx: AnswerContext) -> Optional[str]:
        p = self.vocabulary(ctx).labels.get(inst.instance_id)
        if p is None or not p.category:
            return None
        for w in p.modifiers:
            s = self.knowledge.shape_word(w)
            if s:
                return s
        return self.knowledge.shape_of(p.category)

    def attribute_of(self, inst: InstanceSummary, kind: str, ctx: AnswerContext) -> Optional[str]:
        """The instance's colour / material / shape from its label (shape: the lexicon's for its category)."""
        p = self.vocabulary(ctx).labels.get(inst.instance_id)
        if p is None:
            return None
        if kind == "shape":
            return self.shape_of(inst, ctx)
        pool = COLOURS if kind == "color" else MATERIALS
        found = [w for w in p.modifiers if w in pool]
        return " ".join(found) if found else None

    def category(self, inst: InstanceSummary, ctx: AnswerContext) -> str:
        p = self.vocabulary(ctx).labels.get(inst.instance_id)
        return (p.category or p.head) if p else inst.label

    # ------------------------------------------------------------------------------------------ rooms
    def room(self, said: str, regions: Sequence[Region]) -> RoomResolution:
        """A room as said ("lounge", "bedroom 2", "the office") -> a region name."""
        want = " ".join(tokens(normalize(said.replace("_", " "))))
        norm = {r.name: " ".join(tokens(normalize(r.name.replace("_", " ")))) for r in regions}
        exact = [n for n, v in norm.items() if v == want]
        if exact:
            return RoomResolution(exact[0])
        want_type = self.knowledge.room_type(want) or want
        typed = [n for n, v in norm.items() if (self.knowledge.room_type(v.rstrip("0123456789 ")) or
                                                 v.rstrip("0123456789 ")) == want_type]
        if len(typed) == 1:
            return RoomResolution(typed[0])
        if len(typed) > 1:
            return RoomResolution(None, tuple(sorted(typed)))
        close = difflib.get_close_matches(want, list(norm.values()), n=1, cutoff=self.config.fuzzy_min_ratio)
        if close:
            return RoomResolution(next(n for n, v in norm.items() if v == close[0]))
        return RoomResolution(None)
