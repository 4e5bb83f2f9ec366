"""Alertmanager webhook payload version 4 -> signals.

Unknown fields are ignored, as Alertmanager may add some. The whole payload
is checked before any alert is used, so a bad one is refused (400) with
nothing applied; Alertmanager does not retry a 4xx.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receiver.ingest.payload import (
    PayloadInvalid,
    need_object,
    need_str,
    parse_json,
    string_map,
    timestamp,
)
from receiver.model import Instant, Signal, Source, Status

VERSION = "4"
_STATUSES = {"firing": Status.FIRING, "resolved": Status.RESOLVED}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One webhook delivery: its group and its alerts as signals."""

    group_key: str
    receiver: str
    truncated: int
    signals: tuple[Signal, ...]


def parse_webhook(body: bytes, now: Instant) -> Notification:
    payload = need_object(parse_json(body), "")
    version = payload.get("version")
    if version != VERSION:
        raise PayloadInvalid(
            "version", version, f'"{VERSION}" (the webhook payload Alertmanager 0.16+ sends)'
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadInvalid("alerts", alerts, "a list of alerts")
    truncated = payload.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadInvalid("truncatedAlerts", truncated, "a count of 0 or more")
    signals = tuple(_signal(alert, f"alerts[{i}]", now) for i, alert in enumerate(alerts))
    return Notification(
        group_key=_optional_str(payload.get("groupKey")),
        receiver=_optional_str(payload.get("receiver")),
        truncated=truncated,
        signals=signals,
    )


def _signal(value: object, field: str, now: Instant) -> Signal:
    alert = need_object(value, field)
    status = alert.get("status")
    if not isinstance(status, str) or status not in _STATUSES:  # a list is unhashable
        raise PayloadInvalid(f"{field}.status", status, '"firing" or "resolved"')
    if "labels" not in alert:
        raise PayloadInvalid(f"{field}.labels", None, "the alert's labels (an object)")
    labels = string_map(alert["labels"], f"{field}.labels")
    raw_annotations = alert.get("annotations")
    annotations = string_map(
        {} if raw_annotations is None else raw_annotations, f"{field}.annotations"
    )
    starts = timestamp(alert.get("startsAt"), f"{field}.startsAt")
    if starts is None:
        raise PayloadInvalid(f"{field}.startsAt", alert.get("startsAt"), "when the alert began")
    ends = None if alert.get("endsAt") is None else timestamp(alert["endsAt"], f"{field}.endsAt")
    fingerprint = alert.get("fingerprint")
    if fingerprint is None:
        fingerprint = _fingerprint(labels)
    return Signal(
        source=Source.ALERTMANAGER,
        name=labels.get("alertname", ""),
        status=_STATUSES[status],
        labels=labels,
        fingerprint=need_str(fingerprint, f"{field}.fingerprint"),
        starts_at=starts,
        received_at=now,
        ends_at=ends,
        annotations=annotations,
    )


def _fingerprint(labels: Mapping[str, str]) -> str:
    """For senders that omit it: stable per label set, as Alertmanager's is."""
    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _optional_str(value: Any) -> str:
    return value if isinstance(value, str) else ""
