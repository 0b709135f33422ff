"""The question parser: text -> :class:`~robomem.planner.nl.plan.QueryPlan` with a parse confidence.

Pipeline: :func:`~robomem.planner.nl.lexicon.normalize` (contractions, spellings, indirect-question frames) ->
:func:`~robomem.planner.nl.timeexpr.extract_time` -> :func:`~robomem.planner.nl.reader.read` (mentions and cues,
using the memory's own vocabulary when given) -> :class:`~robomem.planner.nl.intents.IntentClassifier` (rules +
sentence embeddings) -> slot filling for the chosen intent. Deterministic: the same text, vocabulary and times
give the same plan. A question no intent fits is ``Intent.NOT_UNDERSTOOD`` with confidence 0 and notes saying
what was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional

from robomem.planner.knowledge import Knowledge, default_knowledge
from robomem.planner.nl.choice import any_one
from robomem.planner.nl.clauses import focus
from robomem.planner.nl.embedder import TextEmbedder
from robomem.planner.nl.intents import IntentClassifier, IntentScore
from robomem.planner.nl.lexicon import COLOURS, MATERIALS, SIZES, correct_typos, normalize
from robomem.planner.nl.plan import AttributeKind, EntityKind, EntityRef, Intent, QueryPlan, Relation
from robomem.planner.nl.reader import Mention, Reading, read
from robomem.planner.nl.timeexpr import TimeContext, TimeParse, extract_time

__all__ = ["ParseContext", "Parser"]

I = Intent
_VALUE_INTENTS = frozenset({
    I.PICK_COUNT, I.OBJECT_ROOM, I.OBJECT_ATTRIBUTE, I.DID_PICK, I.ROOM_ENTRIES, I.ROOM_AT_TIME, I.PICK_TIME,
    I.PLACE_TIME,
    I.DURATION_OF, I.COUNT_CATEGORY, I.COUNT_PICKED, I.COUNT_ROOMS,
})
_ROOM_INTENTS = frozenset({I.ROOM_NOT_VISITED, I.ROOM_START, I.ROOM_END, I.ROOM_MOST_TIME})
_THING_INTENTS = frozenset({
    I.FIND_OBJECT, I.OBJECT_ROOM, I.OBJECT_ATTRIBUTE, I.DID_PICK, I.PICK_RECEPTACLE, I.PLACE_RECEPTACLE,
    I.RECEPTACLE_NEAR_OBJECT, I.PICK_TIME, I.PLACE_TIME, I.DURATION_OF, I.PICK_COUNT, I.COUNT_CATEGORY,
    I.MULTI_LIST, I.NOT_UNDERSTOOD,
})
"""Intents about one named thing: a request of another intent does not take a thing from its context."""
_FOCUS_FLOOR = 0.5
"""A request read without the thing its context named must be this sure to be taken."""


@dataclass(frozen=True)
class ParseContext:
    """What the parser may know besides the text: times (zone, now, the memory's span) and the memory's own
    vocabulary (phrase -> "object" / "receptacle" / "room", singular; label modifier words)."""

    time: TimeContext
    vocabulary: Mapping[str, str] = field(default_factory=dict)
    attribute_words: frozenset[str] = frozenset()


class _SlotError(Exception):
    pass


def _quantifier(m: Mention) -> str:
    if m.determiner in ("all", "every", "each", "these", "those", "both") or (m.plural and m.generic):
        return "all"
    if m.determiner in ("a", "an", "any", "some", "one", "another", "either") or m.head in ("something", "anything"):
        return "any"
    return "the"


class Parser:
    """Parses questions (see the module docstring). ``embedder`` None: rules only."""

    def __init__(self, knowledge: Optional[Knowledge] = None, embedder: Optional[TextEmbedder] = None) -> None:
        self.knowledge = knowledge or default_knowledge()
        self.classifier = IntentClassifier(embedder)
        self._lexicon_words = self.knowledge.words() | set(COLOURS) | set(MATERIALS) | set(SIZES)
        self._known_key: int = -1
        self._known_cache: set[str] = set()

    # ------------------------------------------------------------------------------------------ public
    def parse(self, question: str, ctx: ParseContext) -> QueryPlan:
        norm = normalize(question) if isinstance(question, str) else ""
        if not norm:
            return QueryPlan(I.NOT_UNDERSTOOD, confidence=0.0, text=norm, notes=("the question is empty",))
        focused = focus(question, self.knowledge, ctx.vocabulary, ctx.attribute_words, ctx.time)
        if not focused.text or focused.text == norm:
            return self._parse_normalized(norm, ctx, [])
        context_notes = [f"asked: {focused.text!r}" + (f" ({', '.join(focused.used)} from the context)"
                                                       if focused.used else "")]
        if focused.dropped:
            context_notes.append(f"context left out: {'; '.join(focused.dropped)}")
        plan = self._parse_normalized(focused.text, ctx, context_notes)
        if focused.alone:  # the context's thing was put in front: only if the request needs a thing
            alone = self._parse_normalized(focused.alone, ctx, [f"asked: {focused.alone!r}",
                                                                "context left out: the thing it named"])
            if alone.confidence >= _FOCUS_FLOOR and alone.intent not in _THING_INTENTS:
                return alone
        if plan.intent is not I.NOT_UNDERSTOOD:
            return plan
        whole = self._parse_normalized(norm, ctx, ["the request alone fits no question: read as a whole"])
        return whole if whole.confidence > plan.confidence and whole.confidence >= _FOCUS_FLOOR else plan

    def _parse_normalized(self, norm: str, ctx: ParseContext, context_notes: list[str]) -> QueryPlan:
        norm = any_one(norm)
        tp = extract_time(norm, ctx.time)
        if tp.error:
            return QueryPlan(I.NOT_UNDERSTOOD, confidence=0.0, text=norm, notes=(f"the time: {tp.error}",))
        rest, fixes = correct_typos(tp.text, self._known(ctx))
        reading = read(rest, self.knowledge, ctx.vocabulary, ctx.attribute_words)
        ranking = self.classifier.rank(reading, tp, reading.masked)
        notes = context_notes + [f"read: {reading.masked!r}"] + ([f"spelling: {', '.join(fixes)}"] if fixes else [])
        if tp.spec is not None:
            notes.append(f"time {tp.spec.text!r}")
        candidates = [s for s in ranking if s.total > 0]
        for k, best in enumerate(candidates):
            try:
                plan = self._fill(best.intent, reading, tp)
            except _SlotError as exc:
                notes.append(f"{best.intent.value}: {exc}")
                continue
            runner = next((s for s in candidates[k + 1 :] if s.intent is not best.intent), None)
            conf = self._confidence(best, runner, reading)
            t = plan.target
            if plan.intent is I.FIND_OBJECT and t is not None and t.generic and not t.attributes and (
                    plan.interacted is None and plan.receptacle is None and not plan.room and plan.time is None):
                conf = round(conf * 0.6, 3)  # "show me one": which thing was never said
                notes.append("the thing to find is not said (only 'one' / 'something')")
            return replace(plan, confidence=conf, text=norm, notes=tuple(notes))
        what = ", ".join(m.text for m in reading.mentions) or "nothing I know"
        notes.append(f"no question type fits (things named: {what})")
        return QueryPlan(I.NOT_UNDERSTOOD, confidence=0.0, text=norm, notes=tuple(notes))

    def _known(self, ctx: ParseContext) -> set[str]:
        """Words the typo fixer must leave alone: the memory's vocabulary and every word the lexicon knows."""
        key = id(ctx.vocabulary)
        if self._known_key != key:
            words = {w for phrase in ctx.vocabulary for w in phrase.split()} | set(ctx.attribute_words)
            self._known_cache = words | self._lexicon_words
            self._known_key = key
        return self._known_cache

    # ------------------------------------------------------------------------------------------ confidence
    def _confidence(self, best: IntentScore, runner: Optional[IntentScore], reading: Reading) -> float:
        if self.classifier.embedder is None:
            base = best.rule
        else:
            base = best.rule * (0.6 + 0.4 * max(0.0, min(1.0, best.similarity / 0.8)))
        margin = best.total - (runner.total if runner is not None else 0.0)
        base *= 0.75 + 0.25 * min(1.0, margin / 0.15)
        base *= max(0.6, 0.9 ** len(reading.unexplained))
        return round(max(0.0, min(1.0, base)), 3)

    # ------------------------------------------------------------------------------------------ slots
    def _ref(self, m: Mention, extra: tuple[str, ...] = ()) -> EntityRef:
        attrs = []
        for a in (*m.attributes, *extra):
            shape = self.knowledge.shape_word(a.removesuffix("-shaped"))
            a = shape or a.removesuffix("-colored")
            if a not in attrs:
                attrs.append(a)
        kind = EntityKind.RECEPTACLE if m.kind == "receptacle" else EntityKind.OBJECT
        return EntityRef(m.text, m.head, tuple(attrs), kind, m.generic, _quantifier(m))

    def _fill(self, intent: Intent, r: Reading, tp: TimeParse) -> QueryPlan:
        c = r.cues
        anchor_m = r.mentions[c.anchor_index] if c.anchor_index >= 0 else None
        objs = [m for m in r.mentions
                if m.kind in ("object", "unknown", "kind") and not m.generic and m is not anchor_m]
        gobjs = r.of_kind("object", generic=True)
        recs = r.of_kind("receptacle", generic=False)
        rooms = r.of_kind("room", generic=False)
        post = tuple(c.post_attributes)
        target_m = objs[0] if objs else (gobjs[0] if gobjs else None)
        target = self._ref(target_m, post) if target_m is not None else None
        if target is None and post:
            target = EntityRef("object", "", tuple(post), EntityKind.OBJECT, True, "the")
        room = rooms[0].text if rooms else ""
        if rooms and rooms[0].head:
            room = rooms[0].head
        receptacle = self._ref(recs[0]) if recs else None
        nav = "nav" in c.wh
        robot_pick = "pick" in c.verbs and c.subject in ("robot", "") and not c.negated
        plan = QueryPlan(intent, navigate=nav)
        if intent is I.FIND_OBJECT:
            if target is None:
                raise _SlotError("no object named")
            interacted: Optional[bool] = None
            if "pick" in c.verbs and c.subject != "user":
                interacted = not c.negated
            relation = Relation.NONE
            if receptacle is not None:
                if recs[0].prep in ("from", "off", "out of") and "pick" in c.verbs:
                    relation = Relation.PICKED_FROM
                elif "place" in c.verbs and c.subject != "user":
                    relation = Relation.PLACED
                else:
                    relation = Relation.SEEN
                if relation is Relation.PLACED:
                    interacted = True
            if interacted is None and "place" in c.verbs and c.subject == "robot" and receptacle is None:
                interacted = True
            navigate = not ("yesno" in c.wh and "nav" not in c.wh)
            return replace(plan, target=target, receptacle=receptacle, room=room, relation=relation,
                           interacted=interacted, time=tp.spec, navigate=navigate)
        if intent is I.MULTI_LIST:
            listed = [self._ref(m) for m in objs]
            if len(listed) < 2:
                raise _SlotError("fewer than two objects listed")
            return replace(plan, objects=tuple(listed), ordered=c.order == "ordered", navigate=True)
        if intent in (I.OBJECT_ROOM, I.DID_PICK, I.PICK_TIME, I.PLACE_TIME, I.DURATION_OF, I.PICK_RECEPTACLE,
                      I.PLACE_RECEPTACLE, I.RECEPTACLE_NEAR_OBJECT, I.PICK_COUNT):
            if not objs:
                raise _SlotError("no object named")
            t = self._ref(objs[0], post)
            nav_ = nav or intent in (I.PICK_RECEPTACLE, I.PLACE_RECEPTACLE, I.RECEPTACLE_NEAR_OBJECT)
            return replace(plan, target=t, superlative=c.superlative if intent is I.RECEPTACLE_NEAR_OBJECT else "",
                           ordinal=c.ordinal if intent in (I.PICK_TIME, I.PLACE_TIME, I.DURATION_OF, I.PICK_RECEPTACLE,
                                                           I.PLACE_RECEPTACLE) else None,
                           count=intent is I.PICK_COUNT,
                           navigate=nav_ and intent not in _VALUE_INTENTS or nav and intent is I.OBJECT_ROOM,
                           receptacle=receptacle if intent is I.OBJECT_ROOM else None)
        if intent is I.OBJECT_ATTRIBUTE:
            if target is None:
                raise _SlotError("no object named")
            kind = {"color": AttributeKind.COLOR, "material": AttributeKind.MATERIAL,
                    "shape": AttributeKind.SHAPE}.get(c.attribute_kind, AttributeKind.ANY)
            if kind is AttributeKind.ANY:
                raise _SlotError("which attribute is asked is unclear")
            rel = Relation.PICKED_FROM if receptacle is not None and (
                "pick" in c.verbs or recs[0].prep in ("from", "off", "out of")) else (
                Relation.SEEN if receptacle is not None else Relation.NONE)
            return replace(plan, target=target, attribute_kind=kind, receptacle=receptacle, room=room, relation=rel,
                           interacted=True if robot_pick else None, navigate=False)
        if intent is I.OBJECT_NEAR_RECEPTACLE:
            if receptacle is None:
                raise _SlotError("no receptacle named")
            return replace(plan, receptacle=receptacle, room=room, superlative=c.superlative,
                           target=self._ref(gobjs[0], post) if gobjs else None, navigate=True)
        if intent in _ROOM_INTENTS:
            return replace(plan, navigate=nav or intent is I.ROOM_NOT_VISITED and "which_room" not in c.wh,
                           time=tp.spec)
        if intent is I.ROOM_ENTRIES:
            if not room:
                raise _SlotError("no room named")
            return replace(plan, room=room, count=True, navigate=False, time=tp.spec)
        if intent is I.ROOM_AT_TIME:
            if tp.spec is None:
                raise _SlotError("no time given")
            return replace(plan, time=tp.spec, navigate=nav)
        if intent is I.PICK_ORDER:
            if c.ordinal is None and anchor_m is None:
                raise _SlotError("no position in the order given")
            return replace(plan, ordinal=c.ordinal if anchor_m is None else None,
                           anchor=self._ref(anchor_m) if anchor_m is not None else None,
                           anchor_offset=c.anchor_offset or 1,
                           target=self._ref(objs[0], post) if objs else (target if post else None), navigate=True)
        if intent in (I.PICK_AT_TIME, I.PLACE_AT_TIME):
            if tp.spec is None:
                raise _SlotError("no time given")
            return replace(plan, time=tp.spec, navigate=True,
                           target=self._ref(objs[0]) if objs and intent is I.PICK_AT_TIME else None)
        if intent is I.DURATION_EXTREME:
            if c.superlative not in ("longest", "shortest"):
                raise _SlotError("neither longest nor shortest")
            return replace(plan, superlative=c.superlative, navigate=True)
        if intent in (I.MULTI_PICKED, I.MULTI_PLACED_RECEPTACLES):
            tour = bool(c.order) and not ({"which", "yesno"} & c.wh) and not r.text.startswith(
                ("what", "which", "where", "list", "tell", "name", "how"))  # "drop-off spots since 9, in order": a tour
            return replace(plan, ordered=c.order == "ordered" or "in which order" in r.text or "what order" in r.text,
                           navigate=nav or tour, time=tp.spec,
                           target=self._ref(objs[0], post) if objs and intent is I.MULTI_PICKED else None)
        if intent is I.CHANGES:
            counting = "how_many" in c.wh
            return replace(plan, room=room, time=tp.spec, count=counting, navigate=nav or not counting)
        if intent is I.COUNT_CATEGORY:
            things = objs or recs
            if not things:
                raise _SlotError("nothing to count named")
            return replace(plan, target=self._ref(things[0], post), count=True, navigate=False, room=room)
        if intent is I.COUNT_PICKED:
            return replace(plan, count=True, navigate=False, target=self._ref(objs[0], post) if objs else None,
                           time=tp.spec)
        if intent is I.COUNT_ROOMS:
            return replace(plan, count=True, navigate=False, time=tp.spec)
        raise _SlotError(f"no slot filler for {intent.value}")
