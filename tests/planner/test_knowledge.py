"""The hand-written common-sense file: household things broadly, loaded and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from robomem.errors import PlannerError
from robomem.planner.knowledge import SenseKind, default_knowledge, load_knowledge


def test_the_file_covers_household_things_broadly() -> None:
    k = default_knowledge()
    assert len(k.objects) >= 70 and len(k.receptacles) >= 25 and len(k.rooms) >= 10
    assert all(info.shape for info in k.objects.values())
    assert all(info.kept for info in k.objects.values()), "every object has places it is usually kept"
    words = sum(len(info.words) for info in k.objects.values())
    assert words >= 400


@pytest.mark.parametrize(("word", "kind", "name"), [
    ("cup", SenseKind.OBJECT, "mug"), ("keys", SenseKind.OBJECT, "keychain"), ("cellphone", SenseKind.OBJECT, "phone"),
    ("couch", SenseKind.RECEPTACLE, "sofa"), ("cupboard", SenseKind.RECEPTACLE, "cabinet"),
    ("lounge", SenseKind.ROOM, "living room"), ("study", SenseKind.ROOM, "office"), ("dishes", SenseKind.KIND, "dish"),
])
def test_everyday_words_have_senses(word: str, kind: SenseKind, name: str) -> None:
    assert any(s.kind is kind and s.name == name for s in default_knowledge().senses(word))


def test_shapes_priors_and_house_overrides() -> None:
    k = default_knowledge()
    assert k.shape_of("mug") == "cylindrical" and k.shape_word("ball-shaped") == "spherical"
    assert "plate" in k.members("dish") and "mug" in k.members("dish")
    assert max(k.kept_prior("towel"), key=k.kept_prior("towel").get) == "towel rack"
    house = k.extended(shapes={"mug": "square"}, kept={"mug": {"windowsill": 1.0}})
    assert house.shape_of("mug") == "square" and house.kept_prior("mug")["windowsill"] == 1.0
    assert k.shape_of("mug") == "cylindrical"  # the shared one is unchanged


def test_a_broken_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "cs.yaml"
    bad.write_text("objects: {mug: {shape: wobbly}}\nreceptacles: {}\nrooms: {}\nshapes: {round: [round]}\n")
    with pytest.raises(PlannerError, match="shape 'wobbly'"):
        load_knowledge(bad)
    with pytest.raises(PlannerError, match="does not exist"):
        load_knowledge(tmp_path / "missing.yaml")
