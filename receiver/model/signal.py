"""A normalized input: one alert from Alertmanager or one heartbeat outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

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


@dataclass(frozen=True, slots=True, kw_only=True)
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
        return f"{self.fingerprint}@{self.starts_at:.3f}"

    @property
    def firing(self) -> bool:
        return self.status is Status.FIRING
