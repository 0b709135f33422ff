"""Tiny random-weight perception models saved to tmp dirs, loadable offline like real checkpoints:
``tiny_owlv2_dir`` (OWLv2 detector + the tiny CLIP tokenizer + Owlv2ImageProcessorPil) and ``tiny_sam_dir``
(SAM + SamImageProcessorPil). ``tiny_clip_dir`` (tests/conftest.py) serves the dense backend."""

from __future__ import annotations

from pathlib import Path

import pytest


def build_tiny_owlv2(directory: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = Owlv2Config(
        text_config={"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "pad_token_id": tok.pad_token_id,
                     "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    torch.manual_seed(seed)
    Owlv2ForObjectDetection(cfg).eval().save_pretrained(directory)
    tok.save_pretrained(directory)
    Owlv2ImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(directory)
    return directory


def build_tiny_sam(directory: Path, seed: int = 0) -> Path:
    import torch
    from transformers import SamConfig, SamImageProcessorPil, SamModel

    cfg = SamConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16, output_channels=16, global_attn_indexes=[1], window_size=2,
                           mlp_dim=64, num_pos_feats=8),
        prompt_encoder_config=dict(hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4,
                                   num_point_embeddings=4),
        mask_decoder_config=dict(hidden_size=16, mlp_dim=32, num_hidden_layers=1, num_attention_heads=2,
                                 iou_head_hidden_dim=16, num_multimask_outputs=3),
    )
    torch.manual_seed(seed)
    SamModel(cfg).eval().save_pretrained(directory)
    SamImageProcessorPil(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
                         mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16}
                         ).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_owlv2_dir(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Path:
    return build_tiny_owlv2(tmp_path_factory.mktemp("tiny_owlv2") / "model", tiny_clip_dir)


@pytest.fixture(scope="session")
def tiny_sam_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sam(tmp_path_factory.mktemp("tiny_sam") / "model")
