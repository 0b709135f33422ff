"""The cue words of questions: which words say what is asked (question words, verbs of picking / placing /
seeing / visiting / spending time / starting / ending / changing / taking time, containing), order, superlatives,
negation, quantifiers, attribute kinds, attributes said after the noun, "right after X" anchors, and who the
subject is. Regular expressions over a normalised question whose mentions are masked (ITEM, FURNITURE, ROOM);
used by :func:`robomem.planner.nl.reader.read`."""

from __future__ import annotations

import re

_NAV_VERBS = (
    "navigate|go|head|walk|drive|move|return|come|proceed|get|travel|bring|take|lead|guide|show|find|locate|visit|"
    "revisit|point|escort|steer|direct"
)
_CUE_PATTERNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (group, name, alternatives (regexes) over the text with mentions masked)
    ("wh", "how_many_times", (
        r"\bhow (?:many|much) times\b", r"\bhow often\b", r"\bnumber of times\b", r"\bhow frequently\b",
        r"\bhow many visits\b", r"\bhow many time\b", r"\btimes (?:entered|visited|been|gone|went|picked|moved)\b",
        r"\b(?:number|count) of (?:entries|visits|pickups)\b", r"\b(?:pick-?up|visit|entry) count\b",
        r"\bhow much times?\b(?= (?:did |do |have )?you (?:go|went|enter|"
        r"visit|been|come|came)\b)",
    )),
    ("wh", "how_many", (
        r"\bhow many\b", r"\bnumber of\b", r"\bcount\b", r"\bhow much\b(?! time)", r"\btotal of\b", r"\bquantity\b",
        r"\bhow numerous\b", r"^total\b", r"\btotal (?:number|count)\b",
        r"(?:^|, )(?:the |what )?(?:number|count|total)(?: of them| is)?\s*(?:,|$)",
    )),
    ("wh", "how_long", (
        r"\bhow long\b", r"\bhow much time\b", r"\bduration\b", r"\bhow many (?:minutes|seconds|hours)\b",
        r"\bhow quickly\b", r"\bhow fast\b", r"\bhow slow(?:ly)?\b",
    )),
    ("wh", "when", (
        r"^when\b", r"\bwhen (?:did|was|were|is|do|does|have|had|will|would)\b", r"\bwhat time\b",
        r"\bat what point\b", r"\bwhich time\b", r"\bwhat hour\b", r"\bwhen\s*$",
        r"\bwhat was the time\b", r"\btime at which\b", r"\bpick-?up time\b",
        r"(?:^|, )(?:the |what |which )?(?:time|hour)\s*(?:,|$)",
    )),
    ("wh", "which_room", (
        r"\b(?:which|what) (?:room|part of the house|area|space)\b", r"\bin which room\b", r"\bwhat room\b",
        r"\bwhich room\b", r"\bthe room (?:where|in which|that|it is in|it was in)\b",
        r"(?:^|, )(?:the |your |which |what )?room (?:of you |for you )?(?:at|in the|during|when|on|around|yesterday|"
        r"today|this|last)\b",
    )),
    ("wh", "where", (
        r"\bwhere\b", r"\bwhereabouts\b", r"\beverywhere\b", r"\bwherever\b", r"\blocation of\b", r"\bwhat place\b",
    )),
    ("wh", "attr", (
        r"\b(?:what|which) (?:color|colour|material|shape|kind of material)\b", r"\bmade (?:of|from|out of) what\b",
        r"\bwhat (?:is|was|are|were) (?:it|they|the \w+|that) made (?:of|from)\b", r"\bwhat is it made of\b",
        r"\bwhat \w+ (?:is|was) the \w+ made of\b", r"\bmade of\b(?= *$)",
    )),
    ("wh", "attr", (
        r"\bthe (?:color|colour|material|shape) of\b",
        r"\b(?:color|colour|material|shape) (?:was|is) (?:it|that|the)\b",
        r"\bwhat was it made of\b",
        r"(?:^|, )(?:its |the |which |what )?(?:color|material|shape)(?: of it)?(?: , .*)?$",
        r"\b(?:color|material|shape) of\b", r"^(?:color|material|shape) (?!of\b)(?=\w)",
        r"\bwhat (?:is|was) (?:the |its )?(?:color|material|shape)\b",
    )),
    ("wh", "yesno", (
        r"^(?:did|have|has|had|was|were|is|are|do|does|whether|if)\b",
    )),
    ("wh", "which", (
        r"\b(?:which|what)(?: \w+)? (?:one|object|thing|item|of the)\b", r"^(?:which|what)\b",
    )),
    ("wh", "nav", (
        r"\b(?:" + _NAV_VERBS + r")\b(?: (?:back|over|me|us|yourself|myself|on|straight))*"
        r"(?: (?:to|toward|towards|into|up to|in front of|near|where))\b",
        r"\bbring me (?:to|over to)\b", r"\btake me\b", r"\bshow me\b", r"\blead me\b", r"\bguide me\b",
        r"\bhelp me (?:find|locate|get to)\b", r"\bshow (?:him|her|them|us)\b",
        r"^(?:go|head|walk|drive|navigate|return|come|show)\b(?! (?:on|ahead)\b)",
        r"\bi (?:am looking|need to find|want to find|want to go|need to go|would like to go|am searching)\b",
        r"\blooking for\b", r"\bcan i find\b", r"\bfind (?:me )?(?:the|a|an|any|my|some|one|all|every|each)\b",
        r"\blocate\b", r"\bget me to\b", r"\bgo see\b", r"\bgo check\b",
        r"\b(?:go|head|come) (?:back )?(?:there|over)\b", r"\bpoint me\b", r"\bvisit\b", r"\brevisit\b",
        r"\blead the way\b",
        r"\b(?:i would like|i want|i need|i wish|i would love) to see\b", r"\blet me see\b",
        r"(?:^|, )(?:go|come|lead|guide|show|take me|bring me|show me|lead me|go there|take me there)(?: now| please)?"
        r"\s*(?:,|$)",
    )),
    ("wh", "is_there", (
        r"^(?:is|are) there\b", r"\bdo (?:you|we) have (?:a|an|any)\b",
    )),
    ("verbs", "pick", (
        r"\bpick(?:ed|ing|s)? (?:up|\w+ up)\b", r"\bpick(?:ed)?\b", r"\bgrab(?:bed|bing|s)?\b", r"\btook\b",
        r"\btake[ns]?\b", r"\btaking\b", r"\blift(?:ed|ing)?\b", r"\bcollect(?:ed|ing)?\b", r"\bhandl(?:e|ed|ing)\b",
        r"\binteract(?:ed|ing)?\b", r"\btouch(?:ed|ing)?\b", r"\bcarr(?:y|ied|ying)\b", r"\brearrang(?:e|ed|ing)\b",
        r"\brelocat(?:e|ed|ing)\b", r"\bfetch(?:ed|ing)?\b", r"\bgot hold of\b", r"\bheld\b", r"\bhold\b",
        r"\bmov(?:e|ed|ing)\b", r"\bmanipulat(?:e|ed|ing)\b", r"\bpicked\b", r"\bused\b", r"\bplayed with\b",
        r"\b(?:fiddl|tinker|mess|toy)(?:e|ed|ing)? (?:with|about|around)\b",
        r"\bput away\b", r"\btidied\b", r"\btid(?:y|ied) up\b", r"\bremoved?\b", r"\bget\b", r"\bgot\b",
        r"\brearrangement\b", r"\brelocation\b", r"\bpick-?up\b", r"\bpickups?\b", r"\btransport(?:ed|ing)?\b",
        r"\bgetting\b", r"\bpicking\b", r"\btaked\b", r"\btooked\b", r"\bgrabed\b",
        r"\bhad (?:it|them) in (?:your|its) hands?\b",
        r"\bsnatch(?:ed|ing)?\b", r"\bnab(?:bed|bing)?\b", r"\bseiz(?:e|ed|ing)\b",
        r"\bscoop(?:ed)? up\b", r"\bretriev(?:e|ed|ing)\b", r"\bgather(?:ed|ing)?\b", r"\btook away\b",
    )),
    ("verbs", "place", (
        r"\bput\b", r"\bputting\b", r"\bplac(?:e|ed|ing)\b", r"\bset (?:down|it|them|the)\b",
        r"\bset\b(?! (?:up|off|out|to|about|for|fire|eyes)\b)", r"\bdrop(?:ped)?(?: off)?\b",
        r"\bleft\b", r"\bleave\b",
        r"\bdeposit(?:ed)?\b", r"\bstash(?:ed)?\b", r"\bstor(?:e|ed)\b", r"\bpark(?:ed)?\b",
        r"\brest(?:ed)?\b(?= (?:on|it))", r"\blaid\b(?! eyes)", r"\blay\b", r"\bdropped off\b", r"\bput down\b",
        r"\bset down\b", r"\bput back\b", r"\breturned\b", r"\bbrought\b",
        r"\bmoved (?:it|them|the \w+) (?:to|onto|into)\b", r"\bend(?:ed)? up\b(?= on| in)",
        r"\bstow(?:ed|ing)?\b", r"\btuck(?:ed|ing)?\b", r"\bplonk(?:ed|ing)?\b", r"\bplop(?:ped|ping)?\b",
        r"\bdump(?:ed|ing)?\b", r"\bshov(?:e|ed|ing)\b", r"\bhid(?:e|den|ing)?\b", r"\bhung\b",
        r"\bstuck\b", r"\bpopped\b", r"\bsat (?:it|them)\b",
    )),
    ("verbs", "see", (
        r"\bs(?:ee|aw|een)\b", r"\bspot(?:ted)?\b", r"\bnotic(?:e|ed)\b", r"\bobserv(?:e|ed)\b", r"\bcome across\b",
        r"\bcame across\b", r"\bencounter(?:ed)?\b", r"\blook(?:ed)? at\b", r"\bfound\b", r"\bdetect(?:ed)?\b",
        r"\brecogni[sz]ed?\b", r"\bexist\b", r"\bthere (?:is|are|were|was)\b", r"\bknow of\b",
        r"\bremember seeing\b", r"\b(?:laid|set|clapped) eyes on\b", r"\bcatch sight\b", r"\bcaught sight\b",
        r"\bcame upon\b",
    )),
    ("verbs", "visit", (
        r"\bvisit(?:ed|ing|s)?\b", r"\benter(?:ed|ing|s)?\b", r"\bwent (?:in|into|to|inside)\b",
        r"\bgo (?:in|into|to|inside)\b", r"\bgone (?:in|into|to|inside)\b", r"\bgoing (?:in|into|to)\b",
        r"\bbeen (?:in|to|into|inside|through)\b", r"\bwalk(?:ed)? (?:in|into|through)\b",
        r"\bstep(?:ped)? (?:in|into)\b", r"\bpass(?:ed)? through\b", r"\bcame (?:in|into)\b",
        r"\bcome (?:in|into)\b", r"\bbeen\b",
        r"\bentr(?:y|ies)\b", r"\bvisits\b", r"\bexplor(?:e|ed)\b", r"\bunexplored\b", r"\bunvisited\b",
        r"\bset foot\b", r"\bstop(?:ped)? by\b", r"\bdrop(?:ped)? (?:in|by)\b", r"\bcheck(?:ed)? (?:out|in)\b",
        r"\btrip\b", r"\btrips\b", r"\bwere you in\b", r"\bwas i in\b",
    )),
    ("verbs", "spend", (
        r"\bspen[dt]\b", r"\bspending\b", r"\bstay(?:ed)?\b", r"\bhung out\b", r"\bhang out\b", r"\blinger(?:ed)?\b",
        r"\bmost of (?:your|the) time\b", r"\bmost time\b", r"\bthe most time\b", r"\blongest\b(?= (?:in|time))",
        r"\bthe longest\b", r"\bthe most\b", r"\bbusiest\b", r"\bmostly\b", r"\bmainly\b", r"\bmost often\b",
        r"\bfavorite\b", r"\b(?:bulk|majority|lion s share) of (?:your|the) time\b", r"\bin (?:the )?most\s*$",
        r"\bwere (?:in )?(?:the )?most\b", r"\b(?:were|was|stayed|been|spent) in (?:the )?longest\b",
    )),
    ("verbs", "start", (
        r"\bstart(?:ed|ing)?\b", r"\bbegin(?:ning)?\b", r"\bbegan\b", r"\bwoke(?: up)?\b", r"\bwake(?: up)?\b",
        r"\bfirst thing\b", r"\bstarting\b", r"\binitially\b", r"\bat first\b", r"\boriginally\b",
    )),
    ("verbs", "end", (
        r"\bend(?:ed|ing)?\b", r"\bfinish(?:ed|ing)?\b", r"\bwrap(?:ped)? up\b", r"\bend of the day\b",
        r"\bclose of the day\b", r"\bat the end\b", r"\bcurrently\b", r"\bright now\b", r"\bare you (?:in )?now\b",
        r"\bare you\b", r"\blast (?:room|place)\b", r"\bfinally\b", r"\bin the end\b", r"\bdone\b",
        r"\bstop(?:ped)?\b(?! by)", r"\bcalled it a day\b",
    )),
    ("verbs", "change", (
        r"\bchang(?:e|ed|es|ing)\b", r"\bdifferent\b", r"\bdifference\b",
        r"\bmoved (?:in|out|into|around|within|about|from|to)\b", r"\bbeen moved\b", r"\bgot moved\b",
        r"\bwas moved\b", r"\bwere moved\b", r"\bmoved (?:since|after|before|during)\b", r"\bmovement\b",
        r"\bmoving\b", r"\bmoved\b", r"\bmoves?\b", r"\bshifted\b", r"\brearranged\b", r"\bdisturbed\b",
        r"\btaken (?:out|away|into|in)\b", r"\bbrought (?:in|into|out)\b", r"\bcame (?:in|into|out)\b", r"\bleft\b",
        r"\bappeared\b", r"\bdisappeared\b", r"\bmissing\b", r"\bnew\b", r"\bgone\b", r"\bremoved\b", r"\badded\b",
    )),
    ("verbs", "take_time", (
        r"\btook (?:you )?(?:the )?(?:longest|shortest|most|least|longer|less)\b",
        r"\btake (?:you )?(?:the )?(?:longest|shortest|most|least|longer|less)\b",
        r"\bto (?:rearrange|move|relocate|carry|put away|deliver|bring)\b", r"\btook\b", r"\btake\b", r"\btime\b",
    )),
    ("verbs", "contain", (
        r"\b(?:has|have|had|contains?|contained|holds?|held|is home to|houses?)\b",
    )),
)
_CUES = tuple((g, n, re.compile("|".join(alts))) for g, n, alts in _CUE_PATTERNS)



def _any(*alternatives: str) -> re.Pattern[str]:
    """One pattern matching any of the alternatives (regexes)."""
    return re.compile("|".join(alternatives))


def _words(*phrases: str) -> re.Pattern[str]:
    """One pattern matching any of the phrases as whole words (phrases may hold regex)."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


_ORDER = (
    ("unordered", _any(
        r"\b(?:in )?any order\b", r"\bwhatever order\b", r"\border does not matter\b", r"\bno particular order\b",
        r"\bany sequence\b", r"\bin no (?:specific |particular )?order\b", r"\bdoes not matter (?:the|which) order\b",
        r"\bregardless of (?:the )?order\b", r"\bone by one\b(?! in)", r"\border (?:is )?not important\b",
        r"\b(?:order|sequence) (?:does not|do not|doesn t|no) matter", r"\bno matter (?:the |which )?order\b",
    )),
    ("ordered", _any(
        r"\bin (?:exactly |precisely |just )?(?:the )?"
        r"(?:same |exact |right |correct |original |that |this |chronological |given |listed "
        r"|that same )?"
        r"(?:order|sequence)\b",
        r"\bin (?:the )?order (?:that |in which )?(?:you|i)\b", r"\bone after (?:the )?(?:other|another)\b",
        r"\bin turn\b", r"\bsequentially\b", r"\bchronologically\b", r"\bas listed\b", r"\bin that sequence\b",
        r"\bfollowing (?:this|that|the same) order\b", r"\bkeeping (?:the|that|this) order\b",
        r"\bin the order i (?:said|gave|listed|named|told)\b", r"\border i (?:listed|said|gave|named|mentioned|told)\b",
        r"\b(?:keep|keeping|stick|sticking) to (?:the|that|this|my) order\b", r"\bsame order as\b",
        r"\bin (?:the )?sequence\b", r"\bthe order (?:given|listed|stated)\b",
        r"(?<!since )(?<!before )\bthen\b", r"\bafterwards?\b", r"\bfollowed by\b", r"\bfirst\b.*\bthen\b",
        r"\bstarting with\b", r"\bsame order\b",
        r"\b(?:this|that|the given|the listed) (?:exact |same )?order\b",
    )),
)
_SUPERLATIVES = (
    ("nearest", _words("nearest", "closest", "most close", "more close", "most near", "more near", "next to",
                       "nearby", "near", r"close(?:st)? to", "the least far",
                       "right by", "beside", "adjacent", r"(?:smallest|shortest|least|lowest|minimum) distance")),
    ("farthest", _words("farthest", "most distant", "furthest", r"far(?:thest)? away", "farther", "the most far",
                        "most far", "more far", "furthest away", "far from", "farthest away", "away from",
                        r"(?:greatest|largest|biggest|longest|most|highest|maximum) distance")),
    ("longest", _words("longest", "the most time", "most long", "most slow", "most slowly", "most time", "slowest",
                       "the longest time",
                       r"took (?:you )?(?:the )?most", "took the longest", "longer", "the most effort", "forever",
                       r"(?:greatest|largest|biggest|most|highest|maximum|longest) (?:amount of |length of )?time",
                       "longest duration", "most effort")),
    ("shortest", _words("shortest", "least time", "the least time", "quickest", "fastest", "the least",
                        r"took (?:you )?(?:the )?least", "quicker", "faster", "the shortest time", "briefest",
                        r"(?:smallest|least|lowest|minimum|shortest) (?:amount of |length of )?time",
                        "shortest duration", "least effort", "most quickly", "soonest", "most short", "most fast",
                        "most quick")),
)
_NAV_PHRASE = re.compile(
    r"\b(?:take|bring|get|lead|guide|walk|drive|move|show|carry|escort) (?:me|us|yourself)\b"
    r"(?: (?:back |over )?(?:to|into|toward))?"
    r"|\b(?:move|go|head|get|come|return|drive|walk) (?:back |over |straight )?(?:to|toward|into)\b"
)
_NEG = re.compile(
    r"\b(?:not|never|no|none|without|unvisited|unexplored|untouched|unmoved|left alone|leave alone|did not|have not|"
    r"has not|had not|was not|were not|nobody|neither|nor)\b"
)
_ALL = re.compile(r"\b(?:all|every|each|everything|both|everyone|each and every|the whole|whole lot|all of)\b")
_ATTR_KIND = (
    ("color", re.compile(r"\b(?:color|colors|colored|hue|shade)\b")),
    ("material", _words("material", "materials", "made of", "made from", "made out of", "what is it made",
                        "built from", "consist")),
    ("shape", re.compile(r"\b(?:shape|shaped|form)\b")),
)
_POST_ATTR = re.compile(
    r"\b(?:that|which|who|it) (?:is|was|are|were|looks|looked|seems|seemed)"
    r"(?: (?:made|built|constructed) (?:of|from|out of))?"
    r"(?: (?:a|an|the|kind of|sort of|all|completely|mostly|in))? (?P<attrs>(?:\w+(?:-\w+)?)(?: (?:and|or|,) \w+)*?)"
    r"(?: in (?:color|colour|shape))?(?= |$)"
    r"|\bmade (?:of|from|out of|by|with) (?P<mat>\w+)"
    r"|\b(?:object|thing|item|one|stuff|something)s? (?:of|from) (?P<ofa>\w+)"
    r"|\b(?:in|with|of) (?:a |the )?(?P<col>\w+) (?:color|colour|shade|hue)\b"
    r"|\b(?P<col2>\w+)-colored\b|\b(?P<shp>\w+)-shaped\b|\bwith (?:a |the )?(?P<shp2>\w+) shape\b"
    r"|\b(?:is|was|are|were) (?P<attrs3>\w+(?:-\w+)?)\b"
)
_ANCHOR = re.compile(
    r"\b(?P<mod>(?:immediately |right |just |directly |straight |soon |shortly |)(?P<dir>after|following|"
    r"next after|subsequent to|once you (?:were )?done with|before|prior to|preceding|ahead of))\s*$"
)


def _subject(text: str) -> str:
    if re.search(r"\b(?:you|yourself|robot)\b", text):
        return "robot"
    if re.search(r"\b(?:i|we|myself)\b", text):
        return "user"
    if re.search(r"\b(?:was|were|been|got|get|being)\b \w+(?:ed|en|n)\b", text):
        return "passive"
    return ""
