"""What can go wrong when a pod pushes a heartbeat, split by what the caller should do.

- `HeartbeatConfigError`: the agent itself is misconfigured (no identity, no
  token); fix the deployment.
- `HeartbeatRejected`: the receiver answered 4xx (or something that is not a
  receiver); retrying the same push cannot succeed, fix the configuration.
- `HeartbeatFailed`: 5xx, 408, 429, a timeout or no connection; transient, try
  again at the next interval.
"""

from __future__ import annotations

from collections.abc import Mapping


class HeartbeatError(Exception):
    """Base of every agent error, so an app can catch them all in one place."""

    status: int | None = None
    """The receiver's HTTP status, when it answered."""


class HeartbeatConfigError(HeartbeatError):
    """The agent cannot build a heartbeat: a missing identity or an unreadable token."""


class HeartbeatRejected(HeartbeatError):
    """The receiver refused the push; the message and field are the server's own."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        field: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        self.message = message
        self.status: int | None = status
        self.field = field
        self.detail: Mapping[str, object] = detail or {}
        where = f" (field {field!r})" if field else ""
        super().__init__(f"receiver rejected the heartbeat: HTTP {status}: {message}{where}")


class HeartbeatFailed(HeartbeatError):
    """The push did not get through for a reason that may pass; retry later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.message = message
        self.status = status
        prefix = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"heartbeat push failed: {prefix}{message}")
