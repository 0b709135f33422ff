"""Configs: YAML files load and validate; typos and bad values are rejected with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from robomem.config import MaskIdMode, MemoryConfig, apply_overrides, flatten, from_dict, load_yaml
from robomem.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_memory_yaml_is_the_default():
    assert load_yaml(MemoryConfig, ROOT / "config" / "memory.yaml", section="memory") == MemoryConfig()


def test_unknown_key_is_rejected_with_its_name():
    with pytest.raises(ConfigError, match=r"voxel: unknown key\(s\) \['voxel_sise'\]"):
        from_dict(MemoryConfig, {"voxel": {"voxel_sise": 0.1}})


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"voxel": {"voxel_size": -1.0}}, "voxel_size must be > 0"),
        ({"voxel": {"voxel_size": "big"}}, "expected a number"),
        ({"voxel": {"min_depth": 5.0, "max_depth": 1.0}}, "min_depth"),
        ({"voxel": {"device": "tpu"}}, "voxel.device"),
        ({"objects": {"mask_ids": "sometimes"}}, "not one of"),
        ({"objects": {"reid_similarity": 1.5}}, "reid_similarity"),
        ({"index": {"use_gpu": "maybe"}}, "use_gpu"),
        ({"voxel": {"removal": "yes"}}, "true/false"),
    ],
)
def test_bad_values(data, needle):
    with pytest.raises(ConfigError, match=needle):
        from_dict(MemoryConfig, data)


def test_flatten_and_overrides_roundtrip():
    cfg = MemoryConfig()
    flat = flatten(cfg)
    assert flat["voxel.voxel_size"] == 0.05 and flat["objects.mask_ids"] == "per_frame"
    new = apply_overrides(cfg, {"voxel.voxel_size": 0.1, "objects.mask_ids": "persistent"})
    assert new.voxel.voxel_size == 0.1 and new.objects.mask_ids is MaskIdMode.PERSISTENT
    with pytest.raises(ConfigError):
        apply_overrides(cfg, {"voxel.nope": 1})


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(MemoryConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("voxel: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(MemoryConfig, bad)
    with pytest.raises(ConfigError, match="no top-level section"):
        load_yaml(MemoryConfig, ROOT / "config" / "memory.yaml", section="nope")
