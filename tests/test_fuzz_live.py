"""Fuzzing a live `receiver serve`: schemathesis from openapi.json, hypothesis on both POSTs.

Whatever is sent, the answer is never a 500, comes within a timeout (no
hang), and the server's log holds no traceback and nothing at error. The
number of examples is bounded so that this runs in `make test`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from live_server import Live, live_server
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_builders import BEAT_TOKEN, TOKEN

from receiver.service.openapi import document

EXAMPLES = 40
TIMEOUT = 10.0  # seconds: an answer later than this is a hang
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("fuzz"), "--max-body", "65536") as server:
        yield server
        server.stop()
        assert server.errors() == []


@pytest.fixture(scope="module")
def api(live: Live) -> Any:
    """The document as the live server serves it, its operations for schemathesis."""
    return schemathesis.openapi.from_url(f"{live.base}/openapi.json")


def token_for(path: str) -> str:
    return BEAT_TOKEN if path == "/api/v1/heartbeats" else TOKEN


# One test per documented operation (schemathesis' lazy pytest fixture does not work on
# pytest 9.2, so the cases come from its Python API: an operation's hypothesis strategy).
OPERATIONS = [
    pytest.param(path, method, id=operation["operationId"])
    for path, item in json.loads(document())["paths"].items()
    for method, operation in item.items()
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_the_api_as_documented(api: Any, path: str, method: str) -> None:
    @given(case=api[path][method].as_strategy())
    @FUZZ
    def call(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token_for(path)}"},
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
            timeout=TIMEOUT,
        )

    call()


# Hypothesis on the POST bodies: JSON of any shape, and near-valid payloads with hostile values.

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
hostile_text = st.text(max_size=40) | st.sampled_from(
    ["", "x" * 5000, "1" * 5000 + "s", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", "\x00"]
)
hostile = hostile_text | st.integers() | st.floats(allow_nan=False) | st.none() | st.booleans()

alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]) | hostile,
        "labels": st.dictionaries(hostile_text, hostile_text, max_size=5)
        | st.just({"alertname": "PodErrorRatioOutlier", "namespace": "shop", "pod": "checkout-1"}),
        "startsAt": st.just("2026-01-01T00:00:00Z") | hostile,
    },
    optional={"endsAt": hostile, "annotations": json_values, "fingerprint": hostile},
)
webhooks = st.fixed_dictionaries(
    {"version": st.just("4") | hostile, "alerts": st.lists(alerts, max_size=3) | hostile},
    optional={"truncatedAlerts": hostile, "groupKey": hostile},
)
beats = st.fixed_dictionaries(
    {
        "namespace": st.just("shop") | hostile_text,
        "pod": st.sampled_from(["checkout-0", "checkout-1"]) | hostile_text,
        "status": st.sampled_from(["ok", "degraded", "failing"]) | hostile,
    },
    optional={"interval": hostile, "reason": hostile},
)


def post(live: Live, path: str, body: bytes) -> requests.Response:
    headers = {"Authorization": f"Bearer {token_for(path)}", "Content-Type": "application/json"}
    return requests.post(f"{live.base}{path}", data=body, headers=headers, timeout=TIMEOUT)


def assert_answered(answer: requests.Response) -> None:
    assert answer.status_code < 500 or answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/json"
    if answer.status_code >= 400:
        assert answer.json()["error"]


@given(body=webhooks | json_values)
@example(body={"version": "4", "alerts": [{"status": "firing", "labels": {}, "startsAt": "x"}]})
@FUZZ
def test_the_webhook_takes_anything(live: Live, body: object) -> None:
    assert_answered(post(live, "/api/v1/alerts", json.dumps(body).encode()))


@given(body=beats | st.lists(beats, min_size=1, max_size=3) | json_values)
@example(
    body={"namespace": "shop", "pod": "checkout-0", "status": "ok", "interval": "1" * 5000 + "s"}
)
@example(body={"namespace": "shop", "pod": "checkout-0", "status": "ok", "interval": 10**18})
@FUZZ
def test_heartbeats_take_anything(live: Live, body: object) -> None:
    assert_answered(post(live, "/api/v1/heartbeats", json.dumps(body).encode()))


@given(body=st.binary(max_size=200))
@FUZZ
def test_bytes_that_are_not_json_get_a_json_400(live: Live, body: bytes) -> None:
    for path in ("/api/v1/alerts", "/api/v1/heartbeats"):
        assert_answered(post(live, path, body))
