"""rosbag2 (sqlite3 and MCAP) written with rosbags from the synthetic scene -> ``robomem ingest-bag`` ->
the saved memory answers match the scene's ground truth; bad messages are rejected with reasons."""

from __future__ import annotations

from pathlib import Path

import bagtools
import numpy as np
import pytest
import scene

from robomem.cli import main as robomem_cli
from robomem.core.memory import SpatioSemanticMemory
from robomem.encoders.base import create_encoder
from robomem.ros.bags import ingest_bag
from robomem.ros.pipeline import PipelineConfig
from robomem.ros.presets import get_preset

N_FRAMES = 8


@pytest.fixture(scope="module")
def frames() -> list[bagtools.SceneFrame]:
    return bagtools.scene_frames(N_FRAMES)


def _cli_args(bag: Path, out: Path, cfg_dir: Path) -> list[str]:
    mem_yaml, regions = scene.write_config_files(cfg_dir)
    return ["ingest-bag", str(bag), "--out", str(out), "--config", str(mem_yaml), "--regions", str(regions),
            "--use-segmentation", "--segmentation-topic", bagtools.TOPICS["seg"]]


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_ingest_bag_builds_a_memory_matching_the_scene(
    storage: str, frames: list[bagtools.SceneFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = list(bagtools.scene_events(bagtools.Builder("rosbags"), frames))
    bag = bagtools.write_bag(tmp_path / f"scene_{storage}", storage, events)
    out = tmp_path / "memory"
    assert robomem_cli(_cli_args(bag, out, tmp_path)) == 0
    printed = capsys.readouterr().out
    assert f"{N_FRAMES} frame(s) ingested" in printed and "rejected: none" in printed
    mem = SpatioSemanticMemory.load(out, create_encoder(scene.memory_config().encoder))
    assert mem.stats()["frames_ingested"] == N_FRAMES
    scene.assert_memory_matches_scene(mem, frames[0].stamp_ns, frames[-1].stamp_ns)


def test_bad_messages_in_a_bag_are_rejected_with_reasons_and_the_rest_ingested(tmp_path: Path) -> None:
    float_frames = bagtools.scene_frames(7, depth_mm=False, rgb_encoding="bgr8")

    def mutate(i: int, role: str, msg):
        if i == 0 and role == "tf":
            return None  # no TF up to frame 0 (later frames interpolate between TF samples)
        if i == 2 and role == "rgb":
            msg.encoding = "yuv422"
        if i == 3 and role == "depth":
            msg.data = msg.data[:100]  # truncated
        if i == 4 and role == "depth":
            msg.data = np.full(msg.height * msg.width, np.nan, "<f4").view(np.uint8)  # no valid depth
        return msg

    events = list(bagtools.scene_events(bagtools.Builder("rosbags"), float_frames, segmentation=False,
                                        mutate=mutate))
    bag = bagtools.write_bag(tmp_path / "bad", "mcap", events)
    cfg = scene.memory_config()
    mem = SpatioSemanticMemory(cfg, create_encoder(cfg.encoder), scene.REGIONS)
    report = ingest_bag(bag, mem.ingest, get_preset("default"), PipelineConfig(tf_wait_s=0.05))
    assert dict(report.rejected) == {"missing_tf": 1, "bad_encoding": 1, "bad_image": 1, "memory": 1}
    assert report.frames_ingested == 3 and mem.stats()["frames_ingested"] == 3
    assert report.messages["rgb"] == 7


def test_ingest_bag_errors_are_clear_and_never_clobber_a_saved_memory(
    frames: list[bagtools.SceneFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = list(bagtools.scene_events(bagtools.Builder("rosbags"), frames[:3]))
    bag = bagtools.write_bag(tmp_path / "scene", "sqlite3", events)
    out = tmp_path / "memory"
    assert robomem_cli(_cli_args(bag, out, tmp_path)) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    assert robomem_cli(_cli_args(bag, out, tmp_path)) == 1  # refuses to overwrite
    assert "--force" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    assert robomem_cli(_cli_args(bag, tmp_path / "m2", tmp_path) + ["--preset", "realsense"]) == 1
    err = capsys.readouterr().err
    assert "/camera/camera/color/image_raw" in err and "--preset" in err

    assert robomem_cli(_cli_args(tmp_path / "nope", tmp_path / "m3", tmp_path)) == 1
    assert "does not exist" in capsys.readouterr().err

    assert robomem_cli(_cli_args(bag, out, tmp_path) + ["--force"]) == 0
    assert SpatioSemanticMemory.load(out, create_encoder(scene.memory_config().encoder)).stats()[
        "frames_ingested"] == 3
