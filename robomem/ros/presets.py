"""Camera topic presets: where common robots publish colour, depth (registered to colour), camera_info.

Used by ``launch/robomem.launch.py`` (as remappings of the memory server's relative topics) and by
``robomem ingest-bag --preset`` (as the bag's topic names).
"""

from __future__ import annotations

from dataclasses import dataclass

from robomem.errors import ConfigError


@dataclass(frozen=True)
class TopicPreset:
    """Absolute topic names. ``segmentation`` is "" when the source has no instance segmentation."""

    rgb: str
    depth: str
    camera_info: str
    segmentation: str = ""
    description: str = ""


PRESETS: dict[str, TopicPreset] = {
    "default": TopicPreset(
        "/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info",
        description="robomem's own names (the test publisher, bench_ros.py)",
    ),
    "realsense": TopicPreset(
        "/camera/camera/color/image_raw",
        "/camera/camera/aligned_depth_to_color/image_raw",
        "/camera/camera/color/camera_info",
        description="realsense2_camera 4.x (rs_launch.py, align_depth.enable:=true)",
    ),
    "stretch": TopicPreset(
        "/camera/color/image_raw",
        "/camera/aligned_depth_to_color/image_raw",
        "/camera/color/camera_info",
        description="Hello Robot Stretch head D435i (stretch_core d435i launch)",
    ),
    "habitat": TopicPreset(
        "/habitat/rgb/image",
        "/habitat/depth/image",
        "/habitat/rgb/camera_info",
        segmentation="/habitat/semantic",
        description="Habitat-style simulator bridge with a ground-truth instance sensor",
    ),
}


def get_preset(name: str) -> TopicPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown topic preset {name!r}; choose one of {sorted(PRESETS)}") from None


def remappings(name: str) -> list[tuple[str, str]]:
    """(node-relative topic, absolute topic) pairs for the memory server (see memory_server.CAMERA_TOPICS)."""
    p = get_preset(name)
    out = [("rgb/image", p.rgb), ("depth/image", p.depth), ("rgb/camera_info", p.camera_info)]
    if p.segmentation:
        out.append(("segmentation", p.segmentation))
    return out
