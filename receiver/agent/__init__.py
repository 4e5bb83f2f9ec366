"""The pod side of heartbeats: push this pod's health to the receiver.

Two ways in: `Heartbeat`, a helper an app embeds (`push` once, or `start` a
background loop), and the `receiver heartbeat` sidecar (`receiver.agent.sidecar`),
which checks an app's health URL and pushes for it.

Standard library only, and nothing from the rest of `receiver`, so an app can
vendor or install it without the server's dependencies (tests/test_agent.py
keeps this true).
"""

from receiver.agent.check import check_all, check_once
from receiver.agent.durations import parse_duration
from receiver.agent.errors import (
    HeartbeatConfigError,
    HeartbeatError,
    HeartbeatFailed,
    HeartbeatRejected,
)
from receiver.agent.identity import Identity, resolve_identity
from receiver.agent.loop import Outcome
from receiver.agent.push import Heartbeat, Running
from receiver.agent.wire import Beat, HealthStatus, PushResult, send

__all__ = [
    "Beat",
    "HealthStatus",
    "Heartbeat",
    "HeartbeatConfigError",
    "HeartbeatError",
    "HeartbeatFailed",
    "HeartbeatRejected",
    "Identity",
    "Outcome",
    "PushResult",
    "Running",
    "check_all",
    "check_once",
    "parse_duration",
    "resolve_identity",
    "send",
]
