"""Running ``robomem-eval`` episodes in parallel on Ray.

Each episode is one Ray task (:func:`robomem_sim.episode_run.run_episode`, ``num_cpus=1``); the results are the
same as the serial path's because an episode is deterministic in (run config, seed) and the runner writes
each episode's records in the same order. Locally a cluster is started with ``num_cpus`` CPUs and no
dashboard; with ``address`` an existing cluster is joined (its workers need robomem installed). A cluster
this module started is shut down when the iteration ends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from robomem.errors import SimError

if TYPE_CHECKING:
    from robomem_sim.episode_run import EpisodeResult
    from robomem_sim.run_config import RunConfig

__all__ = ["run_episodes_ray"]

_LOG = logging.getLogger(__name__)


def _remote_run_episode(cfg: RunConfig, seed: int, board: Any = None) -> EpisodeResult:
    from robomem_sim.episode_run import run_episode

    if board is None:
        return run_episode(cfg, seed)
    return run_episode(cfg, seed, lambda fraction, what: board.set.remote(seed, fraction, what))


class _ProgressBoard:
    """A Ray actor the episode tasks tell how far they are; the driver reads it while it waits."""

    def __init__(self) -> None:
        self.state: dict[int, tuple[float, str]] = {}

    def set(self, seed: int, fraction: float, what: str) -> None:
        self.state[seed] = (fraction, what)

    def get(self) -> dict[int, tuple[float, str]]:
        return dict(self.state)


def run_episodes_ray(
    cfg: RunConfig,
    seeds: Sequence[int],
    num_cpus: Optional[int] = None,
    address: Optional[str] = None,
    progress: Optional[Callable[[int, float, str], None]] = None,
) -> Iterator[EpisodeResult]:
    """Yield one :class:`~robomem_sim.episode_run.EpisodeResult` per seed, as episodes finish (any order).

    ``progress`` (seed, fraction, what) is told how far the running episodes are about once a second.
    Raises SimError when Ray is missing or the cluster cannot be reached; an episode that fails in a worker
    re-raises its error here (the episodes finished before it are already yielded, so ``--resume`` works).
    """
    try:
        import ray
    except ImportError:
        raise SimError("--ray needs the ray package: pip install 'ray[default]'") from None
    if num_cpus is not None and num_cpus <= 0:
        raise SimError(f"--num-cpus must be >= 1, got {num_cpus}")
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ... depending on the failure
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            raise SimError(f"could not start/join {where}: {exc}") from exc
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_remote_run_episode)
        board = ray.remote(num_cpus=0)(_ProgressBoard).remote() if progress is not None else None
        pending = [task.remote(cfg, int(s), board) for s in seeds]
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=None if board is None else 1.0)
            if board is not None and progress is not None:
                state: dict[int, tuple[float, str]] = ray.get(board.get.remote())  # type: ignore[attr-defined,assignment]
                for seed, (fraction, what) in sorted(state.items()):
                    progress(seed, fraction, what)
            for ref in done:
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.as_instanceof_cause()
                    raise SimError(f"an episode failed in a Ray worker: {cause}") from exc
    finally:
        if started:
            ray.shutdown()
