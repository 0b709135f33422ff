"""Perception front ends: segments, labels with scores and features for frames from a real camera.

Backends (``PerceptionConfig.backend``, see :mod:`robomem.perception.base`): ``detector`` (open-vocabulary
OWLv2 / OWL-ViT detection + SAM masks or box-to-depth segments), ``dense`` (per-pixel CLIP/SigLIP patch
features fused into the voxels), ``external`` (segments from another node) and ``clustering`` (geometric
DBSCAN segments).
"""
