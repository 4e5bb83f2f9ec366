"""Heartbeat pushes -> Beat values, and every refusal with its field path and exact message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from receiver.ingest import Beat, PayloadInvalid, parse_heartbeats
from receiver.model import HeartbeatStatus, PodKey

INTERVAL_EXPECTED = (
    "seconds (a number) or a duration like 30s, 5m or 1h30m (units d, h, m, s, ms), "
    "between 100ms and 1h"
)


def beat(**overrides: Any) -> dict[str, Any]:
    """One heartbeat as a pod's agent pushes it; overrides replace fields, None removes one."""
    body: dict[str, Any] = {
        "namespace": "shop",
        "pod": "checkout-0",
        "status": "ok",
        "reason": "",
        "interval": 5,
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def with_field(name: str, value: object) -> bytes:
    """One heartbeat whose `name` is exactly `value` (None included)."""
    body = beat()
    body[name] = value
    return encode(body)


# -- accepted pushes ----------------------------------------------------------------------------


def test_one_object() -> None:
    beats = parse_heartbeats(encode(beat(status="degraded", reason="db pool 90% used")))

    assert beats == [
        Beat(
            key=PodKey("shop", "checkout-0"),
            status=HeartbeatStatus.DEGRADED,
            reason="db pool 90% used",
            interval=5.0,
        )
    ]


def test_batch_keeps_order() -> None:
    body = [
        beat(pod="a", status="ok"),
        beat(namespace="billing", pod="b", status="failing", reason="disk full"),
        beat(pod="c", status="degraded", interval=None),
    ]

    beats = parse_heartbeats(encode(body))

    assert [(b.key, b.status, b.reason, b.interval) for b in beats] == [
        (PodKey("shop", "a"), HeartbeatStatus.OK, "", 5.0),
        (PodKey("billing", "b"), HeartbeatStatus.FAILING, "disk full", 5.0),
        (PodKey("shop", "c"), HeartbeatStatus.DEGRADED, "", None),
    ]


def test_batch_of_one() -> None:
    assert len(parse_heartbeats(encode([beat()]))) == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ok", HeartbeatStatus.OK),
        ("degraded", HeartbeatStatus.DEGRADED),
        ("failing", HeartbeatStatus.FAILING),
    ],
    ids=["ok", "degraded", "failing"],
)
def test_statuses(status: str, expected: HeartbeatStatus) -> None:
    (parsed,) = parse_heartbeats(encode(beat(status=status)))

    assert parsed.status is expected


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (5, 5.0),
        (2.5, 2.5),
        (0.1, 0.1),
        (3600, 3600.0),
        ("5s", 5.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        (" 10s ", 10.0),
        ("100ms", 0.1),
        (None, None),
    ],
    ids=[
        "integer seconds",
        "fractional seconds",
        "smallest number",
        "largest number",
        "5s",
        "500ms",
        "1m30s",
        "1h",
        "surrounding spaces",
        "smallest duration",
        "missing: the runbook says",
    ],
)
def test_interval(interval: object, expected: float | None) -> None:
    (parsed,) = parse_heartbeats(encode(beat(interval=interval)))

    assert parsed.interval == (None if expected is None else pytest.approx(expected))


def test_interval_null_means_the_runbook_says() -> None:
    (parsed,) = parse_heartbeats(with_field("interval", None))

    assert parsed.interval is None


def test_reason_missing_is_empty() -> None:
    (parsed,) = parse_heartbeats(encode(beat(reason=None)))

    assert parsed.reason == ""


def test_longest_reason_and_names_are_accepted() -> None:
    long_name = "p" * 253

    (parsed,) = parse_heartbeats(
        encode(beat(pod=long_name, namespace="n" * 253, reason="r" * 1024))
    )

    assert parsed.key == PodKey("n" * 253, long_name)
    assert len(parsed.reason) == 1024


def test_unknown_fields_are_ignored() -> None:
    (parsed,) = parse_heartbeats(encode(beat(uid="1234", agent={"version": "1.0"})))

    assert parsed.key == PodKey("shop", "checkout-0")


# -- refusals -----------------------------------------------------------------------------------


def batch(*items: object) -> bytes:
    return encode(list(items))


# id, body, field, exact message
INVALID = [
    (
        "malformed JSON",
        b'{"pod": ',
        "",
        "found invalid JSON (unexpected end of data at line 1 column 9), expected JSON",
    ),
    (
        "not UTF-8",
        b'{"pod": "\xff"}',
        "",
        "found bytes that are not UTF-8, expected a JSON document",
    ),
    ("empty list", b"[]", "", "found a list, expected at least one heartbeat"),
    ("a string", b'"ok"', "", 'found "ok", expected an object'),
    ("null", b"null", "", "found nothing, expected an object"),
    ("batch item a number", batch(beat(), 3), "[1]", "[1]: found 3, expected an object"),
    ("batch item a list", batch([beat()]), "[0]", "[0]: found a list, expected an object"),
    (
        "namespace missing",
        encode(beat(namespace=None)),
        "namespace",
        "namespace: found nothing, expected a non-empty string",
    ),
    (
        "namespace empty",
        encode(beat(namespace="")),
        "namespace",
        'namespace: found "", expected a non-empty string',
    ),
    (
        "namespace a number",
        encode(beat(namespace=7)),
        "namespace",
        "namespace: found 7, expected a non-empty string",
    ),
    (
        "namespace too long",
        encode(beat(namespace="n" * 254)),
        "namespace",
        f'namespace: found "{"n" * 56}...", expected a Kubernetes name of at most 253 characters',
    ),
    (
        "pod missing",
        encode(beat(pod=None)),
        "pod",
        "pod: found nothing, expected a non-empty string",
    ),
    ("pod empty", encode(beat(pod="")), "pod", 'pod: found "", expected a non-empty string'),
    (
        "pod too long",
        encode(beat(pod="p" * 254)),
        "pod",
        f'pod: found "{"p" * 56}...", expected a Kubernetes name of at most 253 characters',
    ),
    (
        "pod missing in a batch",
        batch(beat(), beat(pod=None)),
        "[1].pod",
        "[1].pod: found nothing, expected a non-empty string",
    ),
    (
        "status missing",
        encode(beat(status=None)),
        "status",
        'status: found nothing, expected "ok", "degraded" or "failing"',
    ),
    (
        "status missed is never pushed",
        encode(beat(status="missed")),
        "status",
        'status: found "missed", expected "ok", "degraded" or "failing"',
    ),
    (
        "status upper-case",
        encode(beat(status="OK")),
        "status",
        'status: found "OK", expected "ok", "degraded" or "failing"',
    ),
    (
        "status an object",
        encode(beat(status={"state": "ok"})),
        "status",
        'status: found an object, expected "ok", "degraded" or "failing"',
    ),
    (
        "status a list",
        encode(beat(status=["ok"])),
        "status",
        'status: found a list, expected "ok", "degraded" or "failing"',
    ),
    (
        "status wrong in the third of a batch",
        batch(beat(), beat(), beat(status="fine")),
        "[2].status",
        '[2].status: found "fine", expected "ok", "degraded" or "failing"',
    ),
    (
        "reason too long",
        encode(beat(reason="r" * 1025)),
        "reason",
        f'reason: found "{"r" * 56}...", expected a string of at most 1024 chars',
    ),
    (
        "reason a number",
        encode(beat(reason=500)),
        "reason",
        "reason: found 500, expected a string of at most 1024 chars",
    ),
    (
        "reason null",
        with_field("reason", None),
        "reason",
        "reason: found nothing, expected a string of at most 1024 chars",
    ),
    (
        "interval zero",
        encode(beat(interval=0)),
        "interval",
        f"interval: found 0, expected {INTERVAL_EXPECTED}",
    ),
    (
        "interval negative",
        encode(beat(interval=-5)),
        "interval",
        f"interval: found -5, expected {INTERVAL_EXPECTED}",
    ),
    (
        "interval below 100ms",
        encode(beat(interval="99ms")),
        "interval",
        f'interval: found "99ms", expected {INTERVAL_EXPECTED}',
    ),
    (
        "interval over an hour",
        encode(beat(interval=7200)),
        "interval",
        f"interval: found 7200, expected {INTERVAL_EXPECTED}",
    ),
    (
        "interval duration over an hour",
        encode(beat(interval="1h1s")),
        "interval",
        f'interval: found "1h1s", expected {INTERVAL_EXPECTED}',
    ),
    (
        "interval soon",
        encode(beat(interval="soon")),
        "interval",
        f'interval: found "soon", expected {INTERVAL_EXPECTED}',
    ),
    (
        "interval empty string",
        encode(beat(interval="")),
        "interval",
        f'interval: found "", expected {INTERVAL_EXPECTED}',
    ),
    (
        "interval number as a string",
        encode(beat(interval="5")),
        "interval",
        f'interval: found "5", expected {INTERVAL_EXPECTED}',
    ),
    (
        "interval true",
        encode(beat(interval=True)),
        "interval",
        f"interval: found true, expected {INTERVAL_EXPECTED}",
    ),
    (
        "interval a list",
        encode(beat(interval=[5])),
        "interval",
        f"interval: found a list, expected {INTERVAL_EXPECTED}",
    ),
    (
        "interval in a batch",
        batch(beat(interval="5s"), beat(interval="5 seconds")),
        "[1].interval",
        f'[1].interval: found "5 seconds", expected {INTERVAL_EXPECTED}',
    ),
    (
        "interval NaN (not JSON)",
        b'{"namespace": "shop", "pod": "p", "status": "ok", "interval": NaN}',
        "",
        "found invalid JSON (unexpected character, expected a JSON value at line 1 column 63), "
        "expected JSON",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_push(body: bytes, field: str, message: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_heartbeats(body)

    assert str(caught.value) == message
    assert caught.value.field == field


def test_first_bad_field_is_named() -> None:
    body = batch(beat(), beat(pod=""), beat(status="bad"))

    with pytest.raises(PayloadInvalid) as caught:
        parse_heartbeats(body)

    assert caught.value.as_json() == {
        "error": '[1].pod: found "", expected a non-empty string',
        "field": "[1].pod",
        "expected": "a non-empty string",
    }


# -- a beat's own token (forwarded by a node relay) ---------------------------------------------


def test_a_beat_may_carry_its_own_token_which_repr_never_shows() -> None:
    (parsed,) = parse_heartbeats(encode([beat(token="pod-0-token")]))
    assert parsed.token == "pod-0-token"
    assert "pod-0-token" not in repr(parsed)
    assert parse_heartbeats(encode(beat()))[0].token is None


@pytest.mark.parametrize(
    ("token", "found"),
    [("", '"0 chars"'), ("x" * 16385, '"16385 chars"'), (42, "42"), (["t"], "a list")],
    ids=["empty", "too long", "a number", "a list"],
)
def test_a_bad_token_is_refused_without_echoing_it(token: object, found: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_heartbeats(encode([beat(), beat(token=token)]))
    assert str(caught.value) == (
        f"[1].token: found {found}, expected a bearer token of 1 to 16384 chars"
    )
