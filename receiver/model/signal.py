"""A normalized input: one alert from Alertmanager or one heartbeat outcome."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum

from receiver.model.value import value

Instant = float
"""Seconds since the Unix epoch. Decision code receives it, never reads a clock."""


class Source(StrEnum):
    ALERTMANAGER = "alertmanager"
    HEARTBEAT = "heartbeat"


class Status(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


HEARTBEAT_MISSED = "HeartbeatMissed"
HEARTBEAT_DEGRADED = "HeartbeatDegraded"
HEARTBEAT_FAILING = "HeartbeatFailing"


@value(frozen=True, slots=True, kw_only=True)  # frozen to mypy (value.py)
class Signal:
    source: Source
    name: str
    status: Status
    labels: Mapping[str, str]
    fingerprint: str
    starts_at: Instant
    received_at: Instant
    ends_at: Instant | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def occurrence(self) -> str:
        """Identity of one occurrence: Alertmanager re-sends it, we act on it once."""
        return f"{self.fingerprint}@{_millis(self.starts_at)}"


@functools.lru_cache(maxsize=4096)
def _millis(at: Instant) -> str:
    """starts_at as written in occurrences, remembered: a webhook's alerts share one."""
    return f"{at:.3f}"


class HeartbeatStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"
    MISSED = "missed"  # declared by the receiver when a deadline passes, never pushed


HEARTBEAT_SIGNALS = {
    HeartbeatStatus.DEGRADED: HEARTBEAT_DEGRADED,
    HeartbeatStatus.FAILING: HEARTBEAT_FAILING,
    HeartbeatStatus.MISSED: HEARTBEAT_MISSED,
}


def heartbeat_signal(
    *,
    name: str,
    status: Status,
    namespace: str,
    pod: str,
    pod_labels: Mapping[str, str],
    starts_at: Instant,
    now: Instant,
    reason: str = "",
) -> Signal:
    """The signal for one heartbeat condition of one pod.

    The fingerprint is stable per (pod, condition), and starts_at is when the
    condition began, so a condition that persists is one occurrence.
    """
    labels = {**pod_labels, "alertname": name, "namespace": namespace, "pod": pod}
    return Signal(
        source=Source.HEARTBEAT,
        name=name,
        status=status,
        labels=labels,
        fingerprint=f"heartbeat:{namespace}/{pod}:{name}",
        starts_at=starts_at,
        received_at=now,
        annotations={"reason": reason} if reason else {},
    )


def alert_fingerprint(labels: Mapping[str, str]) -> str:
    """For senders that omit it: stable per label set, as Alertmanager's is."""
    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
