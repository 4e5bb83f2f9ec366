"""Alertmanager webhook payload v4 -> signals, and every refusal with its exact message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from receiver.ingest import Notification, PayloadInvalid, parse_webhook
from receiver.model import Source, Status

NOW = 1_795_260_000.0  # 2026-11-21T11:20:00Z, when the receiver got the delivery
ZERO_TIME = "0001-01-01T00:00:00Z"
GROUP_KEY = '{}/{severity=~"warning|critical"}:{alertname="PodErrorRatioOutlier"}'


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Seconds since the epoch for a UTC date and time."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def alert(**overrides: Any) -> dict[str, Any]:
    """One alert as Alertmanager 0.25+ sends it; overrides replace fields, None removes one."""
    body: dict[str, Any] = {
        "status": "firing",
        "labels": {
            "alertname": "PodErrorRatioOutlier",
            "namespace": "shop",
            "pod": "checkout-7d9f-abcde",
            "severity": "warning",
        },
        "annotations": {"summary": "error ratio 5x the fleet"},
        "startsAt": "2026-11-21T10:00:00.123456789Z",
        "endsAt": ZERO_TIME,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
        "fingerprint": "6c1c0b4e3f1a2b3c",
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def payload(*alerts: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A webhook payload v4; overrides replace top-level fields, None removes one."""
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "remediation",
        "groupLabels": {"alertname": "PodErrorRatioOutlier"},
        "commonLabels": {"alertname": "PodErrorRatioOutlier", "namespace": "shop"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts) if alerts else [alert()],
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def parse(body: object) -> Notification:
    return parse_webhook(encode(body), NOW)


# -- accepted payloads ---------------------------------------------------------------------------


def test_full_payload_becomes_signals() -> None:
    resolved = alert(
        status="resolved",
        labels={"alertname": "PodErrorRatioOutlier", "namespace": "shop", "pod": "checkout-2"},
        annotations={},
        startsAt="2026-11-21T09:00:00Z",
        endsAt="2026-11-21T09:30:00Z",
        fingerprint="00000000000000ff",
    )
    body = payload(
        alert(),
        resolved,
        truncatedAlerts=3,
        someFieldFromTheFuture={"nested": [1, 2, 3]},
    )

    notification = parse(body)

    assert notification.truncated == 3
    firing, ended = notification.signals
    assert firing.source is Source.ALERTMANAGER
    assert firing.name == "PodErrorRatioOutlier"
    assert firing.status is Status.FIRING
    assert dict(firing.labels) == {
        "alertname": "PodErrorRatioOutlier",
        "namespace": "shop",
        "pod": "checkout-7d9f-abcde",
        "severity": "warning",
    }
    assert dict(firing.annotations) == {"summary": "error ratio 5x the fleet"}
    assert firing.fingerprint == "6c1c0b4e3f1a2b3c"
    assert firing.starts_at == pytest.approx(epoch(2026, 11, 21, 10) + 0.123456789, abs=1e-6)
    assert firing.ends_at is None
    assert firing.received_at == NOW

    assert ended.status is Status.RESOLVED
    assert ended.labels["pod"] == "checkout-2"
    assert dict(ended.annotations) == {}
    assert ended.fingerprint == "00000000000000ff"
    assert ended.starts_at == epoch(2026, 11, 21, 9)
    assert ended.ends_at == epoch(2026, 11, 21, 9, 30)
    assert ended.received_at == NOW


def test_commonlabels_do_not_leak_into_alert_labels() -> None:
    body = payload(commonLabels={"team": "payments", "alertname": "PodErrorRatioOutlier"})

    (signal,) = parse(body).signals

    assert "team" not in signal.labels


@pytest.mark.parametrize(
    ("overrides", "truncated"),
    [
        ({}, 0),
        ({"groupKey": None, "receiver": None, "truncatedAlerts": None}, 0),
        ({"groupKey": 7, "receiver": ["remediation"]}, 0),
        ({"groupKey": "", "receiver": ""}, 0),
        ({"truncatedAlerts": 1000}, 1000),
    ],
    ids=[
        "as sent",
        "optional fields missing",
        "optional strings of another type read as empty",
        "empty strings",
        "many alerts truncated",
    ],
)
def test_group_fields_are_read_or_ignored(overrides: dict[str, Any], truncated: int) -> None:
    """Only the truncated count is used; the group's key and receiver may be anything."""
    assert parse(payload(**overrides)).truncated == truncated


def test_no_alerts_is_an_empty_notification() -> None:
    assert parse(payload(alerts=[])).signals == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T10:00:00Z", epoch(2026, 11, 21, 10)),
        ("2026-11-21T10:00:00z", epoch(2026, 11, 21, 10)),
        ("2026-11-21t10:00:00Z", epoch(2026, 11, 21, 10)),
        ("2026-11-21 10:00:00Z", epoch(2026, 11, 21, 10)),
        ("2026-11-21T10:00:00.5Z", epoch(2026, 11, 21, 10) + 0.5),
        ("2026-11-21T10:00:00.123456789Z", epoch(2026, 11, 21, 10) + 0.123456789),
        ("2026-11-21T12:00:00+02:00", epoch(2026, 11, 21, 10)),
        ("2026-11-21T12:00:00.250+02:00", epoch(2026, 11, 21, 10) + 0.25),
        ("2026-11-21T05:30:00-04:30", epoch(2026, 11, 21, 10)),
        ("2026-11-21T10:00:00+00:00", epoch(2026, 11, 21, 10)),
        ("2026-11-22T00:30:00+14:30", epoch(2026, 11, 21, 10)),
    ],
    ids=[
        "utc Z",
        "lower-case z",
        "lower-case t",
        "space separator",
        "milliseconds",
        "nanoseconds from Go",
        "positive offset",
        "offset and fraction",
        "negative half-hour offset",
        "explicit zero offset",
        "offset across midnight",
    ],
)
def test_starts_at_times(text: str, expected: float) -> None:
    (signal,) = parse(payload(alert(startsAt=text))).signals

    assert signal.starts_at == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("ends_at", "expected"),
    [
        (ZERO_TIME, None),
        ("0001-01-01T00:00:00.000000000Z", None),
        (None, None),
        ("2026-11-21T10:05:00Z", epoch(2026, 11, 21, 10, 5)),
        ("2026-11-21T12:05:00.5+02:00", epoch(2026, 11, 21, 10, 5) + 0.5),
    ],
    ids=["go zero time", "go zero time with nanoseconds", "absent", "utc", "offset"],
)
def test_ends_at(ends_at: str | None, expected: float | None) -> None:
    (signal,) = parse(payload(alert(endsAt=ends_at))).signals  # None: no endsAt field

    assert signal.ends_at == (None if expected is None else pytest.approx(expected))


def test_ends_at_null_means_no_end() -> None:
    body = alert()
    body["endsAt"] = None

    (signal,) = parse(payload(body)).signals

    assert signal.ends_at is None


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (None, {}),
        ({}, {}),
        (
            {"summary": "s", "runbook_url": "http://wiki/x"},
            {"summary": "s", "runbook_url": "http://wiki/x"},
        ),
    ],
    ids=["absent", "empty", "several"],
)
def test_annotations(annotations: dict[str, str] | None, expected: dict[str, str]) -> None:
    (signal,) = parse(payload(alert(annotations=annotations))).signals

    assert dict(signal.annotations) == expected


def test_alert_without_alertname_has_an_empty_name() -> None:
    (signal,) = parse(payload(alert(labels={"namespace": "shop", "pod": "p"}))).signals

    assert signal.name == ""


def test_empty_label_value_is_allowed() -> None:
    (signal,) = parse(payload(alert(labels={"alertname": "A", "instance": ""}))).signals

    assert signal.labels["instance"] == ""


# -- fingerprints -------------------------------------------------------------------------------


def fingerprint_of(labels: dict[str, str], **overrides: Any) -> str:
    body = alert(labels=labels, **overrides)
    body.pop("fingerprint")
    (signal,) = parse(payload(body)).signals
    return signal.fingerprint


def test_missing_fingerprint_is_derived_from_labels() -> None:
    labels = {"alertname": "A", "namespace": "shop", "pod": "p-1"}

    derived = fingerprint_of(labels)

    assert len(derived) == 16
    assert all(c in "0123456789abcdef" for c in derived)
    # Stable: the same label set in another order, another start and other annotations.
    assert fingerprint_of(dict(reversed(labels.items()))) == derived
    assert fingerprint_of(labels, startsAt="2027-01-01T00:00:00Z", annotations={"x": "y"}) == (
        derived
    )


@pytest.mark.parametrize(
    "other",
    [
        {"alertname": "A", "namespace": "shop", "pod": "p-2"},
        {"alertname": "A", "namespace": "shop"},
        {"alertname": "A", "namespace": "shop", "pod": "p-1", "extra": ""},
        {"alertname": "A", "namespace": "shoppod", "": "p-1"},
    ],
    ids=["another value", "a label fewer", "an empty label more", "keys and values shifted"],
)
def test_derived_fingerprint_differs_per_label_set(other: dict[str, str]) -> None:
    assert fingerprint_of(other) != fingerprint_of(
        {"alertname": "A", "namespace": "shop", "pod": "p-1"}
    )


def test_null_fingerprint_is_derived_too() -> None:
    body = alert(labels={"alertname": "A"})
    body["fingerprint"] = None

    (signal,) = parse(payload(body)).signals

    assert signal.fingerprint == fingerprint_of({"alertname": "A"})


# -- refusals -----------------------------------------------------------------------------------


def with_alert(**overrides: Any) -> bytes:
    return encode(payload(alert(**overrides)))


def with_alert_field(name: str, value: object) -> bytes:
    """A payload whose one alert has `name` set to exactly `value` (None included)."""
    body = alert()
    body[name] = value
    return encode(payload(body))


def without_alert_field(name: str) -> bytes:
    body = alert()
    del body[name]
    return encode(payload(body))


def second_alert(**overrides: Any) -> bytes:
    return encode(payload(alert(), alert(**overrides)))


DEEP = b"[" * 100_000

# id, body, field, exact message
INVALID = [
    (
        "malformed JSON",
        b'{"version": "4",',
        "",
        "found invalid JSON (unexpected end of data at line 1 column 17), expected JSON",
    ),
    (
        "empty body",
        b"",
        "",
        "found invalid JSON (Input is a zero-length, empty document at line 1 column 1), "
        "expected JSON",
    ),
    (
        "trailing garbage",
        b'{"version": "4"} x',
        "",
        "found invalid JSON (unexpected content after document at line 1 column 18), expected JSON",
    ),
    (
        "not UTF-8",
        b'{"version": "4", "receiver": "caf\xe9"}',
        "",
        "found bytes that are not UTF-8, expected a JSON document",
    ),
    (
        "nested too deeply",
        DEEP,
        "",
        "found invalid JSON (depth limit exceeded at line 1 column 1026), expected JSON",
    ),
    (
        "integer too long",
        b'{"version": "4", "alerts": [], "truncatedAlerts": ' + b"9" * 5000 + b"}",
        "",
        "found invalid JSON (number is infinity when parsed as double at line 1 column 51), "
        "expected JSON",
    ),
    ("top level a list", b"[]", "", "found a list, expected an object"),
    ("top level a string", b'"hello"', "", 'found "hello", expected an object'),
    ("top level null", b"null", "", "found nothing, expected an object"),
    ("top level a number", b"4", "", "found 4, expected an object"),
    (
        "version missing",
        encode(payload(version=None)),
        "version",
        'version: found nothing, expected "4" (the webhook payload Alertmanager 0.16+ sends)',
    ),
    (
        "version 3",
        encode(payload(version="3")),
        "version",
        'version: found "3", expected "4" (the webhook payload Alertmanager 0.16+ sends)',
    ),
    (
        "version 4 as a number",
        encode(payload(version=4)),
        "version",
        'version: found 4, expected "4" (the webhook payload Alertmanager 0.16+ sends)',
    ),
    (
        "alerts missing",
        encode(payload(alerts=None)),
        "alerts",
        "alerts: found nothing, expected a list of alerts",
    ),
    (
        "alerts an object",
        encode(payload(alerts={"0": alert()})),
        "alerts",
        "alerts: found an object, expected a list of alerts",
    ),
    (
        "alerts a string",
        encode(payload(alerts="[]")),
        "alerts",
        'alerts: found "[]", expected a list of alerts',
    ),
    (
        "truncatedAlerts negative",
        encode(payload(truncatedAlerts=-1)),
        "truncatedAlerts",
        "truncatedAlerts: found -1, expected a count of 0 or more",
    ),
    (
        "truncatedAlerts bool",
        encode(payload(truncatedAlerts=True)),
        "truncatedAlerts",
        "truncatedAlerts: found true, expected a count of 0 or more",
    ),
    (
        "truncatedAlerts a float",
        encode(payload(truncatedAlerts=1.5)),
        "truncatedAlerts",
        "truncatedAlerts: found 1.5, expected a count of 0 or more",
    ),
    (
        "truncatedAlerts a string",
        encode(payload(truncatedAlerts="2")),
        "truncatedAlerts",
        'truncatedAlerts: found "2", expected a count of 0 or more',
    ),
    (
        "alert not an object",
        encode(payload(alerts=[alert(), "firing"])),
        "alerts[1]",
        'alerts[1]: found "firing", expected an object',
    ),
    (
        "alert a list",
        encode(payload(alerts=[[]])),
        "alerts[0]",
        "alerts[0]: found a list, expected an object",
    ),
    (
        "status pending",
        with_alert(status="pending"),
        "alerts[0].status",
        'alerts[0].status: found "pending", expected "firing" or "resolved"',
    ),
    (
        "status missing",
        without_alert_field("status"),
        "alerts[0].status",
        'alerts[0].status: found nothing, expected "firing" or "resolved"',
    ),
    (
        "status upper-case",
        with_alert(status="FIRING"),
        "alerts[0].status",
        'alerts[0].status: found "FIRING", expected "firing" or "resolved"',
    ),
    (
        "status a list",
        with_alert(status=["firing"]),
        "alerts[0].status",
        'alerts[0].status: found a list, expected "firing" or "resolved"',
    ),
    (
        "status an object",
        with_alert(status={"state": "firing"}),
        "alerts[0].status",
        'alerts[0].status: found an object, expected "firing" or "resolved"',
    ),
    (
        "labels missing",
        without_alert_field("labels"),
        "alerts[0].labels",
        "alerts[0].labels: found nothing, expected the alert's labels (an object)",
    ),
    (
        "labels null",
        with_alert_field("labels", None),
        "alerts[0].labels",
        "alerts[0].labels: found nothing, expected an object",
    ),
    (
        "labels a list",
        with_alert(labels=[["alertname", "A"]]),
        "alerts[0].labels",
        "alerts[0].labels: found a list, expected an object",
    ),
    (
        "label value a number",
        with_alert(labels={"alertname": "A", "replica": 2}),
        "alerts[0].labels.replica",
        "alerts[0].labels.replica: found 2, expected a string value",
    ),
    (
        "label value null",
        with_alert(labels={"alertname": "A", "pod": None}),
        "alerts[0].labels.pod",
        "alerts[0].labels.pod: found nothing, expected a string value",
    ),
    (
        "bad label in the second alert",
        second_alert(labels={"alertname": "A", "up": False}),
        "alerts[1].labels.up",
        "alerts[1].labels.up: found false, expected a string value",
    ),
    (
        "annotations a string",
        with_alert(annotations="summary"),
        "alerts[0].annotations",
        'alerts[0].annotations: found "summary", expected an object',
    ),
    (
        "annotations an empty list",
        with_alert(annotations=[]),
        "alerts[0].annotations",
        "alerts[0].annotations: found a list, expected an object",
    ),
    (
        "annotations false",
        with_alert_field("annotations", False),
        "alerts[0].annotations",
        "alerts[0].annotations: found false, expected an object",
    ),
    (
        "annotation value an object",
        with_alert(annotations={"summary": {"text": "x"}}),
        "alerts[0].annotations.summary",
        "alerts[0].annotations.summary: found an object, expected a string value",
    ),
    (
        "startsAt missing",
        without_alert_field("startsAt"),
        "alerts[0].startsAt",
        "alerts[0].startsAt: found nothing, expected a non-empty string",
    ),
    (
        "startsAt empty",
        with_alert(startsAt=""),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "", expected a non-empty string',
    ),
    (
        "startsAt a number",
        with_alert(startsAt=1795250000),
        "alerts[0].startsAt",
        "alerts[0].startsAt: found 1795250000, expected a non-empty string",
    ),
    (
        "startsAt not a time",
        with_alert(startsAt="yesterday"),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "yesterday", expected an RFC 3339 time like '
        "2026-01-01T12:00:00Z",
    ),
    (
        "startsAt without a zone",
        with_alert(startsAt="2026-11-21T10:00:00"),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "2026-11-21T10:00:00", expected an RFC 3339 time like '
        "2026-01-01T12:00:00Z",
    ),
    (
        "startsAt a date only",
        with_alert(startsAt="2026-11-21"),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "2026-11-21", expected an RFC 3339 time like '
        "2026-01-01T12:00:00Z",
    ),
    (
        "startsAt month 13",
        with_alert(startsAt="2026-13-01T00:00:00Z"),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "2026-13-01T00:00:00Z", expected a valid date and time '
        "(month must be in 1..12)",
    ),
    (
        "startsAt past the last representable time",
        with_alert(startsAt="9999-12-31T23:00:00-02:00"),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "9999-12-31T23:00:00-02:00", expected a valid date and time '
        "(date value out of range)",
    ),
    (
        "startsAt zero time",
        with_alert(startsAt=ZERO_TIME),
        "alerts[0].startsAt",
        'alerts[0].startsAt: found "0001-01-01T00:00:00Z", expected when the alert began',
    ),
    (
        "endsAt not a time",
        with_alert(endsAt="soon"),
        "alerts[0].endsAt",
        'alerts[0].endsAt: found "soon", expected an RFC 3339 time like 2026-01-01T12:00:00Z',
    ),
    (
        "endsAt a number",
        with_alert(endsAt=1795250000),
        "alerts[0].endsAt",
        "alerts[0].endsAt: found 1795250000, expected a non-empty string",
    ),
    (
        "endsAt zero",
        with_alert_field("endsAt", 0),
        "alerts[0].endsAt",
        "alerts[0].endsAt: found 0, expected a non-empty string",
    ),
    (
        "endsAt empty",
        with_alert(endsAt=""),
        "alerts[0].endsAt",
        'alerts[0].endsAt: found "", expected a non-empty string',
    ),
    (
        "endsAt day 32",
        with_alert(endsAt="2026-01-32T00:00:00Z"),
        "alerts[0].endsAt",
        'alerts[0].endsAt: found "2026-01-32T00:00:00Z", expected a valid date and time '
        "(day is out of range for month)",
    ),
    (
        "fingerprint empty",
        with_alert(fingerprint=""),
        "alerts[0].fingerprint",
        'alerts[0].fingerprint: found "", expected a non-empty string',
    ),
    (
        "fingerprint a number",
        with_alert(fingerprint=12345),
        "alerts[0].fingerprint",
        "alerts[0].fingerprint: found 12345, expected a non-empty string",
    ),
    (
        "long value is shortened in the message",
        with_alert(status="x" * 100),
        "alerts[0].status",
        f'alerts[0].status: found "{"x" * 56}...", expected "firing" or "resolved"',
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_payload(body: bytes, field: str, message: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_webhook(body, NOW)

    assert str(caught.value) == message
    assert caught.value.field == field


def test_a_bad_alert_refuses_the_whole_payload() -> None:
    body = payload(alert(), alert(), alert(status="pending"))

    with pytest.raises(PayloadInvalid, match=r"^alerts\[2\]\.status: "):
        parse(body)


def test_payload_invalid_as_json() -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse(payload(version="3"))

    assert caught.value.as_json() == {
        "error": 'version: found "3", expected "4" (the webhook payload Alertmanager 0.16+ sends)',
        "field": "version",
        "expected": '"4" (the webhook payload Alertmanager 0.16+ sends)',
    }
    assert caught.value.found == '"3"'
    assert isinstance(caught.value, ValueError)


def test_payload_invalid_as_json_at_top_level() -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_webhook(b"[1, 2]", NOW)

    assert caught.value.as_json() == {
        "error": "found a list, expected an object",
        "field": "",
        "expected": "an object",
    }
    json.dumps(caught.value.as_json())  # what the HTTP layer sends must serialize


# -- the fast path for well-formed alerts -------------------------------------------------------

WELL_FORMED = [
    ("as Alertmanager sends it", alert()),
    ("no annotations", alert(annotations=None)),
    ("no fingerprint", alert(fingerprint=None)),
    ("no endsAt", alert(endsAt=None)),
    ("resolved with an end", alert(status="resolved", endsAt="2026-11-21T10:05:00Z")),
    ("empty labels", alert(labels={})),
]


@pytest.mark.parametrize("body", [b for _, b in WELL_FORMED], ids=[i for i, _ in WELL_FORMED])
def test_well_formed_alert_reads_as_the_checked_path_reads_it(body: dict[str, Any]) -> None:
    from receiver.ingest.webhook import _signal, _well_formed

    checked = _signal(json.loads(json.dumps(body)), "alerts[0]", NOW)  # reads the times
    fast = _well_formed(json.loads(json.dumps(body)), NOW)

    assert fast == checked
    assert parse_webhook(json.dumps(payload(body)).encode(), NOW).signals == (checked,)


NOT_FAST = [
    ("not an object", ["x"]),
    ("status unknown", alert(status="pending")),
    ("status a list", alert(status=["firing"])),
    ("labels missing", alert(labels=None)),
    ("a label value not a string", alert(labels={"pod": 1})),
    ("annotations a list", alert(annotations=[])),
    ("startsAt never read", alert(startsAt="2031-02-03T04:05:06.789Z")),
    ("startsAt the zero time", alert(startsAt=ZERO_TIME)),
    ("endsAt a number", alert(endsAt=5)),
    ("fingerprint empty", alert(fingerprint="")),
]


@pytest.mark.parametrize("body", [b for _, b in NOT_FAST], ids=[i for i, _ in NOT_FAST])
def test_anything_else_takes_the_checked_path(body: Any) -> None:
    from receiver.ingest.webhook import _well_formed

    parse_webhook(json.dumps(payload(alert())).encode(), NOW)  # the usual times are known
    assert _well_formed(body, NOW) is None


def test_a_new_start_time_is_read_once_then_remembered() -> None:
    fresh = alert(startsAt="2026-11-21T10:00:01.25Z")
    first = parse_webhook(json.dumps(payload(fresh, fresh)).encode(), NOW)
    again = parse_webhook(json.dumps(payload(fresh)).encode(), NOW)

    assert first.signals[0].starts_at == epoch(2026, 11, 21, 10) + 1.25
    assert first.signals[0] == first.signals[1] == again.signals[0]
