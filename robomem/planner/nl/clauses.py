"""Finding the request in what a person says: context clauses, pronouns and terse yes/no questions.

People rarely ask a bare question. They say why they ask ("I'm about to leave and can't find my keys - where did
you last see them?"), what someone else said ("My daughter says she left her book somewhere; could you show me
where it is now?"), or what they remember of the robot ("You picked up the blue box; what did you pick up right
after it?"). Read as one sentence, the story's words look like parts of the question: "leave" like a verb of
placing, "daughter" like a thing to find. :func:`focus` splits the text into clauses and sorts them:

* a **request**: a question or a command ("where did you last see them", "take me there", "how many?");
* **context**: a statement by or about the speaker or someone else ("I'm about to leave", "my wife said ..."),
  or about the robot ("you picked up the blue box"); its verbs say nothing about what is asked;
* anything else (a bare noun phrase "mug,", a time "since 2 pm,", "the first time you took the mug,") stays
  where it is, part of the request.

When there is both a request and context, the request is rewritten to stand alone: a pronoun that points back
("it", "them", "one") becomes the thing the context named ("my keys" -> "where did you last see my keys"),
"there" becomes the room the context named, and a time the context gave ("I was out since 9") is given to a
request that has none. Things the context names that the request does not point back to are left out (the room
the speaker is in is not a constraint), and so are words the memory does not know ("my son", "the party").
Without a request, or without context, the text is left as it is. A clause "you took the mug?" said as a
question is the yes/no question "did you take the mug".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

from robomem.planner.knowledge import Knowledge
from robomem.planner.nl.lexicon import normalize
from robomem.planner.nl.reader import DETERMINERS, Mention, read
from robomem.planner.nl.timeexpr import TimeContext, extract_time

__all__ = ["Focus", "focus", "split_clauses"]


@dataclass(frozen=True)
class Focus:
    """The request, rewritten to stand alone (normalised), and what the context gave it (for the parse notes)."""

    text: str
    used: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    alone: str = ""  # the request without a thing the context named put in front of it ("" when none was)


_STARTERS = (
    r"(?:(?:so|and|but|then|now|ok|okay) ){0,2}(?:could|can|would|will|please|where|what|which|when|how|who|whose|"
    r"did|do|does|have|has|had|is|are|was|were|take|go|show|bring|lead|guide|find|tell|navigate|head|get|walk|"
    r"point|help|count|list|give|let|remind|any idea|do you|visit|drive|move|fetch|grab|check|look|search|"
    r"locate|return|come|walk|steer|escort|retrieve|lets)\b"
)
_SPLIT = re.compile(r"(\?+|[.!;]+(?=\s|$)|:(?=\s)|\s[-\u2013\u2014]+\s|,\s*(?=" + _STARTERS
                    + r"|i (?:think|guess|believe|reckon|suppose|bet)\b))")

_PEOPLE = (
    r"(?:(?:the|my|our|his|her|their|a) )?(?:grandma|grandpa|granny|grandmother|grandfather|mum|mom|mother|dad|"
    r"father|wife|husband|son|daughter|kids?|children|boss|friends?|neighbou?rs?|roommates?|flatmates?|partner|"
    r"guests?|visitors?|family|sister|brother|aunt|uncle|cousin|colleague|cleaner|babysitter|nanny|baby|"
    r"girlfriend|boyfriend|housemates?|teacher|doctor|plumber|landlord|everybody|everyone)"
)

# a statement about the speaker or someone else (optionally after a conjunction)
_NARRATIVE = re.compile(
    r"^(?:(?:and|but|so|because|cause|as|since|when|while|before|after|now that|although|though|if|because of) )?"
    r"(?:(?:for|in|on|during|with|because of|thanks to) (?:\w+ ){1,4}?(?:, )?(?=(?:i|we|my|our)\b)"
    r"|(?:(?:last|this|next) \w+|yesterday|today|tonight|earlier|recently|lately|the other day|a while ago"
    r"|(?:a|an|one|two|three|few) \w+ ago) (?:, )?(?=(?:i|we|my|our)\b))?"
    r"(?:i|we|my|our|his|her|their|someone|somebody|everybody|everyone|nobody|people|he|she|they|the kids|"
    r"there (?:is|was|are|were|has been|have been)|it (?:is|was) (?!the \w+ (?:that|which|you))|" + _PEOPLE + r")\b"
)
# a statement about some other thing ("the alarm went off at 9", "the kids keep asking")
_STATEMENT = re.compile(
    r"^(?:the|a|an|this|that|our|some) (?:(?!you\b|that\b|which\b)\w+ ){0,5}(?:went|goes|is|was|are|were|has|had|"
    r"keeps?|kept|came|comes|started|starts|got|gets|looks?|looked|seems?|seemed|broke|fell|rang|arrived|left|"
    r"says?|said|told|made|makes|needs?|wants?|sounded|happened|showed up|caught|saw|heard|shows?|showed|beeped|"
    r"buzzed|(?!picked|placed|moved|grabbed|used)\w{3,}ed)\b"
)
# ... unless it asks for something itself ("I'm looking for the mug", "I need to find my keys")
_I_REQUEST = re.compile(
    r"^i (?:am |was )?(?:looking|searching|hunting) for\b|^(?:i|we) (?:need|want|would like|have|am trying|"
    r"would love|wish) to (?:find|see|go|get to|visit|know|locate|check)\b"
)
_ROBOT = re.compile(r"^(?:(?:and|but|so|then) )?you (?!can\b|could\b|would\b|will\b|should\b|must\b|might\b|may\b|"
                    r"mind\b|know\b|see\b|please\b)\w+")
_I_FRAME = re.compile(r"^(?:i'm|i am|i'd|i would|i was|i want|i wonder|i need)\b", re.IGNORECASE)
_BY_YOU = re.compile(r"^(?:(?P<np>.*?) )?(?:was it |is it |was |is |were |are )?"
                     r"(?P<v>(?!(?:up|down|away) )\w+(?: up| down| away)?) by you$")
_TAG = re.compile(r"(?: ,)? (?:did not|do not|have not|were not|was not|is not|are not|did|do|have|were|was|is|are|"
                  r"can not|will not|would not|had not|right|correct|yes|no|eh|ok|okay|is that right|true)"
                  r"(?: (?:you|it|they|we|i))?$")
_TAG_ALONE = re.compile(r"(?:was|is|were|are|did|do|have|had|has)(?: not)? (?:it|you|they|that)|"
                        r"(?:did|have|had) not you|(?:was|is) that (?:so|right|true)|right|correct|true")
_CLOCK = re.compile(r"\d|noon|midnight|\bpast\b|quarter|half|oclock|\bto (?:one|two|three|four|five|six|seven|"
                    r"eight|nine|ten|eleven|twelve)\b")
_YES_NO_TAG = re.compile(r"(?: ,)? (?:yes or no|no or yes|or not|or no|true or false|right or wrong|yes no)$")
# a clause that starts with the robot's action and names no subject ("grabbed it", "picked the mug up")
_DONE = re.compile(r"^(?!.*\b(?:where|when|which|what|how|who|whose)\b)(?:\w+ed|took|taken|got|gotten|held|"
                   r"stole|stolen|brought|had)(?: (?:up|away|off|down))? (?:it|them|that|this|the|my|a|an|one|your)\b")
_NEXT = re.compile(r"\b(?:the )?next (thing|object|item|one)\b|\bafter that\b|\band then what\b")
_AUX = ("did", "have", "had", "were", "was", "are", "do", "has", "is")
_PRONOUN = re.compile(r"\b(?:it|them|they|those|that one|this one|these)\b|(?<=\bto )one\b(?! of)"
                      r"|(?<=\bme )one\b(?! of)")
_PLURAL = re.compile(r"\b(?:them|they|those|these)\b")
_DUMMY_IT = re.compile(r"\bit (?:take|took|takes|was when|is when)\b|\b(?:what time|when|what day) (?:was|is) it\b"
                       r"|\bhow long (?:was|is) it\b|\bwas it (?:when|that)\b")
_NP_TAIL = re.compile(
    r"^(?:(?:that|which|who) |(?:you|i saw you|i think you) |(?:on|in|from|near|by|under|inside|off|beside|"
    r"next to) (?:the|a|an|my|our|your|his|her|their|this|that|top of)\b)"
)
_HEDGE = re.compile(
    r"^(?:(?:and|but|so) )?(?:(?:i|we) (?:think|guess|believe|suppose|remember|assume|reckon|bet|"
    r"am (?:pretty |quite |fairly )?sure|know|recall|saw|heard)|(?:(?:my|our) )?\w+(?: \w+)? (?:thinks|says|said|"
    r"believes|reckons|told me|tells me|claims|swears|is sure|is convinced|heard|saw))(?: that)? (?=you\b)")
_ELLIPSIS = re.compile(r"^(?:did|have|had|were|was|do) you(?: not| ever| really)?$")
_THERE = re.compile(r"(?<!\bgo )(?<!\bme )(?<!\bus )(?<!\bhead )(?<!\bget )\bthere\b")


_SINCE_END = re.compile(r"\b(?P<prep>since|after)\s*(?:,|$)|\b(?P<prep2>since|after|before|until) that\b"
                        r"(?= *(?:,|$|in (?:the )?order|and\b))")
_DAY_SCOPE = re.compile(r"(?:\w+ )?(?:today|tonight|yesterday|earlier|recently|lately|this (?:morning|afternoon|"
                        r"evening|week))")
_TIME_PREP = re.compile(r"^(?:at|around|about|on|in|during|since|after|before|until|by|from) ")
_THEN = re.compile(r"\b(?:(?P<prep>since|after|before|until|till|at|around|from) )?"
                   r"(?:then|that time|that point|that moment)\b")


def split_clauses(text: str) -> list[tuple[str, bool]]:
    """Raw text -> its clauses (raw, lower case) and whether each was said as a question (ends in "?").
    Splits at sentence ends, semicolons, colons, dashes, and commas before a question or command."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"(\d)\s*([ap])\.\s*m\.?(?=\W|$)", r"\1 \2m", t)  # "2 p.m." keeps its dots out of the split
    parts = _SPLIT.split(t)
    out: list[tuple[str, bool]] = []
    for k in range(0, len(parts), 2):
        clause = parts[k].strip(" ,")
        delim = parts[k + 1] if k + 1 < len(parts) else ""
        if clause and out and _TAG_ALONE.fullmatch(normalize(clause)) and "?" in delim:
            out[-1] = (f"{out[-1][0]}, {clause}", True)  # "taken by you, was it?": a tag asks the clause before
        elif clause:
            out.append((clause, "?" in delim))
    return out


def _bare_np(clause: str, knowledge: Knowledge, vocab: Mapping[str, str], attrs: frozenset[str]) -> str:
    """The clause only names one thing ("black towel": "object") or one place ("hallway dresser": "receptacle",
    "the office": "room"); "" otherwise."""
    mentions, words = _things(clause, knowledge, vocab, attrs)
    covered = {k for m in mentions for k in range(m.start, m.end)}
    if not mentions or any(k not in covered and w not in DETERMINERS for k, w in enumerate(words)):
        return ""
    kinds = {m.kind for m in mentions}
    if len(mentions) == 1 and kinds <= {"object", "kind"}:
        return "object"
    if kinds == {"room"} and len(mentions) == 1:
        return "room"
    if kinds <= {"room", "receptacle"} and "receptacle" in kinds:
        return "receptacle"
    return ""


_KEEP_WORDS = re.compile(r"\b(?:order|first|last|next|then|any|all|every|each|both|again|one|ones|here|there|"
                         r"same|sequence|after|before|since|now|not|no|how|what|which|where|when|who)\b")


def _empty(clause: str, knowledge: Knowledge, vocab: Mapping[str, str], attrs: frozenset[str],
           time: Optional[TimeContext]) -> bool:
    """A clause that names nothing the memory knows, no time, and no word a request could need."""
    if _KEEP_WORDS.search(clause) or (time is not None and extract_time(clause, time).spec is not None):
        return False
    r = read(clause, knowledge, vocab, attrs)
    return not any(m.kind != "unknown" for m in r.mentions) and not r.cues.ordinal and not (
        r.cues.verbs or r.cues.wh or r.cues.order)


def _kind(clause: str, question: bool) -> str:
    """request | context | robot (a statement about the robot) | other."""
    if _I_REQUEST.search(clause):
        return "request"
    if _NARRATIVE.search(clause) or _STATEMENT.search(clause) and not question:
        return "context"
    if _ROBOT.search(clause):
        return "request" if question else "robot"
    if re.match(_STARTERS, clause) or question:
        return "request"
    return "other"


def _yes_no(clause: str) -> str:
    """ "you took the mug" said as a question -> "did you took the mug"; "you have seen it" -> "have you seen it";
    "picked up by you" -> "did you picked up it"."""
    by_you = _BY_YOU.match(clause)
    if by_you:  # "black toy picked by you" -> "did you picked black toy"
        return f"did you {by_you.group('v')} {by_you.group('np') or 'it'}"
    words = re.sub(r"^(?:and|but|so|then) ", "", clause).split()
    if len(words) > 1 and words[1] in _AUX:
        return " ".join([words[1], "you", *words[2:]])
    return ("did " if words[:1] == ["you"] else "did you ") + " ".join(words)


@dataclass
class _Ctx:
    things: list[str]  # noun phrases of objects the context named (newest last)
    lists: list[str]  # several things named together ("the mug, the book and the vase")
    places: list[str]  # rooms and receptacles the context named, with their preposition ("in the office")
    times: list[str]  # time phrases
    clauses: list[str]  # statements about the robot that name no thing ("you put something new there")


def _np(words: list[str], m: Mention) -> tuple[str, int]:
    """The noun phrase of mention m with its determiner (possessives read as "the") and the modifiers after it
    ("the mug you picked up", "a vase on the table"); returns it and the word index where it ends."""
    start = m.start - 1 if m.start > 0 and words[m.start - 1] in DETERMINERS else m.start
    det = words[start] if start < m.start else ("" if m.generic else "the")
    det = "the" if det in ("my", "her", "his", "our", "their", "your", "its", "this", "that") else det
    end = m.end
    if m.generic and end < len(words) and _NP_TAIL.match(" ".join(words[end + 1 :])):
        end += 1  # "something new on the table": the adjective is left out ("new" is no attribute of a thing)
    rest = " ".join(words[end:])
    head = [w for w in (det, *words[m.start : m.end]) if w]
    if _NP_TAIL.match(rest):
        stop = re.search(r" , | and (?:i|we|my|then|so|now)\b| but |(?<!you)(?<! i)(?<!that)(?<!which)(?<!nobody)"
                         r" (?:was|is|were|are|has|had|have|looks?|looked|seems?|seemed|will|keeps?|kept|used to)\b",
                         " " + rest + " ")
        tail = rest[: stop.start()].strip() if stop else rest
        end += len(tail.split())
        return " ".join([*head, *tail.split()]), end
    return " ".join(head), end


def _things(clause: str, knowledge: Knowledge, vocab: Mapping[str, str], attrs: frozenset[str],
            strict: bool = False) -> tuple[list[Mention], list[str]]:
    """The things, receptacles and rooms a clause names that the memory knows (with a memory vocabulary: only
    its own labels; "the alarm went off" names no thing of a house without an alarm), and the clause's words."""
    r = read(clause, knowledge, vocab, attrs)
    words = r.tokens
    known = [m for m in r.mentions if m.start < m.end and m.kind != "unknown"
             and (not strict or m.generic or m.kind != "object" or not vocab or m.head in vocab or m.text in vocab)
             and not (m.generic and not m.attributes and m.kind == "object" and not (
                 words[m.start] in ("something", "anything") and (
                     _NP_TAIL.match(" ".join(words[m.end :])) or _NP_TAIL.match(" ".join(words[m.end + 1 :])))))]
    return known, r.tokens


def _gather(clause: str, kind: str, c: _Ctx, knowledge: Knowledge, vocab: Mapping[str, str],
            attrs: frozenset[str], tctx: TimeContext, dropped: list[str]) -> None:
    tp = extract_time(clause, tctx)
    said_time = tp.spec.text if tp.spec is not None and not tp.error else ""
    if kind == "robot" and c.things and _PRONOUN.search(clause) and not any(
            m.kind == "object" for m in _things(clause, knowledge, vocab, attrs)[0]):
        clause = _PRONOUN.sub(lambda _m: c.things.pop(), clause, count=1)
    mentions, words = _things(clause, knowledge, vocab, attrs, strict=bool(_STATEMENT.search(clause)))
    objs = [m for m in mentions if m.kind in ("object", "kind")]
    if kind == "robot" and objs and objs[0].generic:
        c.clauses.append(clause)  # "you put something new on the table there": kept as said
        objs = []
    elif objs:
        obj = objs[0] if kind == "robot" else objs[-1]  # "keep the cat away from the basket": the basket
        np, _end = _np(words, obj)
        if kind == "robot":  # "you picked up the blue box earlier" -> "the blue box you picked up earlier"
            lead = " ".join(w for w in words[: obj.start] if w not in DETERMINERS)
            after = " ".join(words[obj.end :])
            np = " ".join(x for x in (np.split(" ", 1)[0], *words[obj.start : obj.end], lead, after) if x)
        c.things.append(np)
        if len(objs) >= 2 and kind != "robot":  # "I need the mug, the book and the vase"
            first = objs[0].start
            first -= 1 if first > 0 and words[first - 1] in DETERMINERS else 0
            c.lists.append(" ".join(words[first : objs[-1].end]))
    elif kind == "robot":
        c.clauses.append(clause)  # nothing to attach it to: kept as said
    if said_time and not (c.things and said_time in c.things[-1]):
        c.times.append(said_time)
    c.places += [f"in the {m.text}" for m in mentions if m.kind == "room"]
    c.places += ["on " + _np(words, m)[0] for m in mentions if m.kind == "receptacle" and not m.generic]
    if not objs and kind != "robot":
        dropped.append(clause)


def _with_time(text: str, said: str, time: TimeContext) -> tuple[str, str]:
    """The request given the time a context clause said, if it has none of its own ("since then" -> "since 9 am",
    "which room were you in" after "at 9 there was a bang" -> "at 9 , which room ..."); and the time used."""
    if extract_time(text, time).spec is not None:
        return text, ""
    anaphor = _THEN.search(text) or _SINCE_END.search(text)
    prep = (anaphor.groupdict().get("prep") or anaphor.groupdict().get("prep2")) if anaphor is not None else None
    if anaphor is not None and prep:
        return text[: anaphor.start()] + f"{prep} {_TIME_PREP.sub('', said)}" + text[anaphor.end() :], said
    if anaphor is not None:
        return text[: anaphor.start()] + said + text[anaphor.end() :], said
    if _CLOCK.search(said):  # not "busy all morning"
        return f"{said} , {text}", said
    return text, ""


def focus(question: str, knowledge: Knowledge, vocabulary: Optional[Mapping[str, str]] = None,
          attribute_words: frozenset[str] = frozenset(), time: Optional[TimeContext] = None) -> Focus:
    """The request in ``question`` (see the module docstring); ``Focus.text`` is normalised."""
    whole = normalize(question)
    clauses = split_clauses(question)
    if len(clauses) < 1:
        return Focus(whole)
    vocab = dict(vocabulary or {})
    kinds: list[tuple[str, str]] = []
    yes_no = False
    agree = -1  # the clause that asked for agreement ("you took it, didn't you?")
    for raw, q in clauses:
        norm = _HEDGE.sub("", normalize(raw))
        if not norm:
            continue
        asked = _YES_NO_TAG.search(norm)
        if asked is not None and asked.start() > 0:  # "you took the mug or no?", "grabbed it, true or false?"
            norm, q = norm[: asked.start()].strip(" ,"), True
        tagged = _TAG.search(norm) if _ROBOT.search(norm) and q and asked is None else None
        if tagged is not None:  # "you picked it up, didn't you?": a statement asking for agreement
            norm, q, agree = norm[: tagged.start()].strip(" ,"), False, len(kinds)
        tagged = _TAG.search(norm) if q and not _ROBOT.search(norm) else None
        if tagged is not None and (_BY_YOU.match(norm[: tagged.start()].strip(" ,"))
                                   or _DONE.match(norm[: tagged.start()].strip(" ,"))):
            norm = norm[: tagged.start()].strip(" ,")  # "taken by you, was it?", "grabbed the mug, right?"
        k = _kind(norm, q)
        if k == "request" and not q and len(clauses) > 1 and (_I_FRAME.match(raw.strip()) or _I_REQUEST.search(norm)):
            k = "wish"  # "I'm curious how you ...", "I want to see your work": a request only if nothing else is
        if k == "request" and q and (_ROBOT.search(norm) or _BY_YOU.match(norm) or _DONE.match(norm)):
            norm, yes_no = _yes_no(norm), True
        kinds.append((norm, k))
    if agree >= 0 and kinds[agree][1] == "robot" and not any(k == "request" for _n, k in kinds):
        kinds[agree], yes_no = (_yes_no(kinds[agree][0]), "request"), True  # nothing else is asked: a yes/no
    if any(k == "request" for _n, k in kinds):
        kinds = [(n, "context" if k == "wish" else k) for n, k in kinds]
    else:
        kinds = [(n, "request" if k == "wish" else k) for n, k in kinds]
    if any(k == "request" for _n, k in kinds):  # "grandma wants to know: did you ...": nothing the question needs
        kinds = [(n, "context" if k == "other" and _empty(n, knowledge, vocab, attribute_words, time) else k)
                 for n, k in kinds]
    later = " , ".join(n for n, _k in kinds[1:])
    if len(kinds) > 1 and kinds[0][1] == "other" and _bare_np(kinds[0][0], knowledge, vocab, attribute_words) and (
            _PRONOUN.search(later) or _THERE.search(later)):
        kinds[0] = (kinds[0][0], "context")  # "black towel - you picked it up?", "hallway dresser - what is there?"
    robot = [n for n, k in kinds if k == "robot"]
    if robot:  # "you moved the remote. did you?" -> "did you moved the remote"
        kinds = [(f"{n.split()[0]} {robot[-1]}" if k == "request" and _ELLIPSIS.match(n) else n, k)
                 for n, k in kinds]
    requests = [n for n, k in kinds if k in ("request", "other")]
    if not any(k == "request" for _n, k in kinds) or not any(k in ("context", "robot") for _n, k in kinds):
        if yes_no and requests:
            return Focus(normalize(" , ".join(requests)), used=("a yes/no question",))  # "you took the mug?"
        if len(kinds) > 1 and any(k == "request" for _n, k in kinds):  # frames said mid-text: "..: do you recall X"
            return Focus(normalize(" , ".join(n for n, k in kinds if k != "context") or whole))
        return Focus(whole)
    c = _Ctx([], [], [], [], [])
    alone = ""
    dropped: list[str] = []
    used: list[str] = []
    for n, k in kinds:
        bare = _bare_np(n, knowledge, vocab, attribute_words) if k == "context" else ""
        if bare == "object":
            c.things.append(n)
        elif bare:
            place = re.sub(r"^(?:the|a|an|my|our|your|that|this) ", "", n)
            c.places.append(f"{'on' if bare == 'receptacle' else 'in'} the {place}")
        elif k in ("context", "robot") and time is not None:
            _gather(n, k, c, knowledge, vocab, attribute_words, time, dropped)
        elif k in ("context", "robot"):
            dropped.append(n)
    text = " , ".join(requests)
    mentions, _w = _things(text, knowledge, vocab, attribute_words)
    has_obj = any(m.kind in ("object", "kind") and (not m.generic or m.attributes) for m in mentions)
    pron = next((p for p in _PRONOUN.finditer(text)
                 if not any(d.start() <= p.start() < d.end() for d in _DUMMY_IT.finditer(text))), None)
    if c.things and not has_obj:
        thing = c.things[-1]
        nxt = _NEXT.search(text)
        if nxt is not None:  # "you grabbed the mug - and then what? go to the next thing"
            text = text[: nxt.start()] + f"the {nxt.group(1) or 'thing'} right after {thing}" + text[nxt.end() :]
        elif pron is not None and c.lists and _PLURAL.fullmatch(pron.group()):
            text = text[: pron.start()] + c.lists[-1] + text[pron.end() :]  # "take me to them in that order"
        elif pron is not None:
            if re.search(r"\b(?:to|me|us)\s*$", text[: pron.start()]):  # "... ? take me to it": maybe the answer
                alone = text
            text = text[: pron.start()] + thing + text[pron.end() :]
        else:
            alone = text
            text = f"{thing} , {text}"
        used.append(thing)
    elif c.clauses and not has_obj and re.search(r"\b(?:it|them)\b", text):
        alone = text
        text = f"{c.clauses[-1]} , {text}"
        used.append(c.clauses[-1])
    elif c.places and pron is not None and not has_obj and not any(m.kind in ("room", "receptacle")
                                                                    for m in mentions):
        place = c.places[-1].split(" ", 1)[1]  # "how many times did you go into it" -> "... into the office"
        text = text[: pron.start()] + place + text[pron.end() :]
        used.append(place)
    if c.places and not any(m.kind in ("room", "receptacle") for m in mentions) and _THERE.search(text):
        text = _THERE.sub(c.places[-1], text, count=1)
        used.append(c.places[-1])
    if c.times and time is not None:
        text, said = _with_time(text, c.times[-1], time)
        alone = _with_time(alone, c.times[-1], time)[0] if alone else ""
        if said:
            used.append(said)
    return Focus(normalize(text), tuple(used), tuple(dropped), normalize(alone) if alone else "")
