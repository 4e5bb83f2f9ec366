"""The deadline waker: how long it sleeps; it declares at the deadline, not a tick later."""

from __future__ import annotations

import asyncio
import time

import pytest

from receiver.service.waker import sleep_for, wake_for_deadlines

LONGEST, SHORTEST = 1.0, 0.01


@pytest.mark.parametrize(
    ("due", "now", "seconds"),
    [
        (None, 100.0, LONGEST),
        (100.25, 100.0, 0.25),
        (100.0, 100.0, SHORTEST),  # due now: a short pause, so close deadlines go together
        (90.0, 100.0, SHORTEST),  # overdue (more left after a slice)
        (500.0, 100.0, LONGEST),  # far off: look again anyway (new pods, a clock that jumped)
    ],
    ids=["nothing due", "due soon", "due now", "overdue", "far off"],
)
def test_sleep_for(due: float | None, now: float, seconds: float) -> None:
    assert sleep_for(due, now, longest=LONGEST, shortest=SHORTEST) == seconds


def run_waker(due_in: float, *, longest: float, moved_after: float | None = None) -> list[float]:
    """Start the waker with one deadline `due_in` seconds ahead; when it declared (seconds)."""
    declared: list[float] = []

    async def main() -> None:
        start = time.monotonic()
        due = [start + due_in]
        moved = asyncio.Event()
        done = asyncio.Event()

        async def declare() -> None:
            now = time.monotonic()
            if due and now >= due[0]:
                declared.append(now - start)
                due.clear()
                done.set()

        task = asyncio.create_task(
            wake_for_deadlines(
                declare, lambda: due[0] if due else None, moved,
                clock=time.monotonic, longest=longest,
            )
        )  # fmt: skip
        if moved_after is not None:
            await asyncio.sleep(moved_after)
            due[0] = start + moved_after  # a deadline came earlier than the waker planned
            moved.set()
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    return declared


def test_a_deadline_is_declared_when_it_falls_not_at_the_next_tick() -> None:
    # The tick is 10 s; the deadline 0.3 s ahead is declared as soon as it falls.
    (at,) = run_waker(0.3, longest=10.0)
    assert at >= 0.3
    assert at < 5.0  # bounded far below the 10 s tick; the latency is measured in bench/


def test_a_deadline_brought_earlier_wakes_the_waker() -> None:
    # Planned for 20 s ahead, then moved to 0.2 s: the waker does not sleep on its old plan.
    (at,) = run_waker(20.0, longest=30.0, moved_after=0.2)
    assert 0.2 <= at < 10.0


def test_a_failing_declare_does_not_end_the_waker() -> None:
    calls: list[int] = []

    async def main() -> None:
        done = asyncio.Event()

        async def declare() -> None:
            calls.append(1)
            if len(calls) == 3:
                done.set()
            raise RuntimeError("cluster gone")

        task = asyncio.create_task(
            wake_for_deadlines(declare, lambda: 0.0, asyncio.Event(), clock=time.monotonic,
                               longest=1.0, shortest=0.001)
        )  # fmt: skip
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert len(calls) >= 3


def test_a_cancellation_that_arrives_as_the_deadlines_move_stops_the_waker() -> None:
    """On 3.11, asyncio.wait_for swallows a cancellation that arrives as its awaitable
    finishes; the service's shutdown then waited for the waker forever."""

    async def scenario() -> bool:
        moved = asyncio.Event()

        async def declare() -> None:
            pass

        waker = asyncio.create_task(
            wake_for_deadlines(declare, lambda: None, moved, clock=lambda: 0.0, longest=60.0)
        )
        await asyncio.sleep(0.01)  # the waker is waiting for `moved`
        moved.set()  # the deadlines move ...
        waker.cancel()  # ... as the service shuts down
        done, _ = await asyncio.wait({waker}, timeout=2.0)
        if not done:
            waker.cancel()
            await asyncio.wait({waker}, timeout=2.0)
        return waker in done and waker.cancelled()

    assert asyncio.run(scenario())
