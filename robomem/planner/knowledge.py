"""Common-sense knowledge about household things (``robomem/planner/data/commonsense.yaml``, hand-written).

:class:`Knowledge` answers: what can a word mean (an object category, a receptacle category, a room type, or a
kind of thing such as "dish"), what shape is a category, where are such things usually kept. It is loaded once
per process (:func:`default_knowledge`); a house-specific table can be layered on top with
:meth:`Knowledge.extended` (``RuleBasedPlanner(shape_lexicon=..., receptacle_prior=...)``).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from robomem.errors import PlannerError
from robomem.planner.nl.lexicon import normalize, singular

__all__ = ["DATA_FILE", "Knowledge", "Sense", "SenseKind", "default_knowledge", "load_knowledge"]

DATA_FILE = Path(__file__).with_name("data") / "commonsense.yaml"

NAME_SCORE = 1.0  # the word is the category's own name
WORD_SCORE = 0.9  # an everyday word for it ("cup" for mug)
KIND_SCORE = 0.75  # a kind the category belongs to ("dish" for plate)


class SenseKind(enum.Enum):
    OBJECT = "object"
    RECEPTACLE = "receptacle"
    ROOM = "room"
    KIND = "kind"  # a kind of thing: every object/receptacle category listing it


@dataclass(frozen=True)
class Sense:
    """One meaning of a word: ``name`` is a category / room type / kind; ``score`` how directly the word
    names it (1 own name, 0.9 everyday word, 0.75 kind)."""

    kind: SenseKind
    name: str
    score: float


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    words: tuple[str, ...]
    kinds: tuple[str, ...]
    shape: Optional[str]
    kept: Mapping[str, float] = field(default_factory=dict)


def _norm_word(w: str) -> str:
    return " ".join(normalize(str(w)).split())


class Knowledge:
    """Word senses, shapes and the "usually kept on" prior (see the module docstring)."""

    def __init__(
        self,
        objects: Mapping[str, ObjectInfo],
        receptacles: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]],
        rooms: Mapping[str, tuple[str, ...]],
        shape_words: Mapping[str, str],
    ) -> None:
        self.objects = dict(objects)
        self.receptacles = dict(receptacles)
        self.rooms = dict(rooms)
        self.shape_words = dict(shape_words)
        self.shapes = frozenset(shape_words.values())
        index: dict[str, dict[tuple[SenseKind, str], float]] = {}

        def add(word: str, sense: Sense) -> None:
            w = _norm_word(word)
            if not w:
                return
            slot = index.setdefault(w, {})
            key = (sense.kind, sense.name)
            slot[key] = max(slot.get(key, 0.0), sense.score)

        kinds: set[str] = set()
        for name, info in self.objects.items():
            add(name, Sense(SenseKind.OBJECT, name, NAME_SCORE))
            for w in info.words:
                add(w, Sense(SenseKind.OBJECT, name, NAME_SCORE if w == name else WORD_SCORE))
            kinds.update(info.kinds)
        for name, (words, rkinds) in self.receptacles.items():
            add(name, Sense(SenseKind.RECEPTACLE, name, NAME_SCORE))
            for w in words:
                add(w, Sense(SenseKind.RECEPTACLE, name, NAME_SCORE if w == name else WORD_SCORE))
            kinds.update(rkinds)
        for name, words in self.rooms.items():
            add(name, Sense(SenseKind.ROOM, name, NAME_SCORE))
            for w in words:
                add(w, Sense(SenseKind.ROOM, name, NAME_SCORE if w == name else WORD_SCORE))
        for k in kinds:
            add(k, Sense(SenseKind.KIND, k, KIND_SCORE))
        self._index = {w: tuple(Sense(k, n, s) for (k, n), s in sorted(v.items(), key=lambda e: (-e[1], e[0][1])))
                       for w, v in index.items()}
        self.max_words = max((len(w.split()) for w in self._index), default=1)
        self._senses_cache: dict[str, tuple[Sense, ...]] = {}
        self._members: dict[str, tuple[str, ...]] = {}
        for k in kinds:
            self._members[k] = tuple(sorted(
                [n for n, i in self.objects.items() if k in i.kinds]
                + [n for n, (_w, rk) in self.receptacles.items() if k in rk]
            ))

    # ------------------------------------------------------------------------------------------ lookups
    def senses(self, phrase: str) -> tuple[Sense, ...]:
        """Meanings of a word or phrase ("cups" -> mug as an everyday word; "table" -> the table receptacle and
        the kind "table"); () when unknown. The phrase is matched as said, then with its last word singular."""
        cached = self._senses_cache.get(phrase)
        if cached is not None:
            return cached
        p = " ".join(phrase.lower().split())
        if p not in self._index and ("'" in p or any(c.isupper() for c in phrase)):
            p = _norm_word(phrase)
        hit = self._index.get(p)
        if hit is None:
            head, _, last = p.rpartition(" ")
            s = singular(last)
            hit = self._index.get(f"{head} {s}" if head else s)
        if len(self._senses_cache) > 50000:
            self._senses_cache.clear()
        self._senses_cache[phrase] = hit or ()
        return hit or ()

    def words(self) -> set[str]:
        """Every single word of every phrase the lexicon knows."""
        return {w for phrase in self._index for w in phrase.split()} | set(self.shape_words)

    def is_known(self, phrase: str) -> bool:
        return bool(self.senses(phrase))

    def members(self, kind: str) -> tuple[str, ...]:
        """Categories of a kind ("dish" -> bowl, glass, mug, plate)."""
        return self._members.get(kind, ())

    def category_of(self, phrase: str, kinds: tuple[SenseKind, ...] = (SenseKind.OBJECT, SenseKind.RECEPTACLE)
                    ) -> Optional[str]:
        """The best object/receptacle category a phrase names directly (not through a kind), else None."""
        for s in self.senses(phrase):
            if s.kind in kinds:
                return s.name
        return None

    def room_type(self, phrase: str) -> Optional[str]:
        """The room type a phrase names ("lounge" -> "living room"), else None."""
        for s in self.senses(phrase):
            if s.kind is SenseKind.ROOM:
                return s.name
        return None

    def shape_of(self, category: str) -> Optional[str]:
        info = self.objects.get(category)
        if info is None:
            cat = self.category_of(category, (SenseKind.OBJECT,))
            info = self.objects.get(cat) if cat else None
        return info.shape if info else None

    def shape_word(self, word: str) -> Optional[str]:
        """ "cylinder-shaped" -> "cylindrical"; None when the word names no shape."""
        hit = self.shape_words.get(word)
        return hit if hit is not None or word.islower() else self.shape_words.get(_norm_word(word))

    def kept_prior(self, category: str) -> dict[str, float]:
        """Receptacle category -> weight: where objects of ``category`` are usually kept (empty if unknown)."""
        info = self.objects.get(category)
        if info is None:
            cat = self.category_of(category, (SenseKind.OBJECT,))
            info = self.objects.get(cat) if cat else None
        return dict(info.kept) if info else {}

    def extended(
        self,
        shapes: Optional[Mapping[str, str]] = None,
        kept: Optional[Mapping[str, Mapping[str, float]]] = None,
    ) -> Knowledge:
        """A copy with house-specific shapes (category -> shape) and kept-on priors layered on top."""
        objects = dict(self.objects)
        for cat, shape in (shapes or {}).items():
            c = _norm_word(cat)
            old = objects.get(c, ObjectInfo(c, (c,), (), None))
            objects[c] = ObjectInfo(old.name, old.words, old.kinds, _norm_word(shape), old.kept)
        for cat, recs in (kept or {}).items():
            c = _norm_word(cat)
            old = objects.get(c, ObjectInfo(c, (c,), (), None))
            merged = dict(old.kept)
            merged.update({_norm_word(r): float(w) for r, w in recs.items()})
            objects[c] = ObjectInfo(old.name, old.words, old.kinds, old.shape, merged)
        shape_words = dict(self.shape_words)
        for s in (shapes or {}).values():
            shape_words.setdefault(_norm_word(s), _norm_word(s))
        return Knowledge(objects, self.receptacles, self.rooms, shape_words)


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlannerError(f"{where} must be a list of strings, got {value!r}")
    return tuple(_norm_word(v) for v in value)


def load_knowledge(path: Union[str, Path] = DATA_FILE) -> Knowledge:
    """Load and check a common-sense file (format: see ``data/commonsense.yaml``)."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise PlannerError(f"common-sense file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise PlannerError(f"common-sense file {p} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not {"objects", "receptacles", "rooms", "shapes"} <= set(raw):
        raise PlannerError(f"{p} needs top-level 'objects', 'receptacles', 'rooms' and 'shapes' mappings")
    shape_words: dict[str, str] = {}
    for shape, words in raw["shapes"].items():
        for w in _str_list(words, f"{p}: shapes.{shape}") + (_norm_word(shape),):
            shape_words[w] = _norm_word(shape)
    objects: dict[str, ObjectInfo] = {}
    for name, spec in raw["objects"].items():
        where = f"{p}: objects.{name}"
        if not isinstance(spec, dict):
            raise PlannerError(f"{where} must be a mapping")
        unknown = set(spec) - {"words", "kinds", "shape", "kept"}
        if unknown:
            raise PlannerError(f"{where}: unknown key(s) {sorted(unknown)}")
        shape = spec.get("shape")
        if shape is not None and _norm_word(shape) not in shape_words.values():
            listed = sorted(set(shape_words.values()))
            raise PlannerError(f"{where}.shape {shape!r} is not one of the listed shapes {listed}")
        kept = spec.get("kept") or {}
        if not isinstance(kept, dict) or not all(isinstance(w, (int, float)) and 0 < w <= 1 for w in kept.values()):
            raise PlannerError(f"{where}.kept must map receptacle words to weights in (0, 1]")
        n = _norm_word(name)
        objects[n] = ObjectInfo(n, _str_list(spec.get("words"), f"{where}.words"),
                                _str_list(spec.get("kinds"), f"{where}.kinds"),
                                _norm_word(shape) if shape else None,
                                {_norm_word(k): float(v) for k, v in kept.items()})
    receptacles: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for name, spec in raw["receptacles"].items():
        where = f"{p}: receptacles.{name}"
        if not isinstance(spec, dict) or set(spec) - {"words", "kinds"}:
            raise PlannerError(f"{where} must be a mapping with 'words' and 'kinds'")
        receptacles[_norm_word(name)] = (_str_list(spec.get("words"), f"{where}.words"),
                                         _str_list(spec.get("kinds"), f"{where}.kinds"))
    rooms = {_norm_word(name): _str_list(words, f"{p}: rooms.{name}") for name, words in raw["rooms"].items()}
    return Knowledge(objects, receptacles, rooms, shape_words)


@functools.lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """The shipped common-sense file, loaded once per process."""
    return load_knowledge(DATA_FILE)
