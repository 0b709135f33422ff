"""kill -9 at random points of a save, including the swap: the newest complete memory always loads and nothing
accumulates next to it.

A child process ingests one frame and saves, again and again, reporting each save it starts and each save that
returned; it is SIGKILLed either after a random delay (anywhere in writing the files) or by itself at a named
step of the store (after the temporary directory exists, after the data files, after the manifest, after the
old target was moved to ``.previous``, after the swap, while deleting the old save). After each kill the test
loads the target: it must load, hold the last save that returned or the one in progress, and the directory
must hold nothing but the memory (and, only if the kill left no target, its ``.previous``).

Children are forked from a ``forkserver`` that imported robomem once (no Python start per iteration, and no
fork of a process whose OpenMP/torch threads already ran).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path
from typing import Any, Optional

import pytest

SEC = 1_000_000_000
STEPS = ("tmp_created", "file_written", "manifest_written", "rotated", "swapped", "removing")
ITERATIONS = 50


def _saver(conn: Any, target: str, kill_step: Optional[str], kill_on_save: int) -> None:
    """Child: load (or start) the memory at ``target``, then ingest + save forever, reporting on ``conn``."""
    from robomem.config import EncoderConfig, MemoryConfig
    from robomem.core import atomic_store
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.encoders.base import create_encoder
    from robomem.errors import PersistenceError
    from tests.core.test_atomic_store import T0, tiny_frame

    encoder = create_encoder(EncoderConfig(backend="hash"))
    try:
        mem = SpatioSemanticMemory.load(target, encoder)
    except PersistenceError:
        mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    k = (mem.time_range()[1] - T0) // SEC + 1 if mem.time_range()[1] else 1
    saves = 0

    def hook(step: str) -> None:
        if step == kill_step and saves >= kill_on_save:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic_store.FAULT_HOOK = hook
    conn.send(("ready", k))
    while True:
        mem.ingest(tiny_frame(k))
        conn.send(("saving", k))
        mem.save(target)
        conn.send(("saved", k))
        saves += 1
        k += 1


def _entries(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.mark.slow
def test_kill_9_at_random_points_of_the_save_never_loses_the_newest_complete_memory(tmp_path: Path) -> None:
    from robomem.config import EncoderConfig
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.encoders.base import create_encoder
    from tests.core.test_atomic_store import T0

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["robomem.core.memory", "robomem.core.persistence", "tests.core.test_atomic_store"])
    encoder = create_encoder(EncoderConfig(backend="hash"))
    rng = random.Random(1234)
    parent = tmp_path / "robot"
    parent.mkdir()
    target = parent / "memory"
    last_saved: Optional[int] = None  # newest generation whose save returned, over all children
    sizes = []
    hit_steps: set[str] = set()
    for it in range(ITERATIONS):
        step = STEPS[(it // 2) % len(STEPS)] if it % 2 else None  # odd: at a named step; even: at a random time
        kill_on_save = rng.randrange(3) if step else -1
        reader, writer = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_saver, args=(writer, str(target), step, kill_on_save), daemon=True)
        child.start()
        writer.close()
        assert reader.poll(60), f"iteration {it}: the child did not start"
        events = [reader.recv()]
        if step is None:  # wait for one complete save, then kill somewhere in the following ones
            while events[-1][0] != "saved":
                assert reader.poll(30), f"iteration {it}: no save completed"
                events.append(reader.recv())
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(60)
        assert child.exitcode == -signal.SIGKILL, f"iteration {it}: child exit code {child.exitcode}"
        while reader.poll(0.05):
            try:
                events.append(reader.recv())
            except EOFError:
                break
        reader.close()
        saved = [k for kind, k in events if kind == "saved"]
        started = [k for kind, k in events if kind == "saving"]
        if saved:
            last_saved = max(saved)
        in_progress = max(started) if started else None
        if step is not None:
            hit_steps.add(step)

        mem, opened = SpatioSemanticMemory.load_from(target, encoder)
        gen = (mem.time_range()[1] - T0) // SEC
        allowed = {g for g in (last_saved, in_progress) if g is not None}
        assert gen in allowed, f"iteration {it} (kill at {step or 'random time'}): loaded generation {gen}, " \
                               f"newest complete {last_saved}, in progress {in_progress}"
        last_saved = gen  # the save in progress may have completed (killed after its swap): now the newest
        names = _entries(parent)
        assert names in (["memory"], ["memory.previous"]), f"iteration {it}: debris {names}"
        assert (names == ["memory.previous"]) == bool(opened.fallback_reason)
        sizes.append(sum(f.stat().st_size for f in parent.rglob("*") if f.is_file()))
        del mem
    assert hit_steps == set(STEPS), f"kills landed only at {sorted(hit_steps)}"
    assert max(sizes) < 3 * min(sizes)  # one memory on disk, never an accumulation
    assert SpatioSemanticMemory.load(target, encoder).time_range()[1] >= T0 + last_saved * SEC  # type: ignore[operator]
