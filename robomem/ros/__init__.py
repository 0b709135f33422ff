"""The ROS 2 edge of robomem (the only place that imports rclpy; thin: conversion at the edge).

* :mod:`~robomem.ros.converters` (duck-typed message <-> numpy), :mod:`~robomem.ros.tf_buffer`,
  :mod:`~robomem.ros.pairing`, :mod:`~robomem.ros.pipeline` (messages + TF -> Frames) and
  :mod:`~robomem.ros.ingest` (drop-oldest worker) need no rclpy: bag ingestion reuses them offline.
* Nodes: :mod:`~robomem.ros.memory_server` (ingest + services in one process; ``robomem-ingest-node`` is
  the same node without services), :mod:`~robomem.ros.planner_node`, :mod:`~robomem.ros.replay`.
* :mod:`~robomem.ros.memory_client`: a MemoryQueries over the services, for planners.
* :mod:`~robomem.ros.bags` / :mod:`~robomem.ros.bag_cli`: ``robomem ingest-bag``.

Interfaces (msg/, srv/) are built by scripts/build_ros.sh into build_ros/ (package robomem_interfaces,
plus a vendored tf2_msgs/TFMessage since tf2_msgs has no PyPI wheel).
"""
