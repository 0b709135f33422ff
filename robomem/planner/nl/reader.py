"""Reading a normalised question: the things it names (:class:`Mention`) and its cue words (:class:`Cues`).

Mentions are found by longest match against the words the planner knows: the common-sense lexicon
(:class:`~robomem.planner.knowledge.Knowledge`), the memory's own vocabulary (labels and rooms actually in memory,
passed in as ``vocabulary``) and generic nouns ("thing", "object", "furniture", "room"); a determiner followed by
unknown words ("the purple giraffe") is an unknown object. Colour / material / shape / size words before a noun
are its attributes ("the glass vase": glass is the vase's material, "the glass": a glass).

Cues are the words that say what is asked: question words, verbs of picking / placing / seeing / visiting /
spending time / starting / ending / changing, negation, quantifiers, order, ordinals, superlatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

from robomem.planner.knowledge import Knowledge, SenseKind
from robomem.planner.nl.cues import (
    _ALL,
    _ANCHOR,
    _ATTR_KIND,
    _CUES,
    _NAV_PHRASE,
    _NEG,
    _ORDER,
    _POST_ATTR,
    _SUPERLATIVES,
    _subject,
)
from robomem.planner.nl.lexicon import COLOURS, MATERIALS, ORDINALS, SIZES, ordinal_value, singular, tokens

__all__ = ["Cues", "Mention", "Reading", "read"]

GENERIC_OBJECT = frozenset(
    "object thing item stuff something anything everything one belonging possession article piece whatever "
    "nothing".split()
)
GENERIC_RECEPTACLE = frozenset(
    "receptacle furniture surface place spot location furnishing fixture piece-of-furniture".split()
)
GENERIC_ROOM = frozenset("room area space part-of-the-house".split())
DETERMINERS = frozenset(
    "the a an any my our your some every each all this that these those one another which what both either "
    "no its their his her".split()
)
_FUNCTION = frozenset(
    """the a an any my our your some every each all this that these those of to in on at from by with for into
    onto off out over under up down about after before since until till between during through near than then
    and or but if so as is are was were be been being do does did done have has had i me you we us it they them
    he she his her its their what which who whom whose when where why how many much more most less least not no
    never yet again still also just only ever there here now today yesterday please can could would will shall
    should may might must let go went gone take took taken bring brought show showed find found get got put
    placed picked pick grab grabbed move moved saw see seen visit visited enter entered room rooms time times
    order first last next right immediately directly straight left made one ones thing things object objects
    item items away back around along inside within while whilst during""".split()
)

_VERBISH_BEFORE = frozenset("you i we they he she it to not never did do does can could will would".split())
_TO_INFINITIVE = frozenset(
    """want wants wanted need needs needed have has had like going trying try tried used how able wish love forgot
    remember decided to in order about ought supposed began begin started start continue""".split()
)
"""Words after which "to" starts a verb ("want to plant"); elsewhere "to" is a preposition ("go to table")."""
_NOUN_ONLY = frozenset("furniture receptacle surface location furnishing fixture".split())
_MOSTLY_VERBS = frozenset(
    "can watch present ring play set fly pack light lead store rest stand file tape iron top bar hold end "
    "place spot change move show point park drop leave pick stay visit".split()
)
_PREPOSITIONS = frozenset("on in at from to near by under onto into of off with beside behind over".split())
_NOT_THINGS = frozenset(
    """day days end beginning start time times way order sequence house home apartment flat world moment rest
    number total amount list same other others kind type sort color colour material shape size name answer
    question robot hour hours minute minutes second seconds week weeks past future first last most least longest
    shortest nearest farthest closest furthest earliest latest ones few couple bit lot while period duration point
    morning afternoon evening night lunch dinner breakfast today yesterday moment tour trip route path visit
    visits idea clue chance very really exact exactly actual same only just quickest fastest slowest quicker
    bulk majority lot part rest whole couple pair way rearranging rearrangement moving move relocation relocating
    pickup pick-up handling carrying transport trip distance amount length effort else others other greatest
    highest lowest minimum maximum
    faster slower most least best worst biggest smallest largest nearest closest farthest furthest""".split()
) | frozenset(w for w in ORDINALS if " " not in w)


@dataclass
class Mention:
    """A thing the question names. Token span [start, end); ``head`` "" for generic nouns."""

    start: int
    end: int
    text: str
    head: str
    attributes: tuple[str, ...]
    kind: str  # object | receptacle | room | kind | unknown
    generic: bool = False
    plural: bool = False
    determiner: str = ""
    prep: str = ""  # the preposition before it ("on", "from", "after", ...)
    score: float = 1.0  # how surely the words name a known thing (unknown nouns: lower)


@dataclass
class Cues:
    """The question's cue words (see the module docstring); strings are cue names."""

    wh: set[str] = field(default_factory=set)
    verbs: set[str] = field(default_factory=set)
    subject: str = ""  # robot | user | passive | ""
    negated: bool = False
    all: bool = False
    order: str = ""  # ordered | unordered | ""
    ordinal: Optional[int] = None
    superlative: str = ""
    attribute_kind: str = ""  # color | material | shape
    post_attributes: tuple[str, ...] = ()  # "that is made of glass", "which is red"
    anchor_offset: int = 0  # +1 "right after X", -1 "right before X"
    anchor_index: int = -1  # index into Reading.mentions of the anchor X


@dataclass
class Reading:
    text: str
    tokens: list[str]
    mentions: list[Mention]
    cues: Cues
    unexplained: list[str]  # content words neither a cue nor part of a mention
    masked: str = ""  # the text with mentions replaced by ITEM / FURNITURE / ROOM (for the intent classifier)

    def of_kind(self, *kinds: str, generic: Optional[bool] = None) -> list[Mention]:
        return [m for m in self.mentions if m.kind in kinds and (generic is None or m.generic == generic)]


# ------------------------------------------------------------------------------------------------ mentions


def _lookup(words: list[str], i: int, knowledge: Knowledge, vocab: Mapping[str, str], max_len: int
            ) -> Optional[tuple[int, str, str, float]]:
    """Longest known noun phrase starting at word i -> (end, phrase (singular), kind, score)."""
    for n in range(min(max_len, len(words) - i), 0, -1):
        span = words[i : i + n]
        if any(w == "," for w in span):
            continue
        phrase = " ".join(span)
        sing = " ".join(span[:-1] + [singular(span[-1])])
        for p in (phrase, sing):
            if p in vocab:
                return i + n, p, vocab[p], 1.0
        for p in (phrase, sing):
            if p.replace(" ", "-") in GENERIC_RECEPTACLE or p in GENERIC_RECEPTACLE:
                return i + n, "", "receptacle", 1.0
            if p.replace(" ", "-") in GENERIC_ROOM or p in GENERIC_ROOM:
                return i + n, "", "room", 1.0
            if p in GENERIC_OBJECT and n == 1:
                return i + n, "", "object", 1.0
        senses = knowledge.senses(phrase)
        if senses:
            s = senses[0]
            kind = {SenseKind.OBJECT: "object", SenseKind.RECEPTACLE: "receptacle", SenseKind.ROOM: "room",
                    SenseKind.KIND: "kind"}[s.kind]
            return i + n, sing if knowledge.senses(sing) else phrase, kind, s.score
    return None


def _is_attribute_word(w: str, knowledge: Knowledge, attr_words: frozenset[str]) -> bool:
    return (w in COLOURS or w in MATERIALS or w in SIZES or w in attr_words
            or knowledge.shape_word(w) is not None or w.endswith(("-colored", "-shaped")))


def _mentions(words: list[str], knowledge: Knowledge, vocab: Mapping[str, str], attr_words: frozenset[str]
              ) -> list[Mention]:
    max_len = max([knowledge.max_words, 3] + [len(p.split()) for p in vocab])
    out: list[Mention] = []
    i = 0
    while i < len(words):
        w = words[i]
        hit = _lookup(words, i, knowledge, vocab, max_len)
        # an attribute word followed by a noun is the noun's attribute ("glass vase", "orange mug")
        if hit is not None and _is_attribute_word(w, knowledge, attr_words) and hit[0] == i + 1:
            nxt = _lookup(words, i + 1, knowledge, vocab, max_len) if i + 1 < len(words) else None
            if nxt is not None or (i + 1 < len(words) and _is_attribute_word(words[i + 1], knowledge, attr_words)):
                hit = None
        prev = words[i - 1] if i > 0 else ""
        nxt_w = words[i + 1] if i + 1 < len(words) else ""
        if hit is not None and hit[0] == i + 1 and w in _MOSTLY_VERBS and not (
            prev in DETERMINERS or prev in _PREPOSITIONS or prev.isdigit() or ordinal_value(prev) is not None
            or _is_attribute_word(prev, knowledge, attr_words)
            or (prev in ("", ",", "is", "was") and nxt_w in ("", ",", "from", "on", "in", "you", "that", "which", "off",
                                                              "of", "at", "near", "by")
                and not (prev in ("", ",") and nxt_w == "you"))  # "can from the table - colour?"
        ):
            hit = None  # "can you", "set it down", "watch": a verb here
        elif hit is not None and prev in _VERBISH_BEFORE and hit[2] != "room" and w not in GENERIC_OBJECT and not (
            prev == "to" and (w in _NOUN_ONLY or i >= 2 and words[i - 2] not in _TO_INFINITIVE)
        ):
            hit = None  # "did you book", "to plant": a verb
        if hit is not None and hit[0] == i + 1 and _is_attribute_word(w, knowledge, attr_words) and (
            prev in ("of", "from", "is", "was", "are", "were", "in") and (i < 2 or words[i - 2] != "the")
        ):
            hit = None  # "made of glass", "that is orange": an attribute, not a thing
        if hit is None:
            i += 1
            continue
        end, phrase, kind, score = hit
        # attributes before the noun
        j = i
        attrs: list[str] = []
        while j > 0 and _is_attribute_word(words[j - 1], knowledge, attr_words) and not (
            out and out[-1].end > j - 1
        ):
            j -= 1
            attrs.insert(0, words[j])
        det = words[j - 1] if j > 0 and words[j - 1] in DETERMINERS else ""
        generic = phrase == ""
        plural_ = words[end - 1] != singular(words[end - 1]) or words[end - 1] in ("things", "objects", "items",
                                                                                   "rooms", "everything", "stuff")
        head_word = words[end - 1]
        if generic and head_word in ("something", "anything", "one"):
            det = det or ("any" if head_word == "anything" else "a")
        if generic and kind == "object" and head_word in GENERIC_OBJECT:  # "something red", "object round"
            while (end < len(words) and _is_attribute_word(words[end], knowledge, attr_words)
                   and (end + 1 >= len(words) or _lookup(words, end + 1, knowledge, vocab, max_len) is None)):
                attrs.append(words[end])  # "something red"
                end += 1
        out.append(Mention(j, end, " ".join(words[j:end]), phrase, tuple(attrs), kind, generic, plural_, det,
                           score=score))
        i = end
    # determiner + unknown words: "the purple velvet giraffe"
    covered = {k for m in out for k in range(m.start, m.end)}
    i = 0
    while i < len(words):
        if words[i] in ("the", "a", "an", "any", "my", "some", "your", "our") and i + 1 < len(words) and (
            i + 1 not in covered
        ):
            j = i + 1
            while (j < len(words) and j not in covered and words[j] != "," and words[j] not in _FUNCTION
                   and words[j] not in _NOT_THINGS and ordinal_value(words[j]) is None):
                j += 1
            if j > i + 1 and (j >= len(words) or words[j] in _FUNCTION or words[j] in _NOT_THINGS
                              or ordinal_value(words[j]) is not None or words[j] == "," or j in covered):
                span = words[i + 1 : j]
                attrs_u = [w for w in span[:-1] if _is_attribute_word(w, knowledge, attr_words)]
                if len(attrs_u) == len(span) - 1 and not span[-1].isdigit():
                    out.append(Mention(i + 1, j, " ".join(span), singular(span[-1]), tuple(attrs_u), "unknown",
                                       determiner=words[i], score=0.5))
                    covered.update(range(i + 1, j))
            i = j
        else:
            i += 1
    out.sort(key=lambda m: m.start)
    for m in out:
        k = m.start - 1
        while k >= 0 and words[k] in DETERMINERS | {"of", "all", "every", "each"}:
            k -= 1
        if k >= 0:
            two = " ".join(words[max(0, k - 1) : k + 1])
            m.prep = two if two in ("out of", "next to", "close to", "away from", "in front", "prior to") else words[k]
    return out


_WHAT_THING = re.compile(
    r"^(?:\w+ ){0,3}(?:what|which|whatever|whichever)\b(?! (?:time|color|colour|material|shape|room|day|hour)\b)")
_ON_WHAT = re.compile(r"\b(?:on|onto|from|off)(?: (?:the )?\w+ time(?: around)?)?(?: ,)?"
                      r"(?: (?:take|bring|lead|show|go|get)\b[\w ]*)?\s*$"
                      r"|\bon what\b|\bwhat (?:was|is) it (?:sitting|lying|standing|resting) on\b")


def _implicit_what(mtext: str, mentions: list[Mention]) -> None:
    """ "what did you put on the counter": the question word stands for the thing asked about; "what did you set the
    mug down on", "what was it sitting on": for the furniture (a generic mention is inserted)."""
    asks_attr = re.match(r"(?:what|which) \w+ (?:is|was|are|were) (?:it|the|made)\b", mtext)
    if not _WHAT_THING.search(mtext) or asks_attr:
        if not _ON_WHAT.search(mtext) or not {"what", "whatever"} & set(mtext.split()):
            return
    things = any(m.kind in ("object", "unknown", "kind") for m in mentions)
    if _ON_WHAT.search(mtext) and (things or "on what" in mtext):
        if not any(m.kind == "receptacle" for m in mentions):
            mentions.insert(0, Mention(0, 0, "what", "", (), "receptacle", generic=True, determiner="what"))
    elif not things:
        mentions.insert(0, Mention(0, 0, "what", "", (), "object", generic=True, determiner="what"))


def _owners(words: list[str], mentions: list[Mention]) -> list[Optional[Mention]]:
    own: list[Optional[Mention]] = [None] * len(words)
    for m in mentions:
        for k in range(m.start, m.end):
            own[k] = m
    return own


def read(text: str, knowledge: Knowledge, vocabulary: Optional[Mapping[str, str]] = None,
         attribute_words: frozenset[str] = frozenset()) -> Reading:
    """Mentions and cues of a normalised question. ``vocabulary``: phrase -> "object" / "receptacle" / "room"
    for the memory's own labels and rooms (singular); ``attribute_words``: modifier words of memory labels."""
    words = tokens(text)
    vocab = dict(vocabulary or {})
    mentions = _mentions(words, knowledge, vocab, attribute_words)
    masked = list(words)
    for m in mentions:
        for k in range(m.start, m.end):
            masked[k] = ""
        masked[m.start] = {"object": "ITEM", "unknown": "ITEM", "kind": "ITEM", "receptacle": "FURNITURE",
                           "room": "ROOM"}[m.kind] if not m.generic else words[m.end - 1]
    mtext = " ".join(w for w in masked if w)
    # generic receptacle words ("the place", "the spot") must not read as verbs of placing
    ctext = " ".join("SURFACE" if m_ is not None and m_.generic and m_.kind == "receptacle" else w
                     for w, m_ in zip(masked, _owners(words, mentions)) if w)
    _implicit_what(mtext, mentions)
    cues = Cues()
    # "take me to", "bring me", "move to the kitchen": the robot going somewhere, not picking anything up
    vtext = _NAV_PHRASE.sub(" NAV ", ctext)
    for group, name, pat in _CUES:
        if pat.search(vtext if group == "verbs" else mtext):
            getattr(cues, group).add(name)
    cues.subject = _subject(vtext)
    unordered = _ORDER[0][1]
    cues.negated = bool(_NEG.search(unordered.sub(" ", mtext)))  # "order does not matter" negates nothing
    if re.search(r"\b(?:left|leave|leaving) (?:it |them )?alone\b|\buntouched\b|\bunmoved\b", mtext):
        cues.verbs = (cues.verbs - {"place"}) | {"pick"}  # "a box you left alone": one you did not pick up
        cues.negated = True
    cues.all = bool(_ALL.search(mtext))
    for name, pat in _ORDER:
        if pat.search(text):
            cues.order = name
            break
    for name, pat in _SUPERLATIVES:
        if pat.search(mtext):
            cues.superlative = name
            break
    for name, pat in _ATTR_KIND:
        if pat.search(mtext):
            cues.attribute_kind = name
            break
    # ordinals ("the second object", "3rd", "second to last"), not days ("the second day")
    for phrase in sorted(ORDINALS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b(?! day)", text):
            cues.ordinal = ORDINALS[phrase]
            break
    if cues.ordinal is None:
        for w in words:
            v = ordinal_value(w)
            if v is not None and re.search(rf"\b{w}\b(?! day)", text):
                cues.ordinal = v
                break
    if cues.ordinal is None:
        num = re.search(r"\b(?:number|no|#) ?(\d+)\b", text)
        if num and "pick" in cues.verbs:
            cues.ordinal = int(num.group(1))
    post: list[str] = []
    for m2 in _POST_ATTR.finditer(mtext):
        for g in ("attrs", "mat", "col", "col2", "shp", "shp2", "attrs3", "ofa"):
            said = m2.group(g)
            if said:
                post.extend(x for x in re.split(r" (?:and|or|,) | ", said)
                            if _is_attribute_word(x, knowledge, attribute_words))
    cues.post_attributes = tuple(dict.fromkeys(post))
    for idx, m in enumerate(mentions):
        pre = " ".join(words[max(0, m.start - 6) : m.start])
        bare = re.sub(r"\b(?:the|my|a|an|picking up|grabbing|taking|moving)\b", " ", pre)
        bare = re.sub(r"\b(?:you|i|we) (?:had |have )?\w+(?: up)?\s*$", " ", re.sub(r"\s+", " ", bare).strip())
        a = _ANCHOR.search(bare.strip() + " ")
        if a is None:
            a = _ANCHOR.search(pre + " ")
        if a is not None and m.kind in ("object", "unknown", "kind") and not m.generic:
            cues.anchor_offset = -1 if a.group("dir") in ("before", "prior to", "preceding", "ahead of") else 1
            cues.anchor_index = idx
    unexplained = [w for w in masked if w and w not in _FUNCTION and w.isalpha() and w.upper() != w
                   and not any(p.search(w) for _g, _n, p in _CUES)]
    return Reading(text, words, mentions, cues, unexplained, mtext)
