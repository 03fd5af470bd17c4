"""Pausing CPython's cyclic garbage collector around work that builds large acyclic data.

A big statement or a distribution to 100,000 holders makes hundreds of thousands of small
objects that stay alive until the work ends and form no cycles; every few hundred
allocations the collector would walk them again, up to the whole heap, for nothing
(a quarter of a big statement's time, bench/README.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off while the block runs. Process-wide, so it is switched back
    on only if this call switched it off (another thread's pause ends with its own)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
