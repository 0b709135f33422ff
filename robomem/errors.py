"""Exception types: one per subsystem, all deriving from :class:`RobomemError`.

Every message says what went wrong *and* what to do about it. Raising one of these never leaves the
memory half-updated: the core validates before it mutates.
"""

from __future__ import annotations


class RobomemError(Exception):
    """Base class of every error robomem raises on purpose."""


class ConfigError(RobomemError):
    """A config file or ROS parameter is missing, malformed or out of range."""


class FrameError(RobomemError):
    """An input frame (image, depth, intrinsics, pose, stamp, mask) was rejected; the memory is unchanged."""


class ActionError(RobomemError):
    """A robot action event (pick/place) was rejected (malformed pose, stamp or hint); the memory is unchanged."""


class MemoryStateError(RobomemError):
    """An operation does not fit the memory's current state (e.g. out-of-order stamps, unknown instance)."""


class QueryError(RobomemError):
    """A query is malformed (unknown word with no embedding, bad time range, k <= 0, ...)."""


class IndexBackendError(RobomemError):
    """The vector index was used wrongly (dimension mismatch, unknown backend, corrupt index file)."""


class EncoderError(RobomemError):
    """An encoder could not be loaded or could not encode its input."""


class PersistenceError(RobomemError):
    """A memory directory could not be saved or loaded (truncated, foreign, wrong version). Nothing was changed."""


class SimError(RobomemError):
    """The simulation harness was configured or driven wrongly."""


class PlannerError(RobomemError):
    """A planner backend failed (endpoint down, malformed answer, unknown task)."""


class DatasetError(RobomemError):
    """A recorded RGB-D dataset directory is malformed (missing lists, unreadable images, bad poses)."""


class PerceptionError(RobomemError):
    """A perception front end could not be loaded or could not segment/label a frame."""


class RosError(RobomemError):
    """The ROS 2 edge failed: interfaces not built, a bag unreadable or missing topics, a service unreachable."""
