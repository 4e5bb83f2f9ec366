"""The deadline waker: declare a silent pod missed at its deadline, not at the next tick.

It sleeps until the earliest heartbeat deadline (or until the expected pods
change, which may bring one earlier), then lets the pipeline declare what is
due. Two bounds: it looks at least every `longest` seconds (new pods, a
clock that jumped), and at most once per `shortest` seconds, so a fleet
whose deadlines fall a millisecond apart costs a bounded number of wake-ups
and deadlines that close together are decided as one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from receiver.model import Instant

log = logging.getLogger(__name__)

SHORTEST = 0.01


async def wake_for_deadlines(
    declare: Callable[[], Awaitable[None]],
    next_due: Callable[[], Instant | None],
    moved: asyncio.Event,
    *,
    clock: Callable[[], Instant],
    longest: float,
    shortest: float = SHORTEST,
) -> None:
    """Run `declare` at each deadline `next_due` names, forever (cancel to stop)."""
    while True:
        try:
            await declare()
        except Exception:  # the loop must outlive any one failure; the log says what
            log.exception("declaring missed heartbeats failed")
        moved.clear()
        delay = sleep_for(next_due(), clock(), longest=longest, shortest=shortest)
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as `moved` is set, and then the service's shutdown waits for this forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await moved.wait()


def sleep_for(due: Instant | None, now: Instant, *, longest: float, shortest: float) -> float:
    """Seconds until `due`, at least `shortest`, at most `longest` (also when nothing is due)."""
    if due is None:
        return longest
    return min(longest, max(shortest, due - now))
