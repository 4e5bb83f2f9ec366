"""Heartbeat pushes (one object or a batch) -> checked Beat values.

A batch holds at most MAX_BATCH beats, and an interval is read only once it
is known to be short: a number past the bounds, or a string of thousands of
digits, is a 400 naming the field, never an overflow.

A beat may carry its own pod's bearer token (`token`): a node relay
forwards many pods' beats in one request and cannot prove any pod's
identity itself, so each beat proves its own (see service/relayed.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from receiver.ingest.payload import PayloadInvalid, need_object, need_str, parse_json
from receiver.model import HeartbeatStatus, PodKey
from receiver.runbook.quantities import DURATION_HINT, parse_duration

PUSHED = {
    s.value: s for s in (HeartbeatStatus.OK, HeartbeatStatus.DEGRADED, HeartbeatStatus.FAILING)
}
MIN_INTERVAL = 0.1
MAX_INTERVAL = 3600.0
MAX_REASON = 1024
MAX_NAME = 253  # a Kubernetes object name
MAX_BATCH = 1000
MAX_DURATION_TEXT = 32  # "3599.999999999s" and then some
MAX_TOKEN = 16 * 1024  # a projected service-account token (a JWT) is 1-2 KB


@dataclass(frozen=True, slots=True)
class Beat:
    key: PodKey
    status: HeartbeatStatus
    reason: str
    interval: float | None  # None: the runbook's heartbeats section says
    token: str | None = field(default=None, repr=False)  # this pod's own, as a relay forwards it


def parse_heartbeats(body: bytes) -> list[Beat]:
    """Every beat of the push, or PayloadInvalid naming the first bad field."""
    payload = parse_json(body)
    if isinstance(payload, list):
        if not payload:
            raise PayloadInvalid("", payload, "at least one heartbeat")
        if len(payload) > MAX_BATCH:
            raise PayloadInvalid("", f"{len(payload)} heartbeats", f"at most {MAX_BATCH} a batch")
        return [_beat(item, f"[{i}]") for i, item in enumerate(payload)]
    return [_beat(payload, "")]


def _beat(value: object, at: str) -> Beat:
    item = need_object(value, at)
    prefix = f"{at}." if at else ""
    namespace = _name(item.get("namespace"), f"{prefix}namespace")
    pod = _name(item.get("pod"), f"{prefix}pod")
    status = item.get("status")
    if not isinstance(status, str) or status not in PUSHED:  # a list is unhashable
        raise PayloadInvalid(f"{prefix}status", status, '"ok", "degraded" or "failing"')
    reason = item.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise PayloadInvalid(f"{prefix}reason", reason, f"a string of at most {MAX_REASON} chars")
    return Beat(
        key=PodKey(namespace, pod),
        status=PUSHED[status],
        reason=reason,
        interval=_interval(item.get("interval"), f"{prefix}interval"),
        token=_token(item.get("token"), f"{prefix}token"),
    )


def _token(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN:
        # Never echo a token back, even a malformed one: answers end up in logs.
        found = f"{len(value)} chars" if isinstance(value, str) else value
        raise PayloadInvalid(field, found, f"a bearer token of 1 to {MAX_TOKEN} chars")
    return value


def _name(value: object, field: str) -> str:
    name = need_str(value, field)
    if len(name) > MAX_NAME:
        raise PayloadInvalid(field, value, f"a Kubernetes name of at most {MAX_NAME} characters")
    return name


def _interval(value: object, field: str) -> float | None:
    if value is None:
        return None
    seconds: float | None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int | float):
        seconds = float(value) if MIN_INTERVAL <= value <= MAX_INTERVAL else None
    elif isinstance(value, str) and len(value) <= MAX_DURATION_TEXT:
        seconds = parse_duration(value)
    else:
        seconds = None
    if seconds is None or not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise PayloadInvalid(
            field, value, f"seconds (a number) or a {DURATION_HINT}, between 100ms and 1h"
        )
    return seconds
