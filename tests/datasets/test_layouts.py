"""Each published layout as the real datasets ship it, with the artefacts real recordings have (unsynchronised
clocks, ground truth at another rate with gaps, images missing from one stream, colour at another size or bit depth,
lost tracking, corrupt files): what can be read is ingested, everything else is skipped, counted and named, and a
malformed layout is a clear error saying what was expected and what was found."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from robomem.cli import main
from robomem.config import MemoryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.datasets.ingest import ingest_sequence, read_sequence
from robomem.datasets.options import ReaderOptions
from robomem.encoders.hashing import HashEncoder
from robomem.errors import DatasetError
from tests.datasets.writers import record, write_7scenes, write_redwood, write_scannet, write_tum

N = 10


@pytest.fixture(scope="module")
def recorded():
    return record(N, width=96, height=72, loops=0.25)


def _intr(intr) -> str:
    return f"{intr.fx},{intr.fy},{intr.cx},{intr.cy}"


def _run(data: Path, fmt: str, out: Path, capsys, *extra: str) -> tuple[int, dict, str]:
    rc = main(["ingest-dir", str(data), "--format", fmt, "--out", str(out), "--encoder", "hash", "--no-progress",
               *extra])
    printed = capsys.readouterr().out
    payload = json.loads(printed[printed.index("{"):]) if "{" in printed else {}
    return rc, payload, printed


def _rot_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = (np.trace(a[:3, :3].T @ b[:3, :3]) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def test_tum_unsynchronised_streams_and_gappy_ground_truth(tmp_path: Path, recorded, capsys) -> None:
    frames, intr, _ = recorded
    # depth 4 ms +- 8 ms after colour; frame 2's depth 50 ms late (beyond --max-dt 0.02 s); frame 5 has no colour
    # image; the ground truth (100 Hz, 4 decimals) is missing for 25 ms either side of frame 7; colour written at
    # twice the depth resolution as 16-bit PNGs
    write_tum(tmp_path / "tum", frames, depth_jitter_s=0.008, late_depth=[2], drop_rgb=[5], drop_pose=[7],
              rgb_size=(2 * intr.width, 2 * intr.height), rgb_16bit=True)
    strict = read_sequence(tmp_path / "tum", "tum", ReaderOptions(intrinsics=_intr(intr), pose_max_gap_s=0.02))
    p = strict.problems
    assert (p.unassociated_rgb, p.unassociated_depth, p.without_pose) == (1, 2, 1)
    assert len(strict.records) == N - 3
    assert any("1 colour image(s) have no depth image within --max-dt 0.02 s (e.g. rgb/1305031102.066667.png)" in n
               for n in p.notes)
    assert any("no ground-truth pose" in n and "1305031102.233333" in n for n in p.notes)  # frame 7, named
    # poses interpolated between the 100 Hz samples around each colour stamp match the recorded poses (the camera
    # moves ~35 cm and turns 10-25 degrees per frame here: a pose from the wrong time would be off by that much; the
    # 100 Hz samples straddling a frame cut its corner by a few mm / tenths of a degree)
    used = [i for i in range(N) if i not in (2, 5, 7)]
    for rec, i in zip(strict.records, used):
        np.testing.assert_allclose(rec.world_T_camera[:3, 3], frames[i].pose[:3, 3], atol=0.015)
        assert _rot_deg(rec.world_T_camera, frames[i].pose) < 2.0
    # by default a 50 ms mocap dropout is interpolated over (largest gap 0.1 s)
    assert len(read_sequence(tmp_path / "tum", "tum", ReaderOptions(intrinsics=_intr(intr))).records) == N - 2
    rc, out, printed = _run(tmp_path / "tum", "tum", tmp_path / "mem", capsys, "--intrinsics", _intr(intr),
                            "--max-pose-gap", "0.02")
    assert rc == 0
    report = out["report"]
    assert report["frames_ingested"] == N - 3 and report["frames_listed"] == N - 3
    assert report["artefacts"]["colour_resized"] == N - 3
    assert "1 colour / 2 depth image(s) unassociated, 1 without pose" in printed
    rgb = SpatioSemanticMemory.load(tmp_path / "mem", HashEncoder()).voxel_cloud()[1]
    assert rgb.dtype == np.uint8 and rgb.max() > 100  # 16-bit colour was scaled to 8 bits, not clipped or wrapped


def test_7scenes_scene_folder_with_broken_frames(tmp_path: Path, recorded, capsys) -> None:
    frames, intr, _ = recorded
    scene = tmp_path / "chess"
    write_7scenes(scene / "seq-01", frames[:5])
    write_7scenes(scene / "seq-02", frames[5:])
    (scene / "TrainSplit.txt").write_text("sequence1\n")
    s1, s2 = scene / "seq-01", scene / "seq-02"
    nan_pose = frames[1].pose.copy()
    nan_pose[0, 3] = np.nan
    np.savetxt(s1 / "frame-000001.pose.txt", nan_pose)
    skew = frames[2].pose.copy()
    skew[:3, :3] = skew[:3, :3] @ np.array([[1, 0.2, 0], [0, 1, 0], [0, 0, 1]])  # sheared: not a rotation
    np.savetxt(s1 / "frame-000002.pose.txt", skew)
    (s2 / "frame-000001.color.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # truncated colour PNG
    (s2 / "frame-000002.depth.png").unlink()
    (s2 / "frame-000003.pose.txt").write_text("1 0 0\n0 1 0\n")  # truncated pose file
    rc, out, printed = _run(scene, "7scenes", tmp_path / "mem", capsys, "--intrinsics", _intr(intr))
    assert rc == 0
    r = out["report"]
    assert r["broken_poses"] == 3 and r["unassociated_rgb"] == 1 and r["frames_unreadable"] == 1
    assert r["frames_listed"] == N - 4 and r["frames_ingested"] == N - 5
    assert r["artefacts"]["depth_invalid_max"] > 0  # 65535 = no measurement
    notes = "\n".join(r["notes"])
    assert "seq-01/frame-000001.pose.txt: pose is not a finite 4x4 matrix" in notes
    assert "seq-01/frame-000002.pose.txt: rotation is not a rotation" in notes
    assert "seq-02/frame-000003.pose.txt: expected a 4x4 matrix" in notes
    assert "seq-02/frame-000001.color.png" in notes and "seq-02/frame-000002: missing its depth image" in notes
    # the two sequences share the scene's world frame and follow each other in time
    stamps = [rec.stamp_ns for rec in read_sequence(scene, "7scenes", ReaderOptions(intrinsics=_intr(intr))).records]
    assert stamps == sorted(set(stamps))


def test_7scenes_zipped_sequences_are_named(tmp_path: Path) -> None:
    (tmp_path / "seq-01.zip").write_bytes(b"PK")
    with pytest.raises(DatasetError, match=r"unzip seq-01.zip first"):
        read_sequence(tmp_path, "7scenes")


@pytest.mark.parametrize("variant", ["augmented_icl_nuim", "one_based", "open3d", "redwood_download"])
def test_redwood_variants_and_missing_images(variant: str, tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    root = tmp_path / "scene"
    if variant == "augmented_icl_nuim":  # colors/, depth/, office1-traj.txt, no intrinsics file
        write_redwood(root, frames, None, color_dir="colors", trajectory="office1-traj.txt", drop_depth=[3])
    elif variant == "one_based":  # image/ numbered from 1, a *.log trajectory
        write_redwood(root, frames, intr, color_dir="image", trajectory="scene.log", first_number=1,
                      drop_color=[3])
    elif variant == "redwood_download":  # folders as unzipped from redwood-data.org
        write_redwood(root, frames, None, color_dir="livingroom1-color", depth_dir="livingroom1-depth-clean",
                      trajectory="livingroom1-traj.txt", drop_color=[3])
    else:
        write_redwood(root, frames, intr, drop_depth=[3])
        (root / "odometry.log").write_text("0 1 2\n1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")  # relative motion
    seq = read_sequence(root, "redwood", ReaderOptions(intrinsics=_intr(intr)))
    assert len(seq.records) == N - 1
    assert seq.problems.unassociated_rgb + seq.problems.unassociated_depth == 1
    # a missing image never shifts the later poses onto the wrong images
    for rec in seq.records:
        i = int(rec.depth_path.stem) - (1 if variant == "one_based" else 0)
        np.testing.assert_allclose(rec.world_T_camera, frames[i].pose, atol=1e-7)
    assert seq.records[3].stamp_ns - seq.records[2].stamp_ns == 2 * 33_333_333  # the gap is kept in time


def test_redwood_trajectory_choice(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    write_redwood(tmp_path, frames[:4], intr, trajectory="a.log")
    (tmp_path / "b-traj.txt").write_text((tmp_path / "a.log").read_text())
    with pytest.raises(DatasetError, match=r"several trajectory files \(a.log, b-traj.txt\); choose one"):
        read_sequence(tmp_path, "redwood")
    assert len(read_sequence(tmp_path, "redwood", ReaderOptions(trajectory="b-traj.txt")).records) == 4
    (tmp_path / "b-traj.txt").write_text("0 0 1\n1 0 0 0\n0 1 0\n0 0 1 0\n0 0 0 1\n")
    with pytest.raises(DatasetError, match=r"b-traj.txt:3: expected a matrix row of 4 numbers"):
        read_sequence(tmp_path, "redwood", ReaderOptions(trajectory="b-traj.txt"))
    (tmp_path / "a.log").unlink()
    (tmp_path / "b-traj.txt").unlink()
    with pytest.raises(DatasetError, match="no trajectory"):
        read_sequence(tmp_path, "redwood")
    (tmp_path / "x-depth-clean").mkdir()
    (tmp_path / "x-depth-simulated").mkdir()
    (tmp_path / "depth").rename(tmp_path / "y-depth")
    with pytest.raises(DatasetError, match=r"several candidate folders \(x-depth-clean, x-depth-simulated, y-depth\)"):
        read_sequence(tmp_path, "redwood")


def test_scannet_export(tmp_path: Path, recorded, capsys) -> None:
    frames, intr, scene = recorded
    # colour at ScanNet's ~2x the depth size; tracking lost in frames 4 and 5 (-inf poses)
    write_scannet(tmp_path / "scene0000_00", frames, intr, color_size=(2 * intr.width + 4, 2 * intr.height + 4),
                  lost_tracking=[4, 5])
    rc, out, printed = _run(tmp_path / "scene0000_00", "scannet", tmp_path / "mem", capsys, "--compare-tsdf")
    assert rc == 0
    r = out["report"]
    assert r["broken_poses"] == 2 and r["frames_ingested"] == N - 2 and r["artefacts"]["colour_resized"] == N - 2
    assert any("pose/4.txt: pose is not a finite 4x4 matrix" in n for n in r["notes"])
    seq = read_sequence(tmp_path / "scene0000_00", "scannet")
    assert (seq.intrinsics.fx, seq.intrinsics.cx, seq.intrinsics.width) == pytest.approx((intr.fx, intr.cx, intr.width))
    assert seq.depth_scale == 0.001
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "scene.sens").write_bytes(b"")
    with pytest.raises(DatasetError, match="missing color/, depth/, pose/.*export scene.sens with SensReader"):
        read_sequence(tmp_path / "x", "scannet")


def test_corrupt_first_frame_does_not_stop_the_listing(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    root = tmp_path / "seq-01"
    write_7scenes(root, frames[:4])
    (root / "frame-000000.depth.png").write_bytes(b"")
    cv2.imwrite(str(root / "frame-000001.depth.png"), (frames[1].depth_mm // 256).astype(np.uint8))  # 8-bit
    seq = read_sequence(root, "7scenes")
    assert (seq.intrinsics.width, seq.intrinsics.height) == (intr.width, intr.height)
    mem = SpatioSemanticMemory(MemoryConfig(), HashEncoder())
    report = ingest_sequence(seq, mem.ingest, progress=False)
    assert report.frames_ingested == 2 and report.frames_unreadable == 2
    assert any("frame-000001.depth.png is uint8" in n and "16-bit" in n for n in report.notes)
    for i in range(2, 4):
        (root / f"frame-{i:06d}.depth.png").write_bytes(b"garbage")
    (root / "frame-000001.depth.png").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"none of the first 4 depth images can be read: cannot read depth image"):
        read_sequence(root, "7scenes")


def test_noisy_overlapping_sequence_matches_open3d_tsdf(tmp_path: Path, capsys) -> None:
    """Kinect-like noise (z^2 noise, disparity steps, flying pixels, 0/65535 holes, pose error) on 24 overlapping
    frames: the memory's surface lies on Open3D's TSDF surface of the same frames. (Coverage is bounded here by
    the default pixel stride 2 on 128x96 images; the 640x480 figures are in benchmarks/bench_ingest.py.)"""
    frames, intr, _ = record(24, width=128, height=96, loops=0.15)
    write_tum(tmp_path / "tum", frames, depth_jitter_s=0.005)
    rc, out, printed = _run(tmp_path / "tum", "tum", tmp_path / "mem", capsys, "--intrinsics", _intr(intr),
                            "--compare-tsdf")
    assert rc == 0 and out["report"]["frames_ingested"] == 24
    cmp = out["tsdf_comparison"]
    assert cmp["precision"] >= 0.9 and cmp["coverage"] >= 0.7, cmp
    assert "vs Open3D TSDF of the same frames" in printed and cmp["ratio"] > 0


def test_wrong_format_names_the_layout_found(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    write_7scenes(tmp_path / "seq-01", frames[:2])
    with pytest.raises(DatasetError, match=r"not a TUM RGB-D sequence: missing rgb.txt.*found: frame-000000"
                                           r".*looks like a 7scenes sequence: try --format 7scenes"):
        read_sequence(tmp_path / "seq-01", "tum")
    write_scannet(tmp_path / "sc", frames[:2], intr)
    with pytest.raises(DatasetError, match=r"not a Redwood/Open3D sequence.*try --format scannet"):
        read_sequence(tmp_path / "sc", "redwood")


@pytest.mark.parametrize("fmt", ["tum", "scannet"])
def test_benchmark_writes_a_sequence_ingest_dir_reads(fmt: str, tmp_path: Path, capsys) -> None:
    import importlib
    import shlex

    bench = importlib.import_module("benchmarks.bench_ingest")
    assert bench.main(["--frames", "5", "--width", "64", "--height", "48", "--write-sequence", str(tmp_path / "s"),
                       "--format", fmt]) == 0
    command = capsys.readouterr().out.splitlines()[-1].split()
    assert command[:2] == ["robomem", "ingest-dir"]
    args = [a.replace("MEMORY_DIR", str(tmp_path / "mem")) for a in command[2:]]
    rc, out, _ = _run(Path(args[0]), fmt, tmp_path / "mem", capsys, *shlex.split(" ".join(args[5:])))
    assert rc == 0 and out["report"]["frames_ingested"] == 5


def test_tum_broken_ground_truth_rows_skip_their_frames(tmp_path: Path, recorded) -> None:
    frames, intr, _ = recorded
    stamps = write_tum(tmp_path, frames[:4], gt_rate_hz=30.0)  # one sample per frame, at the frame's stamp
    gt = (tmp_path / "groundtruth.txt").read_text().splitlines()
    rows = {round(float(line.split()[0]), 2): k for k, line in enumerate(gt) if not line.startswith("#")}
    k1, k2 = rows[round(stamps[1], 2)], rows[round(stamps[2], 2)]
    gt[k1] = gt[k1].split()[0] + " nan 0 1 0 0 0 1"  # NaN position
    gt[k2] = gt[k2].split()[0] + " 1 0 1 0 0 0 0"  # zero quaternion: no rotation
    (tmp_path / "groundtruth.txt").write_text("\n".join(gt) + "\n")
    seq = read_sequence(tmp_path, "tum", ReaderOptions(intrinsics=_intr(intr), pose_max_gap_s=0.01))
    p = seq.problems
    assert len(seq.records) == 2 and p.without_pose + p.broken_poses == 2
    assert [r.stamp_ns for r in seq.records] == [int(round(stamps[i] * 1e6)) * 1000 for i in (0, 3)]
