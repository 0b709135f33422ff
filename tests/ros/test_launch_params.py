"""launch/robomem.launch.py (launch is not installable here: syntax and structure), package metadata,
and the node parameters (config/ros.yaml, validation, regions)."""

from __future__ import annotations

import ast
import configparser
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from robomem.errors import ConfigError
from robomem.ros import params
from robomem.ros.presets import PRESETS, remappings
from robomem.ros.services import SERVICES

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "robomem.launch.py"


def _setup_py_scripts() -> set[str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == "console_scripts":
                    return {ast.literal_eval(e).split("=")[0].strip() for e in v.elts}  # type: ignore[attr-defined]
    raise AssertionError("no console_scripts in setup.py")


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _kw(call: ast.Call, name: str) -> ast.expr:
    return next(k.value for k in call.keywords if k.arg == name)


def test_launch_file_structure() -> None:
    tree = ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    args = {ast.literal_eval(c.args[0]) for c in _calls(tree, "DeclareLaunchArgument")}
    assert args == {"preset", "params_file", "namespace", "world_frame", "save_directory", "encoder", "use_planner",
                    "planner"}
    nodes = _calls(tree, "Node")
    executables = {ast.literal_eval(_kw(n, "executable")) for n in nodes}
    assert executables == {"robomem-memory-server", "robomem-planner-node"}
    assert executables <= _setup_py_scripts()
    assert {ast.unparse(_kw(n, "package")) for n in nodes} == {"PACKAGE"}
    package = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                   and getattr(n.targets[0], "id", "") == "PACKAGE")
    assert package == ET.parse(REPO / "package.xml").getroot().findtext("name")
    preset_names = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                        and getattr(n.targets[0], "id", "") == "PRESET_NAMES")
    assert set(preset_names) == set(PRESETS) >= {"realsense", "stretch", "habitat"}
    server = next(n for n in nodes if ast.literal_eval(_kw(n, "executable")) == "robomem-memory-server")
    assert "remappings(preset)" in ast.unparse(_kw(server, "remappings"))


@pytest.mark.parametrize("preset", ["realsense", "stretch", "habitat"])
def test_presets_remap_every_camera_topic(preset: str) -> None:
    from robomem.ros.memory_server import CAMERA_TOPICS

    remap = dict(remappings(preset))
    assert {CAMERA_TOPICS["rgb"], CAMERA_TOPICS["depth"], CAMERA_TOPICS["info"]} <= set(remap)
    assert all(t.startswith("/") for t in remap.values())
    assert ("aligned_depth_to_color" in remap["depth/image"]) == (preset in ("realsense", "stretch"))
    assert ("segmentation" in remap) == (preset == "habitat")
    with pytest.raises(ConfigError, match="unknown topic preset"):
        remappings("kinect")


def test_package_xml_setup_cfg_and_interfaces() -> None:
    pkg = ET.parse(REPO / "package.xml").getroot()
    assert pkg.get("format") == "3" and pkg.findtext("name") == "robomem"
    assert "robomem_interfaces" in [e.text for e in pkg.findall("exec_depend")]
    assert pkg.find("export/build_type").text == "ament_python"  # type: ignore[union-attr]
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["develop"]["script_dir"] == cfg["install"]["install_scripts"] == "$base/lib/robomem"
    srv = {p.stem for p in (REPO / "srv").glob("*.srv")}
    assert {s.srv for s in SERVICES} | {"AskPlanner"} == srv
    for f in (REPO / "srv").glob("*.srv"):
        response = f.read_text().split("---")[1]
        assert "uint8 status" in response and "string message" in response and "uint8 BAD_REQUEST=2" in response


def test_ros_yaml_declares_only_known_parameters_and_they_validate() -> None:
    raw = yaml.safe_load((REPO / "config" / "ros.yaml").read_text())

    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    for node in ("/**/robomem", "/**/robomem_ingest"):
        values = flat(raw[node]["ros__parameters"])
        node_cfg, mem_cfg = params.configs_from_values(values)
        assert node_cfg.world_frame == "map" and mem_cfg.voxel.voxel_size == 0.05
    from robomem.ros.planner_node import PlannerNodeConfig

    assert set(raw["/**/robomem_planner"]["ros__parameters"]) == set(PlannerNodeConfig.__dataclass_fields__)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"voxel.voxel_sise": 0.1}, "unknown parameter"),
        ({"camera_qos_depth": 0}, "camera_qos_depth must be >= 1"),
        ({"world_frame": ""}, "world_frame must not be empty"),
        ({"save_period_s": 10.0}, "needs save_directory"),
        ({"objects.mask_ids": "sometimes"}, "'sometimes' is not one of"),
        ({"enable_ingest": "yes"}, "expected true/false"),
        ({"ingest_nice": 20}, r"ingest_nice must be in \[0, 19\]"),
        ({"ingest_nice": -1}, r"ingest_nice must be in \[0, 19\]"),
        ({"service_threads": -1}, r"service_threads must be in \[0, 64\]"),
    ],
)
def test_parameter_validation_names_the_parameter(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        params.configs_from_values(values)


def test_ints_for_float_parameters_and_memory_file_overrides(tmp_path: Path) -> None:
    mem = tmp_path / "mem.yaml"
    mem.write_text(yaml.safe_dump({"voxel": {"voxel_size": 0.1}, "encoder": {"backend": "hash"}}))
    node_cfg, mem_cfg = params.configs_from_values({"tf_wait_s": 1, "memory_config_file": str(mem),
                                                    "voxel.pixel_stride": 4})
    assert node_cfg.tf_wait_s == 1.0 and isinstance(node_cfg.tf_wait_s, float)
    assert (mem_cfg.voxel.voxel_size, mem_cfg.voxel.pixel_stride, mem_cfg.encoder.backend) == (0.1, 4, "hash")


def test_regions_file(tmp_path: Path) -> None:
    f = tmp_path / "rooms.yaml"
    f.write_text(yaml.safe_dump({"kitchen": {"min": [0, 0, 0], "max": [3, 4, 2.5]}}))
    (r,) = params.load_regions(str(f))
    assert r.name == "kitchen" and r.box.max_xyz == (3.0, 4.0, 2.5)
    f.write_text(yaml.safe_dump({"hall": {"min": [0, 0, 0], "max": [0, 4, 2.5]}}))
    with pytest.raises(ConfigError, match="'hall' needs 3-vectors with min < max"):
        params.load_regions(str(f))
    with pytest.raises(ConfigError, match="cannot read"):
        params.load_regions(str(tmp_path / "missing.yaml"))


def test_service_executor_threads_auto_and_explicit() -> None:
    """0 = auto: one thread when the executor only serves (intake in its own process, or no ingest), 4 when the
    camera subscriptions share it; an explicit value wins; ingest_nice is off by default."""
    cfg, _ = params.configs_from_values({})
    assert cfg.service_threads == 0 and cfg.executor_threads() == 1 and cfg.ingest_nice == 0
    assert params.configs_from_values({"intake_process": False})[0].executor_threads() == 4
    assert params.configs_from_values({"intake_process": False, "enable_ingest": False})[0].executor_threads() == 1
    assert params.configs_from_values({"service_threads": 3})[0].executor_threads() == 3
    assert params.configs_from_values({"ingest_nice": 5})[0].ingest_nice == 5
