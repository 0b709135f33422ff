"""``robomem ingest-dir``: small noisy sequences written in each layout are read, their real-sensor artefacts
handled and counted, and a memory whose geometry matches the scene is saved - and only to --out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from robomem.cli import main
from robomem.core.memory import SpatioSemanticMemory
from robomem.datasets.base import estimate_color_shift, reorthonormalise, rotation_error, shift_image
from robomem.datasets.ingest import check_out_dir, ingest_sequence, read_sequence
from robomem.datasets.noise import SensorNoise
from robomem.datasets.options import ReaderOptions
from robomem.encoders.hashing import HashEncoder
from robomem.errors import DatasetError
from tests.datasets.writers import RecordedFrame, record, write_7scenes, write_redwood, write_tum


@pytest.fixture(scope="module")
def recorded() -> tuple[list[RecordedFrame], object, object]:
    return record(6)


def _intr_arg(intr) -> str:
    return f"{intr.fx},{intr.fy},{intr.cx},{intr.cy}"


def _write(fmt: str, root: Path, recorded) -> list[str]:
    frames, intr, _ = recorded
    if fmt == "tum":
        write_tum(root, frames)
        return ["--intrinsics", _intr_arg(intr)]
    if fmt == "7scenes":
        write_7scenes(root / "seq-01", frames)
        return ["--intrinsics", _intr_arg(intr)]
    write_redwood(root, frames, intr)
    return []  # camera_intrinsic.json


@pytest.mark.parametrize("fmt", ["tum", "7scenes", "redwood"])
def test_each_layout_builds_a_memory_matching_the_scene(fmt: str, tmp_path: Path, recorded, capsys) -> None:
    frames, intr, scene = recorded
    data = tmp_path / "data"
    extra = _write(fmt, data, recorded)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = tmp_path / "mem"
    rc = main(["ingest-dir", str(data), "--format", fmt, "--out", str(out), "--encoder", "hash", "--no-progress",
               "--compare-tsdf", *extra])
    assert rc == 0
    printed = capsys.readouterr().out
    printed_json = json.loads(printed[printed.index("{"):])
    report = printed_json["report"]
    tsdf = printed_json["tsdf_comparison"]
    assert 0 < tsdf["coverage"] <= 1 and 0 < tsdf["precision"] <= 1 and tsdf["ratio"] > 0
    assert "vs Open3D TSDF of the same frames" in printed
    assert report["frames_ingested"] == len(frames)
    art = report["artefacts"]
    assert art["depth_invalid_max"] > 0 and art["depth_invalid_zero"] > 0
    if fmt != "tum":  # TUM's quaternions are re-normalised when read; the others carry raw matrices
        assert art["poses_reorthonormalised"] == len(frames)
        assert 1e-4 < art["max_rotation_error"] < 2e-3
    if fmt == "redwood":
        assert art["jpeg_colour"] == len(frames)
    if fmt in ("7scenes", "redwood"):
        assert report["synthetic_stamps"]
    # nothing but --out (and nothing inside the dataset) was written
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if not p.is_relative_to(out))
    assert after == before
    mem = SpatioSemanticMemory.load(out, HashEncoder())
    pts, _ = mem.voxel_cloud()
    assert len(pts) > 100
    dist = scene.raycaster.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()
    assert np.mean(dist < 0.05) > 0.9, np.percentile(dist, [50, 90, 99])


def test_tum_association_and_missing_poses_are_reported(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    stamps = write_tum(tmp_path, frames, drop_depth=[1], drop_pose=[3])
    # frame 3's ground truth is missing: the samples around it are 50-60 ms apart, more than the allowed gap
    seq = read_sequence(tmp_path, "tum", ReaderOptions(intrinsics=_intr_arg(intr), pose_max_gap_s=0.02))
    assert seq.problems.unassociated_rgb == 1 and seq.problems.without_pose == 1
    from decimal import Decimal

    assert [r.stamp_ns for r in seq.records] == [int(Decimal(f"{stamps[i]:.6f}") * 10**9) for i in (0, 2, 4, 5)]
    # the pose is interpolated between the two ground-truth samples around the colour stamp
    np.testing.assert_allclose(seq.records[0].world_T_camera[:3, 3], frames[0].pose[:3, 3], atol=1e-3)
    assert seq.depth_scale == pytest.approx(1 / 5000)
    assert any("no ground-truth pose" in n for n in seq.problems.notes)


def test_malformed_layouts_give_clear_errors(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    with pytest.raises(DatasetError, match="missing rgb.txt, depth.txt, groundtruth.txt"):
        read_sequence(tmp_path, "tum")
    with pytest.raises(DatasetError, match="not a 7-Scenes sequence"):
        read_sequence(tmp_path, "7scenes")
    with pytest.raises(DatasetError, match=r"missing a colour folder \(color/, colors/, image/, rgb/\), depth/"):
        read_sequence(tmp_path, "redwood")
    with pytest.raises(DatasetError, match="not a ScanNet export: missing color/, depth/, pose/"):
        read_sequence(tmp_path, "scannet")
    with pytest.raises(DatasetError, match="unknown dataset format 'kitti'"):
        read_sequence(tmp_path, "kitti")
    with pytest.raises(DatasetError, match="does not exist"):
        read_sequence(tmp_path / "nope", "tum")
    tum = tmp_path / "tum"
    write_tum(tum, frames)
    (tum / "groundtruth.txt").write_text("1305031102.1 1 2 3 0 0 0\n")
    with pytest.raises(DatasetError, match=r"groundtruth.txt:1: expected 7 numbers"):
        read_sequence(tum, "tum")
    red = tmp_path / "red"
    write_redwood(red, frames, intr)
    lines = (red / "trajectory.log").read_text().splitlines()
    (red / "trajectory.log").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(DatasetError, match="not a multiple of 5"):
        read_sequence(red, "redwood")


def test_unreadable_and_broken_frames_are_skipped_and_counted(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    root = tmp_path / "seq-01"
    write_7scenes(root, frames)
    (root / "frame-000002.depth.png").write_bytes(b"not a png")  # truncated file
    import cv2

    cv2.imwrite(str(root / "frame-000003.depth.png"), np.zeros((60, 80), np.uint8))  # 8-bit "depth"
    bad = frames[4].pose.copy()
    bad[:3, :3] *= 1.5  # a scaled matrix is no rotation
    np.savetxt(root / "frame-000004.pose.txt", bad)
    (root / "frame-000005.pose.txt").unlink()
    seq = read_sequence(root, "7scenes", ReaderOptions(intrinsics=_intr_arg(intr)))
    assert seq.problems.broken_poses == 1 and seq.problems.without_pose == 1 and len(seq.records) == 4
    mem = SpatioSemanticMemory(__import__("robomem.config", fromlist=["MemoryConfig"]).MemoryConfig(), HashEncoder())
    report = ingest_sequence(seq, mem.ingest, progress=False)
    assert report.frames_ingested == 2 and report.frames_unreadable == 2
    assert any("8-bit" in n or "uint8" in n for n in report.notes)
    assert "2/4 frames ingested" in report.summary()


def test_out_must_be_new_empty_or_a_memory(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    data = tmp_path / "data"
    write_7scenes(data, frames[:3])
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    args = ["ingest-dir", str(data), "--format", "7scenes", "--encoder", "hash", "--no-progress",
            "--intrinsics", _intr_arg(intr)]
    assert main([*args, "--out", str(precious), "--force"]) == 1
    assert (precious / "thesis.tex").read_text() == "do not delete" and len(list(precious.iterdir())) == 1
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="is not a directory"):
        check_out_dir(tmp_path / "file", force=True)
    out = tmp_path / "mem"
    assert main([*args, "--out", str(out)]) == 0
    assert main([*args, "--out", str(out)]) == 1  # a memory is there: needs --force
    assert main([*args, "--out", str(out), "--force", "--max-frames", "2"]) == 0
    assert SpatioSemanticMemory.load(out, HashEncoder()).stats()["frames_ingested"] == 2
    shutil.rmtree(out)


def test_pose_reorthonormalisation() -> None:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    T = np.eye(4)
    T[:3, :3] = q + rng.uniform(-4e-4, 4e-4, (3, 3))
    T[:3, 3] = (1, 2, 3)
    assert rotation_error(T) > 1e-4
    R = reorthonormalise(T)
    assert rotation_error(R) < 1e-12 and np.linalg.det(R[:3, :3]) == pytest.approx(1.0)
    np.testing.assert_allclose(R[:3, :3], q, atol=1e-3)
    np.testing.assert_array_equal(R[:3, 3], (1, 2, 3))


def test_colour_depth_misregistration_is_estimated(recorded) -> None:
    frames, intr, scene = record(1, width=320, height=240, noise=SensorNoise(baseline=0.0, offset_px=(9, -4)))
    f = frames[0]
    dx, dy, response = estimate_color_shift(f.rgb, f.depth_mm)
    assert abs(dx - 9) <= 1.5 and abs(dy + 4) <= 1.5, (dx, dy, response)
    fixed = shift_image(f.rgb, int(round(dx)), int(round(dy)))
    dx2, dy2, _ = estimate_color_shift(fixed, f.depth_mm)
    assert abs(dx2) <= 1.5 and abs(dy2) <= 1.5
