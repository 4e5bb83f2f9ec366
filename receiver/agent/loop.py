"""The beat loop shared by the in-app thread and the sidecar: check, push, report.

It reports every `Outcome` to a callback and leaves the rendering (Python
logging in an app, JSON lines in the sidecar) to the caller; `Changes` tells
which outcomes are worth a line.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from receiver.agent.errors import HeartbeatError
from receiver.agent.wire import HealthStatus, PushResult, as_status

Check = Callable[[], tuple[str, str]]
"""Returns (status, reason): status one of "ok", "degraded", "failing"."""

Push = Callable[[HealthStatus, str], PushResult]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One beat: what the check said and what the push got (a result or an error)."""

    status: HealthStatus
    reason: str
    result: PushResult | None = None
    error: HeartbeatError | None = None


Report = Callable[[Outcome], None]


def beat_once(push: Push, check: Check) -> Outcome:
    try:
        raw, reason = check()
        status = as_status(raw)
    except Exception as exc:
        # A check that crashes says the app is unwell; report that instead of dying,
        # or the receiver would hear silence and take the pod for missing.
        status, reason = HealthStatus.FAILING, f"check raised {type(exc).__name__}: {exc}"
    try:
        result = push(status, reason)
    except HeartbeatError as exc:
        return Outcome(status=status, reason=reason, error=exc)
    return Outcome(status=status, reason=reason, result=result)


def run_loop(
    push: Push, check: Check, *, interval: float, stop: threading.Event, report: Report
) -> None:
    """Beat at once, then on a fixed schedule until `stop` is set."""
    next_at = time.monotonic()
    while True:
        report(beat_once(push, check))
        # Slots stay on a fixed grid so one slow check delays one beat, not every
        # later one; slots missed while overrunning are skipped, not sent in a burst.
        next_at += interval
        now = time.monotonic()
        if next_at < now:
            next_at += math.ceil((now - next_at) / interval) * interval
        if stop.wait(next_at - now):
            return


class Changes:
    """Says which outcomes deserve a log line: every failure, and each change of state."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[str, str, str] | None = None

    def __call__(self, outcome: Outcome) -> bool:
        if outcome.error is not None:
            # Forget the state so the first good push after a failure is logged again.
            self._last = None
            return True
        key = (
            outcome.status.value,
            outcome.reason,
            outcome.result.result if outcome.result else "",
        )
        changed = key != self._last
        self._last = key
        return changed
