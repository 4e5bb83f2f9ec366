"""Alertmanager webhook payload version 4 -> signals.

Unknown fields are ignored, as Alertmanager may add some. The whole payload
is checked before any alert is used, so a bad one is refused (400) with
nothing applied; Alertmanager does not retry a 4xx. Labels, annotations,
fingerprints and the list of alerts are bounded (payload.py's constants and
MAX_ALERTS); a route whose groups can grow larger sets `max_alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.ingest.payload import (
    KNOWN_TIMES,
    MAX_ANNOTATION_VALUE,
    MAX_ANNOTATIONS,
    MAX_FINGERPRINT,
    MAX_LABEL_VALUE,
    MAX_LABELS,
    PayloadInvalid,
    all_str,
    check_bounds,
    fit,
    need_object,
    need_str,
    parse_json,
    string_map,
    timestamp,
)
from receiver.model import Instant, Signal, Source, Status, alert_fingerprint

VERSION = "4"
MAX_ALERTS = 5000
_STATUSES = {"firing": Status.FIRING, "resolved": Status.RESOLVED}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One webhook delivery: its alerts as signals, and how many Alertmanager left out."""

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
    if len(alerts) > MAX_ALERTS:
        raise PayloadInvalid(
            "alerts",
            f"{len(alerts)} alerts",
            f"at most {MAX_ALERTS} alerts (set max_alerts in the webhook_configs entry)",
        )
    truncated = payload.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadInvalid("truncatedAlerts", truncated, "a count of 0 or more")
    signals = tuple(
        _well_formed(alert, now) or _signal(alert, f"alerts[{i}]", now)
        for i, alert in enumerate(alerts)
    )
    if not (
        fit([s.labels for s in signals], value=MAX_LABEL_VALUE)
        and fit([s.annotations for s in signals], value=MAX_ANNOTATION_VALUE)
    ):  # a string too long, which only _signal checks alert by alert: it says which
        for i, alert in enumerate(alerts):
            _signal(alert, f"alerts[{i}]", now)
    return Notification(truncated=truncated, signals=signals)


def _well_formed(alert: object, now: Instant) -> Signal | None:
    """The signal of an alert that passes every check of _signal, None for any other.

    What Alertmanager sends is well-formed, and this path checks it with few
    calls; anything else goes through _signal, which says what is wrong.
    Times must have been read before (KNOWN_TIMES): the first alert of a
    group reads them the long way.
    """
    if type(alert) is not dict:
        return None
    get = alert.get
    status, labels, annotations = get("status"), get("labels"), get("annotations")
    starts, ends, fingerprint = get("startsAt"), get("endsAt"), get("fingerprint")
    starts_at = _known_time(starts) if type(starts) is str else None
    ends_at = None if ends is None or type(ends) is not str else _known_time(ends, _UNKNOWN)
    if not (
        type(status) is str
        and status in _STATUSES
        and type(labels) is dict
        and all_str(labels.values())
        and len(labels) <= MAX_LABELS  # lengths: parse_webhook, for all alerts at once
        and (
            annotations is None
            or (
                type(annotations) is dict
                and all_str(annotations.values())
                and len(annotations) <= MAX_ANNOTATIONS
            )
        )
        and starts_at is not None
        and ends_at is not _UNKNOWN
        and (ends is None or type(ends) is str)
        and (
            fingerprint is None
            or (type(fingerprint) is str and 0 < len(fingerprint) <= MAX_FINGERPRINT)
        )
    ):
        return None
    # The maps are the parsed payload's own, which nothing else holds: no copies.
    return Signal(
        source=_ALERTMANAGER,
        name=labels.get("alertname", ""),
        status=_STATUSES[status],
        labels=labels,
        fingerprint=alert_fingerprint(labels) if fingerprint is None else fingerprint,
        starts_at=starts_at,
        received_at=now,
        ends_at=ends_at,  # type: ignore[arg-type]  # not _UNKNOWN: checked
        annotations={} if annotations is None else annotations,
    )


_known_time = KNOWN_TIMES.get
_UNKNOWN = object()
_ALERTMANAGER = Source.ALERTMANAGER  # read once: an enum member read through its class is slow


def _signal(value: object, field: str, now: Instant) -> Signal:
    alert = need_object(value, field)
    status = alert.get("status")
    if not isinstance(status, str) or status not in _STATUSES:  # a list is unhashable
        raise PayloadInvalid(f"{field}.status", status, '"firing" or "resolved"')
    if "labels" not in alert:
        raise PayloadInvalid(f"{field}.labels", None, "the alert's labels (an object)")
    labels = string_map(alert["labels"], f"{field}.labels")
    check_bounds(labels, f"{field}.labels", count=MAX_LABELS, value=MAX_LABEL_VALUE)
    raw_annotations = alert.get("annotations")
    annotations = string_map(
        {} if raw_annotations is None else raw_annotations, f"{field}.annotations"
    )
    check_bounds(
        annotations, f"{field}.annotations", count=MAX_ANNOTATIONS, value=MAX_ANNOTATION_VALUE
    )
    starts = timestamp(alert.get("startsAt"), f"{field}.startsAt")
    if starts is None:
        raise PayloadInvalid(f"{field}.startsAt", alert.get("startsAt"), "when the alert began")
    ends = None if alert.get("endsAt") is None else timestamp(alert["endsAt"], f"{field}.endsAt")
    fingerprint = alert.get("fingerprint")
    if fingerprint is None:
        fingerprint = alert_fingerprint(labels)
    elif isinstance(fingerprint, str) and len(fingerprint) > MAX_FINGERPRINT:
        raise PayloadInvalid(
            f"{field}.fingerprint", fingerprint, f"at most {MAX_FINGERPRINT} characters"
        )
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
