"""Every string and list a payload may carry is bounded: a 400 naming the field past the bound.

Bounds are checked on the webhook's fast path too (what Alertmanager sends);
the cases here are each one past a bound, with the one at the bound accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_webhook_payload import NOW, alert, payload

from receiver.ingest import PayloadInvalid, parse_heartbeats, parse_webhook
from receiver.ingest.heartbeats import MAX_BATCH
from receiver.ingest.payload import (
    MAX_ANNOTATION_VALUE,
    MAX_ANNOTATIONS,
    MAX_FINGERPRINT,
    MAX_LABEL_VALUE,
    MAX_LABELS,
    MAX_NAME,
    fit,
)
from receiver.ingest.webhook import MAX_ALERTS

LABELS = {"alertname": "PodErrorRatioOutlier", "namespace": "shop", "pod": "checkout-0"}


def labels(**extra: str) -> dict[str, str]:
    return {**LABELS, **extra}


def many(count: int, size: int = 1) -> dict[str, str]:
    return {f"k{i}": "v" * size for i in range(count)}


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(PayloadInvalid) as caught:
        parse_webhook(json.dumps(body).encode(), NOW)
    return caught.value.field, caught.value.expected


@pytest.mark.parametrize(
    ("over", "field", "expected"),
    [
        pytest.param(
            {"labels": labels(team="x" * (MAX_LABEL_VALUE + 1))},
            "alerts[0].labels.team",
            f"a string of at most {MAX_LABEL_VALUE} characters",
            id="label-value",
        ),
        pytest.param(
            {"labels": labels(**{"n" * (MAX_NAME + 1): "v"})},
            "alerts[0].labels",
            f"names of at most {MAX_NAME} characters",
            id="label-name",
        ),
        pytest.param(
            {"labels": {**LABELS, **many(MAX_LABELS)}},
            "alerts[0].labels",
            f"an object of at most {MAX_LABELS} entries",
            id="label-count",
        ),
        pytest.param(
            {"annotations": {"description": "d" * (MAX_ANNOTATION_VALUE + 1)}},
            "alerts[0].annotations.description",
            f"a string of at most {MAX_ANNOTATION_VALUE} characters",
            id="annotation-value",
        ),
        pytest.param(
            {"annotations": many(MAX_ANNOTATIONS + 1)},
            "alerts[0].annotations",
            f"an object of at most {MAX_ANNOTATIONS} entries",
            id="annotation-count",
        ),
        pytest.param(
            {"fingerprint": "f" * (MAX_FINGERPRINT + 1)},
            "alerts[0].fingerprint",
            f"at most {MAX_FINGERPRINT} characters",
            id="fingerprint",
        ),
    ],
)
def test_an_alert_past_a_bound_is_refused_naming_the_field(
    over: dict[str, Any], field: str, expected: str
) -> None:
    assert refusal(payload(alert(**over))) == (field, expected)


@pytest.mark.parametrize(
    "at",
    [
        pytest.param({"labels": labels(team="x" * MAX_LABEL_VALUE)}, id="label-value"),
        pytest.param({"labels": labels(**{"n" * MAX_NAME: "v"})}, id="label-name"),
        pytest.param({"labels": {**LABELS, **many(MAX_LABELS - len(LABELS))}}, id="label-count"),
        pytest.param(
            {"annotations": many(MAX_ANNOTATIONS, MAX_ANNOTATION_VALUE)}, id="annotations"
        ),
        pytest.param({"fingerprint": "f" * MAX_FINGERPRINT}, id="fingerprint"),
    ],
)
def test_an_alert_at_every_bound_is_accepted(at: dict[str, Any]) -> None:
    (signal,) = parse_webhook(json.dumps(payload(alert(**at))).encode(), NOW).signals
    assert signal.labels["namespace"] == "shop"


def test_the_second_alert_past_a_bound_is_named_after_a_first_that_fits() -> None:
    """The fast path reads the first; the second falls to the checks that name the field."""
    body = payload(alert(labels=LABELS), alert(labels=labels(team="x" * (MAX_LABEL_VALUE + 1))))
    assert refusal(body)[0] == "alerts[1].labels.team"


def test_fit_judges_each_string_when_they_are_long_only_together() -> None:
    """fit() first measures all strings joined: past the bound together is not past it."""
    near = [{f"n{i}{'x' * (MAX_NAME - 10)}": "v" * (MAX_LABEL_VALUE - 1)} for i in range(50)]
    assert fit(near, value=MAX_LABEL_VALUE)
    one_over = [*near, {"k": "v" * (MAX_LABEL_VALUE + 1)}]
    assert not fit(one_over, value=MAX_LABEL_VALUE)
    name_over = [*near, {"n" * (MAX_NAME + 1): "v"}]
    assert not fit(name_over, value=MAX_LABEL_VALUE)
    assert fit([], value=MAX_LABEL_VALUE)


def test_more_alerts_than_the_bound_are_refused() -> None:
    body = payload(*[alert(labels=LABELS)] * (MAX_ALERTS + 1))
    with pytest.raises(PayloadInvalid) as caught:
        parse_webhook(json.dumps(body).encode(), NOW)
    assert str(caught.value) == (
        f'alerts: found "{MAX_ALERTS + 1} alerts", expected at most {MAX_ALERTS} alerts '
        "(set max_alerts in the webhook_configs entry)"
    )


def beat(**extra: object) -> dict[str, object]:
    return {"namespace": "shop", "pod": "checkout-0", "status": "ok", **extra}


def test_a_batch_past_the_bound_is_refused() -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_heartbeats(json.dumps([beat()] * (MAX_BATCH + 1)).encode())
    assert str(caught.value) == f'found "{MAX_BATCH + 1} heartbeats", expected at most 1000 a batch'
    assert len(parse_heartbeats(json.dumps([beat()] * MAX_BATCH).encode())) == MAX_BATCH


@pytest.mark.parametrize(
    "interval",
    [
        pytest.param("1" * 5000 + "s", id="5000-digit-duration"),
        pytest.param("9" * 30 + "h", id="hours-past-any-float"),
        pytest.param("1e400s", id="exponent"),
        pytest.param(10**18, id="huge-integer"),
        pytest.param(1e300, id="huge-float"),
        pytest.param(-1, id="negative"),
    ],
)
def test_an_interval_past_what_can_be_represented_is_a_400_naming_it(interval: object) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_heartbeats(json.dumps(beat(interval=interval)).encode())
    assert caught.value.field == "interval"
    assert caught.value.expected.endswith("between 100ms and 1h")
