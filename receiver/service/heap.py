"""The garbage collector kept from stalling the event loop when the fleet is large.

At 100k tracked pods the heap holds about half a million long-lived
objects, and one full collection of them holds the event loop for about
200 ms. Most of them are built at start-up (the pod cache, one deadline
entry per pod) and live as long as the process. So the comparison of pods
with expected heartbeats, which builds them, runs with automatic
collection off, and when it has added many, everything alive is frozen
(`gc.freeze`): later full collections look only at what came after. The
same holds for declaring a mass silence (a partition: every pod at once),
which builds a signal, a decision and a memory of the signal per pod.

The cost: a reference cycle that is alive when frozen is never collected,
even once unreachable. The receiver's long-lived state holds no cycles it
later drops; acyclic objects are freed by reference counting as ever.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

FREEZE_AFTER = 10_000
"""New long-lived things (pods tracked, misses declared) since the last freeze that make
it worth freezing again."""


class Heap:
    def __init__(self) -> None:
        self._frozen_at = 0  # tracked pods at the last freeze

    @contextlib.contextmanager
    def building(self, tracked: Callable[[], int]) -> Iterator[None]:
        """Automatic collection off while long-lived objects are built; frozen after many.

        `tracked` counts what is built (it may start again from 0: a new leader).
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            size = tracked()
            if size - self._frozen_at >= FREEZE_AFTER:
                gc.freeze()
                self._frozen_at = size
            elif size < self._frozen_at:
                self._frozen_at = size  # a new leader's count starts again
            if enabled:
                gc.enable()
