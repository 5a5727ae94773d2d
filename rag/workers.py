"""The per-paper rule work of an ingest (facts, claims) spread over worker processes.

The rules are pure Python (regexes over each abstract): at 10,000 changed papers they take about
a minute on one core while the others wait. `RuleWorkers` runs them in worker processes when a
step has enough papers to pay for starting them (about 1 s), and in this process otherwise; either
way the results come back in paper order and are the same (a test compares them).

The workers fork from a forkserver that has imported only the rule modules, never from this
process, whose onnxruntime and Chroma threads a fork would copy in whatever state they are in.
As with any multiprocessing start method but fork, a script run by path is imported again in
each worker, so one that ingests at its top level needs the `if __name__ == "__main__":` guard
(`python -m rag`, `-m ui` and `-m eval` need nothing); a pool that cannot start is logged and
the rules run in this process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
_PRELOAD = ["rag.facts", "rag.claimstore"]
_TASKS_PER_WORKER = 4  # batches per worker: enough to balance the load


def default_workers() -> int:
    """One per CPU core this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


class RuleWorkers:
    """Maps a batch function over items: in `workers` processes when there are at least
    `min_items` of them (the pool starts at the first such call), here otherwise."""

    def __init__(self, workers: int, min_items: int) -> None:
        self.workers = workers
        self.min_items = max(2, min_items)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> RuleWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def map(self, fn: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> list[R]:
        """fn over `items` in batches (a few per worker, so that what `fn` binds is pickled a few
        times, not once per item); the results in the order of `items`."""
        if self.workers <= 1 or len(items) < self.min_items:
            return fn(items)
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        size = -(-len(items) // (self.workers * _TASKS_PER_WORKER))
        out: list[R] = []
        try:
            for part in self._pool.map(fn, [items[i : i + size] for i in range(0, len(items), size)]):
                out += part
        except BrokenProcessPool as exc:  # a worker that could not start or died: the work is still done, here
            log.warning("the rule workers stopped (%s); running the rules in this process", exc)
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
            self.workers = 1
            return fn(items)
        return out
