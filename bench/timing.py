"""One timer for the benchmarks: milliseconds per call, one call per item."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


def timed_ms(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out
