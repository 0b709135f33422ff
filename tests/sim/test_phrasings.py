"""Phrasing files: validation with clear errors, the shipped development set, and asking tasks in phrasings."""

from __future__ import annotations

import json
import string

import pytest
from robomem_sim.config import SimConfig
from robomem_sim.episode import generate_episode
from robomem_sim.phrasings import DEFAULT_PHRASINGS, load_phrasings, phrase_task, variants
from robomem_sim.tasks import TEMPLATES, candidate_tasks, generate_tasks, template_placeholders
from robomem_sim.types import TaskFamily
from robomem_sim.wording import DERIVED, spoken_time, time_12h

from robomem.errors import SimError

RECALL = "Navigate to the {object} you picked up."
AT_TIME = "Navigate to the object you picked up at {time}."


def _write(tmp_path, data, raw: str | None = None):
    p = tmp_path / "mine.json"
    p.write_text(raw if raw is not None else json.dumps(data))
    return p


def _entry(template=RECALL, family="object_recall", phrasings=("Take me to the {object}.",)):
    return {"family": family, "template": template, "phrasings": list(phrasings)}


@pytest.mark.parametrize(
    ("data", "raw", "match"),
    [
        (None, '[{"family": "object_recall",', "not valid JSON at line 1 column"),
        ({"family": "x"}, None, "top level must be a JSON list"),
        (["text"], None, "entry 0 must be an object"),
        ([{"family": "object_recall", "template": RECALL}], None, "missing key(s) ['phrasings']"),
        ([{**_entry(), "note": 1}], None, "unknown key(s) ['note']"),
        ([_entry(family="telepathy")], None, "unknown family 'telepathy'"),
        ([_entry(template="Navigate to the {object} you picked up")], None, "unknown template"),
        ([_entry(template="Navigate to the {object}.")], None, "this exact text is a template of"),
        ([_entry(phrasings=("Take me to the {thing}.",))], None, "uses {thing}, which the template does not have"),
        ([_entry(phrasings=("Take me to it.",))], None, "does not say the template's placeholder {object}"),
        ([_entry(template=AT_TIME, family="time_based", phrasings=("What did you grab at {time_12h}?",))], None,
         "does not say the template's placeholder {time}"),
        ([_entry(phrasings=("Take me to the {object!r}.",))], None, "format spec or conversion"),
        ([_entry(phrasings=("Take me to the {object.",))], None, "malformed placeholder braces"),
        ([_entry(phrasings=("Go to the {object}.", "Go to the {object}."))], None, "listed twice"),
        ([_entry(phrasings=(RECALL,))], None, "repeats the template text"),
        ([_entry(), _entry()], None, "another entry already"),
        ([_entry(phrasings=())], None, "non-empty list"),
        ([], None, "lists no entries"),
        ([_entry(family=["object_recall"])], None, "unknown family ['object_recall']"),
        ([_entry(family=None)], None, "unknown family None"),
        ([_entry(template=None)], None, "unknown template None"),
        ([{**_entry(), "phrasings": "Take me to the {object}."}], None, "non-empty list of strings"),
        ([_entry(phrasings=("Take me to the {object}.", 3))], None, "phrasing 1: must be a non-empty string"),
        ([_entry(phrasings=("   ",))], None, "must be a non-empty string"),
        ([_entry(phrasings=("Take me to the {}.",))], None, "is not a placeholder name"),
        ([_entry(phrasings=("Take me to the {object[0]}.",))], None, "is not a placeholder name"),
        (None, '[{"family": "object_recall", "family": "object_recall", "template": "' + RECALL
         + '", "phrasings": ["Take me to the {object}."]}]', "gives 'family' twice"),
        (None, "", "not valid JSON at line 1 column 1"),
    ],
)
def test_invalid_files_give_clear_errors(tmp_path, data, raw, match) -> None:
    with pytest.raises(SimError) as err:
        load_phrasings(_write(tmp_path, data, raw))
    assert match in str(err.value)
    assert "mine.json" in str(err.value)


def test_a_byte_order_mark_is_fine(tmp_path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps([_entry()]).encode())
    assert load_phrasings(p).n_phrasings == 1


def test_not_utf8_is_a_clear_error(tmp_path) -> None:
    p = tmp_path / "latin.json"
    p.write_bytes(json.dumps([_entry(phrasings=("Où est le {object} ?",))], ensure_ascii=False).encode("latin-1"))
    with pytest.raises(SimError, match="not UTF-8 text"):
        load_phrasings(p)


def test_any_valid_file_asks_every_task_of_its_templates(tmp_path) -> None:
    """A file that is not in the repository (every template, every placeholder and derived placeholder it may
    use, literal braces, unicode) passes validation and phrases every task of several episodes, controls
    included, with nothing left unfilled."""
    data = []
    for f, ts in TEMPLATES.items():
        for t in ts:
            names = template_placeholders(t)
            derived = sorted(d for d, src in DERIVED.items() if src in names)
            every = " ".join("{" + n + "}" for n in names + derived)
            data.append({"family": f.value, "template": t,
                         "phrasings": [f"Hé robot {{{{ {every} }}}} ?", "Robot: " + t.lower()]})
    ps = load_phrasings(_write(tmp_path, data))
    assert ps.n_phrasings == 2 * sum(len(ts) for ts in TEMPLATES.values())
    for seed in (0, 1):
        ep = generate_episode(SimConfig.small(days=2), seed=seed)
        for fam in TaskFamily:
            for task in candidate_tasks(ep, fam):
                for name, _k, v in variants(task, ps)[1:]:
                    assert name == "mine" and "{" not in v.text.replace("{ ", "") and v.expected == task.expected
                    assert v.text.startswith(("Hé robot { ", "Robot: "))
                    if task.control is not None:
                        assert v.control is not None and v.control.text.startswith(v.text[:5])
                    if task.asked:
                        assert v.asked and v.asked in v.text


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SimError, match="cannot read phrasing file"):
        load_phrasings(tmp_path / "nope.json")


def test_unknown_template_suggests_the_closest(tmp_path) -> None:
    with pytest.raises(SimError, match="closest template of 'object_recall' is 'Navigate to the {object} you"):
        load_phrasings(_write(tmp_path, [_entry(template="Navigate to the {object} you picked.")]))


def test_template_placeholders_alone_always_work(tmp_path) -> None:
    """A held-out file written against TEMPLATES with only the templates' own placeholders is valid."""
    data = [{"family": f.value, "template": t,
             "phrasings": ["Please " + t[0].lower() + t[1:], " / ".join("{" + p + "}" for p in template_placeholders(t))
                           or "anything"]}
            for f, ts in TEMPLATES.items() for t in ts]
    ps = load_phrasings(_write(tmp_path, data))
    assert len(ps.entries) == sum(len(ts) for ts in TEMPLATES.values()) and ps.name == "mine"


def test_shipped_dev_set_phrases_every_template_at_least_three_ways() -> None:
    ps = load_phrasings(DEFAULT_PHRASINGS)
    assert ps.name == "dev"
    for f, ts in TEMPLATES.items():
        for t in ts:
            phr = ps.entries[(f, t)]
            assert len(phr) >= 3, t
    every = [p for v in ps.entries.values() for p in v]
    text = " ".join(every).lower()
    for spoken in ("'s", "can you", "take me", "{time_spoken}", "{day}", "{day_part}", "{object_short}"):
        assert spoken in text, spoken  # contractions, indirect questions, imperatives, spoken times, days


def test_every_task_is_asked_in_each_phrasing_with_the_same_answer() -> None:
    ep = generate_episode(SimConfig.small(days=2), seed=3)
    ps = load_phrasings(DEFAULT_PHRASINGS)
    tasks = generate_tasks(ep, per_family=2)
    for task in tasks:
        vs = variants(task, ps)
        assert vs[0] == ("templates", -1, task)
        assert len(vs) == 1 + len(ps.phrasings_for(task)) >= 4
        for name, k, v in vs[1:]:
            assert name == "dev" and v.expected == task.expected and v.task_id == task.task_id
            assert "{" not in v.text and v.text != task.text
            fields = [f for _, f, _, _ in string.Formatter().parse(ps.phrasings_for(task)[k]) if f]
            for f in fields:
                assert str(task.meta[f]) in v.text
        if task.asked:  # absence: the asked thing follows the wording used
            for _, _k, v in vs[1:]:
                assert v.asked in v.text


def test_derived_placeholders_say_times_and_days_like_people() -> None:
    assert time_12h(14, 5) == "2:05 pm" and time_12h(0, 10) == "12:10 am" and time_12h(12, 30) == "12:30 pm"
    assert spoken_time(14, 30) == "half past two in the afternoon"
    assert spoken_time(19, 45) == "quarter to eight in the evening"
    assert spoken_time(9, 5) == "five past nine in the morning"
    assert spoken_time(12, 0) == "noon"
    ep = generate_episode(SimConfig.small(days=3), seed=3)
    tasks = [t for t in generate_tasks(ep, per_family=4) if "_time_ns" in t.meta]
    assert tasks
    days = {str(t.meta["day"]) for t in tasks}
    assert days <= {"today", "yesterday", "on Monday"} and days
    for t in tasks:
        part = str(t.meta["day_part"])
        assert part.startswith(("this ", "yesterday ", "on Monday ")) and part.endswith(("morning", "afternoon",
                                                                                        "evening"))


def test_short_object_names_only_when_they_are_unambiguous() -> None:
    ep = generate_episode(SimConfig.small(days=2), seed=3)
    objs = list(ep.house.objects.values())
    for t in generate_tasks(ep, per_family=3):
        if "object" not in t.meta:
            continue
        short, full = str(t.meta["object_short"]), str(t.meta["object"])
        if short != full:
            colour, category = short.split(" ", 1)
            matching = [o for o in objs if o.colour == colour and o.category == category]
            assert [o.label for o in matching] == [full]
    if_missing = phrase_task(next(t for t in generate_tasks(ep, families=[TaskFamily.ABSENCE], per_family=5)
                                  if "object" in t.meta), "Where's the {object_short}?")
    assert if_missing.asked in if_missing.text
