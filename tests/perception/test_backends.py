"""Perception backends end to end on rendered frames with tiny random-weight models built in fixtures:
the detector (OWLv2 + depth segments or SAM masks), dense CLIP/SigLIP features fused into voxels, external and
clustering; their errors; and ``robomem ingest-dir --perception``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from robomem.config import EncoderConfig, MemoryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.types import NO_INSTANCE, Frame
from robomem.encoders.base import create_encoder
from robomem.encoders.hashing import HashEncoder
from robomem.errors import ConfigError, PerceptionError
from robomem.perception.base import FrontEnd, create_front_end
from robomem.perception.config import PerceptionConfig, load_perception_config
from robomem.perception.dense import sample_dense
from robomem.perception.detector import box_to_depth_segment, nms

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
common = importlib.import_module("benchmarks.common")

VOCAB = ("mug", "table", "book", "plant")


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    scene = common.make_scene(2, n_boxes=10)
    intr = common.default_intrinsics(96, 72)
    poses = common.trajectory(4, loops=0.15)
    return [f.__class__(rgb=f.rgb, depth=f.depth, intrinsics=f.intrinsics, world_T_camera=f.world_T_camera,
                        stamp_ns=f.stamp_ns) for f in common.make_frames(scene, poses, intr)]  # no masks


def _detector(owl: Path, **kw: object) -> FrontEnd:
    cfg = PerceptionConfig(backend="detector", vocabulary=VOCAB, receptacles=("table",), detector_model_path=str(owl),
                           score_threshold=0.0, device="cpu", batch_size=3, min_mask_pixels=5, **kw)  # type: ignore
    return create_front_end(cfg)


def test_detector_with_depth_segments_labels_frames_and_the_memory_ingests_them(tiny_owlv2_dir, frames) -> None:
    fe = _detector(tiny_owlv2_dir)
    out = fe.annotate(frames)
    assert len(out) == len(frames) and fe.stats.frames == len(frames)
    n_segments = 0
    for f in out:
        assert f.instance_mask is not None and f.instance_mask.shape == f.rgb.shape[:2]
        ids = {int(i) for i in np.unique(f.instance_mask)} - {NO_INSTANCE}
        assert set(f.instance_labels) == ids
        assert set(f.instance_labels.values()) <= set(VOCAB)
        assert f.receptacle_ids == {i for i, lab in f.instance_labels.items() if lab == "table"}
        n_segments += len(ids)
        depth = np.asarray(f.depth)
        assert np.all(depth[f.instance_mask != NO_INSTANCE] > 0)  # depth segments never hold invalid depth
    assert n_segments > 0 and fe.stats.segments == n_segments
    mem = SpatioSemanticMemory(MemoryConfig(), HashEncoder())
    for f in out:
        mem.ingest(f)
    labels = {i.label for i in mem.instances()}
    assert labels and labels <= set(VOCAB)
    # the same model, frame by frame (batch size 1): the same detections
    one = _detector(tiny_owlv2_dir, nms_iou=0.5)
    np.testing.assert_array_equal(one(frames[0]).instance_mask, out[0].instance_mask)
    # a frame that already has segments keeps them
    kept = fe(out[1])
    assert kept.instance_mask is out[1].instance_mask


def test_detector_with_sam_masks(tiny_owlv2_dir, tiny_sam_dir, frames) -> None:
    fe = _detector(tiny_owlv2_dir, mask_model_path=str(tiny_sam_dir), max_detections=5)
    f = fe(frames[0])
    assert f.instance_mask is not None and f.instance_mask.dtype == np.int32
    assert set(f.instance_labels.values()) <= set(VOCAB)
    assert len(f.instance_labels) <= 5
    SpatioSemanticMemory(MemoryConfig(), HashEncoder()).ingest(f)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_detector_and_dense_on_gpu(tiny_owlv2_dir, tiny_clip_dir, frames) -> None:  # pragma: no cover
    assert _detector(tiny_owlv2_dir, device="cuda")(frames[0]).instance_mask is not None
    fe = create_front_end(PerceptionConfig(backend="dense", dense_model_path=str(tiny_clip_dir), device="cuda"))
    assert fe.backend.perceive(frames[:1])[0].dense is not None  # type: ignore[attr-defined]


def test_box_to_depth_segment_keeps_the_object_not_the_table_behind_it() -> None:
    depth = np.full((60, 80), 3.0, np.float32)  # wall
    depth[40:, :] = 1.2  # table top, same depth band as the mug but not connected to it inside the box
    depth[10:30, 30:50] = 1.0  # the mug
    depth[12, 32] = 0.0  # a hole
    m = box_to_depth_segment(depth, (26, 6, 54, 34), band=0.15)
    assert m[10:30, 30:50].sum() == 20 * 20 - 1 and m.sum() == 20 * 20 - 1
    assert not box_to_depth_segment(np.zeros((60, 80), np.float32), (26, 6, 54, 34), 0.15).any()
    assert not box_to_depth_segment(depth, (70, 50, 71, 51), 0.15).any()  # degenerate box


def test_nms_per_label() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 0, 1, 0])
    assert nms(boxes, scores, labels, 0.5).tolist() == [0, 2, 3]


def _clip_memory(model: Path, front_end: FrontEnd) -> SpatioSemanticMemory:
    enc = create_encoder(EncoderConfig(backend="clip", model_path=str(model)))
    return SpatioSemanticMemory(MemoryConfig(), enc, pipeline=front_end.pipeline())


def test_dense_features_are_fused_into_the_voxels(tiny_clip_dir, frames) -> None:
    fe = create_front_end(PerceptionConfig(backend="dense", dense_model_path=str(tiny_clip_dir), device="cpu",
                                           dense_grid=16))
    grid = fe.backend.dense(frames[0].rgb)  # type: ignore[attr-defined]
    assert grid.shape[1] == 16 and 12 <= grid.shape[0] <= 13 and grid.dtype == np.float32  # 4:3, long side 16
    np.testing.assert_allclose(np.linalg.norm(grid, axis=-1), 1.0, atol=1e-5)
    assert float(np.std(grid.reshape(-1, grid.shape[-1]), axis=0).mean()) > 1e-3  # features vary over the image
    mem = _clip_memory(tiny_clip_dir, fe)
    assert "dense_features" in mem.pipeline.names
    annotated = fe.annotate(frames)
    assert all(f.instance_mask is None for f in annotated)  # dense gives features, not segments
    for f in annotated:
        mem.ingest(f)
    vox = mem.state.voxels
    assert int((vox.feature_counts > 0).sum()) == len(vox)  # every voxel got a dense feature
    pos, scores = mem.locate_voxels("mug", k=5)
    assert pos.shape == (5, 3) and np.all(np.diff(scores) <= 1e-6)
    # a frame the front end never saw is computed inside the pipeline step
    mem.ingest(Frame(rgb=frames[0].rgb, depth=frames[0].depth, intrinsics=frames[0].intrinsics,
                     world_T_camera=frames[0].world_T_camera, stamp_ns=frames[-1].stamp_ns + 10**9))


def test_dense_sampling_maps_pixels_to_their_cells() -> None:
    grid = np.zeros((3, 4, 2), np.float32)
    rows = sample_dense(grid, np.array([0, 7, 8 * 5 + 2, 8 * 6 - 1]), (6, 8))
    assert rows.tolist() == [0, 3, 2 * 4 + 1, 2 * 4 + 3]


def test_dense_siglip(tmp_path, tiny_clip_dir, frames) -> None:
    from transformers import AutoTokenizer, SiglipConfig, SiglipImageProcessorPil, SiglipModel

    tok = AutoTokenizer.from_pretrained(tiny_clip_dir)
    cfg = SiglipConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "pad_token_id": tok.pad_token_id,
                     "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
    )
    torch.manual_seed(0)
    SiglipModel(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    fe = create_front_end(PerceptionConfig(backend="dense", dense_model_path=str(tmp_path), device="cpu"))
    mem = _clip_memory(tmp_path, fe)
    mem.ingest(fe(frames[0]))
    assert int((mem.state.voxels.feature_counts > 0).sum()) > 0


def test_external_and_clustering(frames) -> None:
    ext = create_front_end(PerceptionConfig(backend="external"))
    assert ext(frames[0]).instance_mask is None and ext.backend.frames_without_segments == 1  # type: ignore
    clu = create_front_end(PerceptionConfig(backend="clustering"))
    f = clu(frames[0])
    assert f.instance_mask is not None and f.instance_labels == {}
    assert len({int(i) for i in np.unique(f.instance_mask)} - {NO_INSTANCE}) >= 1
    mem = SpatioSemanticMemory(MemoryConfig(), HashEncoder())
    mem.ingest(f)
    assert len(mem.instances()) >= 1


def test_configuration_and_model_errors(tmp_path, tiny_clip_dir) -> None:
    with pytest.raises(ConfigError, match="perception.backend must be one of"):
        load_perception_config(backend="yolo")
    with pytest.raises(ConfigError, match="vocabulary is empty"):
        PerceptionConfig(backend="detector", vocabulary=()).validate()
    yml = tmp_path / "p.yaml"
    yml.write_text("perception:\n  backend: detector\n  vocabulary: [mug, keys]\n  score_threshold: 0.2\n")
    cfg = load_perception_config(yml)
    assert cfg.vocabulary == ("mug", "keys") and cfg.score_threshold == 0.2
    yml.write_text("perception:\n  backend: detector\n  score_treshold: 0.2\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_perception_config(yml)
    with pytest.raises(PerceptionError, match="detector_model_path is empty"):
        create_front_end(PerceptionConfig(backend="detector"))
    with pytest.raises(PerceptionError, match="does not exist"):
        create_front_end(PerceptionConfig(backend="detector", detector_model_path=str(tmp_path / "nope")))
    with pytest.raises(PerceptionError, match="'clip' model.*OWLv2"):
        create_front_end(PerceptionConfig(backend="detector", detector_model_path=str(tiny_clip_dir)))
    with pytest.raises(PerceptionError, match="same CLIP/SigLIP model"):
        create_front_end(PerceptionConfig(backend="dense", dense_model_path=str(tiny_clip_dir)), HashEncoder())
    with pytest.raises(PerceptionError, match="needs a CLIP/SigLIP model"):
        create_front_end(PerceptionConfig(backend="dense"), HashEncoder())


def test_ingest_dir_with_the_detector(tmp_path, tiny_owlv2_dir) -> None:
    from robomem.cli import main
    from tests.datasets.writers import record, write_7scenes

    recorded, intr, _ = record(3)
    write_7scenes(tmp_path / "seq", recorded)
    yml = tmp_path / "perception.yaml"
    yml.write_text(f"perception:\n  backend: detector\n  detector_model_path: {tiny_owlv2_dir}\n"
                   "  vocabulary: [mug, table]\n  score_threshold: 0.0\n  min_mask_pixels: 5\n  device: cpu\n")
    rc = main(["ingest-dir", str(tmp_path / "seq"), "--format", "7scenes", "--out", str(tmp_path / "mem"),
               "--encoder", "hash", "--perception", "detector", "--perception-config", str(yml), "--no-progress",
               "--intrinsics", f"{intr.fx},{intr.fy},{intr.cx},{intr.cy}"])
    assert rc == 0
    mem = SpatioSemanticMemory.load(tmp_path / "mem", HashEncoder())
    assert {i.label for i in mem.instances()} <= {"mug", "table"} and len(mem.instances()) > 0


def test_ingest_dir_with_dense_features(tmp_path, tiny_clip_dir) -> None:
    from robomem.cli import main
    from tests.datasets.writers import record, write_redwood

    recorded, intr, _ = record(3)
    write_redwood(tmp_path / "seq", recorded, intr)
    rc = main(["ingest-dir", str(tmp_path / "seq"), "--format", "redwood", "--out", str(tmp_path / "mem"),
               "--encoder", "clip", "--model-path", str(tiny_clip_dir), "--perception", "dense", "--no-progress"])
    assert rc == 0
    enc = create_encoder(EncoderConfig(backend="clip", model_path=str(tiny_clip_dir)))
    mem = SpatioSemanticMemory.load(tmp_path / "mem", enc)
    assert int((mem.state.voxels.feature_counts > 0).sum()) == len(mem.state.voxels) > 0
