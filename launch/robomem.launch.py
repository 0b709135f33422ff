"""Launch the robomem memory server (ingest + services) and, optionally, the planner node.

    ros2 launch robomem robomem.launch.py preset:=realsense save_directory:=/data/robomem
    ros2 launch robomem robomem.launch.py preset:=habitat use_planner:=true

Arguments: preset (camera topic names: default, realsense, stretch, habitat - see robomem/ros/presets.py),
params_file (default: the installed config/ros.yaml), namespace, world_frame, save_directory,
encoder (encoder.backend), use_planner, planner. Kept thin: everything else is a node parameter.
"""

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "robomem"
PRESET_NAMES = ("default", "realsense", "stretch", "habitat")


def _default_params_file():
    try:
        from ament_index_python.packages import get_package_share_directory

        return os.path.join(get_package_share_directory(PACKAGE), "config", "ros.yaml")
    except Exception:  # running from a source checkout
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "config", "ros.yaml")


def _memory_server(context):
    from robomem.ros.presets import remappings

    preset = LaunchConfiguration("preset").perform(context)
    if preset not in PRESET_NAMES:
        raise RuntimeError(f"unknown preset {preset!r}; choose one of {PRESET_NAMES}")
    overrides = {
        "world_frame": LaunchConfiguration("world_frame").perform(context),
        "save_directory": LaunchConfiguration("save_directory").perform(context),
        "encoder.backend": LaunchConfiguration("encoder").perform(context),
        "use_segmentation": preset == "habitat",
    }
    return [
        Node(
            package=PACKAGE,
            executable="robomem-memory-server",
            name="robomem",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file"), overrides],
            remappings=remappings(preset),
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("preset", default_value="default", choices=list(PRESET_NAMES),
                                  description="camera topic preset"),
            DeclareLaunchArgument("params_file", default_value=_default_params_file(),
                                  description="node parameters YAML"),
            DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes"),
            DeclareLaunchArgument("world_frame", default_value="map", description="TF frame of the memory"),
            DeclareLaunchArgument("save_directory", default_value="", description="where the memory is saved"),
            DeclareLaunchArgument("encoder", default_value="gt_text", description="encoder.backend"),
            DeclareLaunchArgument("use_planner", default_value="false", description="also start the planner"),
            DeclareLaunchArgument("planner", default_value="rule_based", description="planner backend"),
            OpaqueFunction(function=_memory_server),
            Node(
                package=PACKAGE,
                executable="robomem-planner-node",
                name="robomem_planner",
                namespace=LaunchConfiguration("namespace"),
                parameters=[LaunchConfiguration("params_file"), {"planner": LaunchConfiguration("planner")}],
                condition=IfCondition(LaunchConfiguration("use_planner")),
                output="screen",
            ),
        ]
    )
