"""Instants as text: RFC 3339 in UTC with a `Z`, at the precision each reader expects.

milliseconds  the API, the logs, the decision log, replay reports
seconds       Kubernetes timestamps (conditions, restartedAt, Events), hold descriptions
microseconds  Kubernetes MicroTime (a Lease's renewTime)
auto          notifications: seconds, with microseconds only when there are any
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from receiver.model.signal import Instant

Timespec = Literal["auto", "seconds", "milliseconds", "microseconds"]


def rfc3339(at: Instant, timespec: Timespec = "milliseconds") -> str:
    """`at` (epoch seconds) as RFC 3339 in UTC, e.g. 2026-01-01T00:00:00.000Z."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
