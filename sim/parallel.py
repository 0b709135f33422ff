"""Running ``robomem-eval`` episodes in parallel on Ray.

Each episode is one Ray task (:func:`robomem_sim.episode_run.run_episode`, ``num_cpus=1``); the results are the
same as the serial path's because an episode is deterministic in (run config, seed) and the runner writes
each episode's records in the same order. Locally a cluster is started with ``num_cpus`` CPUs and no
dashboard; with ``address`` an existing cluster is joined (its workers need robomem installed). A cluster
this module started is shut down when the iteration ends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Iterator, Optional, Sequence

from robomem.errors import SimError

if TYPE_CHECKING:
    from robomem_sim.episode_run import EpisodeResult
    from robomem_sim.run_config import RunConfig

__all__ = ["run_episodes_ray"]

_LOG = logging.getLogger(__name__)


def _remote_run_episode(cfg: RunConfig, seed: int) -> EpisodeResult:
    from robomem_sim.episode_run import run_episode

    return run_episode(cfg, seed)


def run_episodes_ray(
    cfg: RunConfig,
    seeds: Sequence[int],
    num_cpus: Optional[int] = None,
    address: Optional[str] = None,
) -> Iterator[EpisodeResult]:
    """Yield one :class:`~robomem_sim.episode_run.EpisodeResult` per seed, as episodes finish (any order).

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
        pending = [task.remote(cfg, int(s)) for s in seeds]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.as_instanceof_cause()
                    raise SimError(f"an episode failed in a Ray worker: {cause}") from exc
    finally:
        if started:
            ray.shutdown()
