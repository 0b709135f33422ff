"""Natural-language understanding for the planners: normalisation and word lists (:mod:`.lexicon`), the request
found in what people say (:mod:`.clauses`: a story or context around the question), time expressions
(:mod:`.timeexpr`), mentions (:mod:`.reader`) and cue words (:mod:`.cues`), intent recognition
(:mod:`.intents`, :mod:`.embedder`) and the parser that puts them together into a typed
:class:`~.plan.QueryPlan` (:mod:`.parser`)."""

from robomem.planner.nl.plan import EntityKind, EntityRef, Intent, QueryPlan, Relation, TimeSpec

__all__ = ["EntityKind", "EntityRef", "Intent", "QueryPlan", "Relation", "TimeSpec"]
