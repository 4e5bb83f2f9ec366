"""The holds API: POST, GET and DELETE /api/v1/holds, their refusals, and a hold expiring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from service_builders import T0, Harness, alert, auth, body, harness, pods, webhook


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


GOOD = {"pod": "shop/checkout-0", "for": "2h", "reason": "heap dump"}


@pytest.mark.parametrize(
    ("request_body", "field", "error"),
    [
        pytest.param(
            {"for": "2h", "reason": "x"},
            "pod",
            'pod: found "none", expected exactly one of pod, workload, supervisor',
            id="no target",
        ),
        pytest.param(
            {**GOOD, "supervisor": "checkout"},
            "pod",
            'pod: found "pod, supervisor", expected exactly one of pod, workload, supervisor',
            id="two targets",
        ),
        pytest.param(
            {**GOOD, "pod": "checkout-0"},
            "pod",
            'pod: found "checkout-0", expected NAMESPACE/NAME',
            id="pod without namespace",
        ),
        pytest.param(
            {"workload": "shop/checkout", "for": "1h", "reason": "x"},
            "workload",
            'workload: found "shop/checkout", expected NAMESPACE/KIND/NAME, e.g. '
            "shop/Deployment/web",
            id="workload without kind",
        ),
        pytest.param(
            {"supervisor": "nope", "for": "1h", "reason": "x"},
            "supervisor",
            'supervisor: found "nope", expected a supervisor of the runbook (checkout)',
            id="unknown supervisor",
        ),
        pytest.param(
            {"pod": "shop/checkout-0", "reason": "x"},
            "for",
            'for: found "neither", expected one of for, until',
            id="no end",
        ),
        pytest.param(
            {**GOOD, "for": "soon"},
            "for",
            'for: found "soon", expected a duration like 30s, 5m or 1h30m (units d, h, m, s, '
            "ms), more than 0",
            id="not a duration",
        ),
        pytest.param(
            {**GOOD, "for": "8d"},
            "for",
            'for: found "8d", expected at most 7d ahead (holds expire; set a new one then)',
            id="too long",
        ),
        pytest.param(
            {"pod": "shop/checkout-0", "until": "2025-01-01T00:00:00Z", "reason": "x"},
            "until",
            'until: found "2025-01-01T00:00:00Z", expected a time in the future',
            id="until in the past",
        ),
        pytest.param(
            {"pod": "shop/checkout-0", "until": "tomorrow", "reason": "x"},
            "until",
            'until: found "tomorrow", expected an RFC 3339 time with a zone, e.g. '
            "2026-12-04T08:00:00Z",
            id="until not a time",
        ),
        pytest.param(
            {**GOOD, "reason": " "},
            "reason",
            'reason: found " ", expected a non-empty string',
            id="blank reason",
        ),
        pytest.param(
            {**GOOD, "silence": True},
            "silence",
            'silence: found "an unknown field", expected only author, for, pod, reason, '
            "supervisor, until, workload",
            id="unknown field",
        ),
    ],
)
def test_a_bad_hold_request_is_refused_naming_the_field(
    h: Harness, request_body: dict[str, Any], field: str, error: str
) -> None:
    answer = h.client().post("/api/v1/holds", content=body(request_body), headers=auth())
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert answer.json()["error"] == error
    assert h.cluster.snapshot().holds == ()


def test_setting_and_lifting_need_the_admin_token(h: Harness) -> None:
    client = h.client()
    assert client.post("/api/v1/holds", content=body(GOOD)).status_code == 401
    assert client.delete("/api/v1/holds/abc").status_code == 401
    assert client.delete("/api/v1/holds/abc", headers=auth()).status_code == 404
    assert h.cluster.snapshot().holds == ()


def test_a_hold_is_listed_blocks_recorded_and_expires(h: Harness) -> None:
    client = h.client()
    pod = pods(h)[0]
    answer = client.post(
        "/api/v1/holds",
        content=body({"pod": f"shop/{pod}", "for": "1h", "reason": "heap dump", "author": "al"}),
        headers=auth(),
    )
    assert answer.status_code == 200
    hold = answer.json()["hold"]
    assert {k: hold[k] for k in ("kind", "target", "author", "left", "expires")} == {
        "kind": "pod",
        "target": f"shop/{pod}",
        "author": "al via token 1",
        "left": "1h",
        "expires": "2026-01-01T01:00:00.000Z",
    }
    decision = answer.json()["decision"]
    assert decision["by"] == "token 1"
    assert decision["asked"] == {"action": "hold", "target": f"pod shop/{pod}"}
    assert client.get("/api/v1/holds").json()["holds"] == [hold]
    assert h.metric("remediation_holds", {"kind": "pod"}) == 1
    assert h.registry.get_sample_value("remediation_holds", {"kind": "supervisor"}) == 0
    assert client.get("/api/v1/status").json()["holds"] == [hold]

    held = {"reason": "held"}
    assert h.registry.get_sample_value("remediation_blocked_decisions_total", held) == 0  # pre-made
    blocked = client.post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    assert [b["reason"] for b in blocked.json()["decisions"][0]["blocked"]] == ["held"]
    assert h.metric("remediation_blocked_decisions_total", {"reason": "held"}) == 1

    h.clock.now = T0 + 3600  # expired: ignored, then pruned by the tick
    assert client.get("/api/v1/holds").json()["holds"] == []
    assert len(h.cluster.snapshot().holds) == 1
    h.clock.now += 1
    asyncio.run(h.service.pipeline.tick())
    assert h.cluster.snapshot().holds == ()


def test_lifting_a_hold_is_recorded_with_who(h: Harness) -> None:
    client = h.client()
    hold_id = client.post("/api/v1/holds", content=body(GOOD), headers=auth()).json()["hold"]["id"]
    lifted = client.delete(f"/api/v1/holds/{hold_id}", headers=auth())
    assert lifted.status_code == 200
    assert lifted.json()["decision"]["asked"] == {"action": "unhold", "target": hold_id}
    assert lifted.json()["decision"]["operator"] == (
        f"lift hold {hold_id} on pod shop/checkout-0 (set by token 1: heap dump)"
    )
    assert client.get("/api/v1/holds").json() == {"holds": []}


def test_holds_past_their_share_of_the_state_object_answer_409(h: Harness) -> None:
    """Long reasons in characters JSON stores escaped (12 bytes each) fill the holds'
    256 KiB long before 500 holds; the next is refused, naming the limit, and not held."""
    client = h.client()
    long = {**GOOD, "reason": "\U0001f680" * 1024}
    answers = [
        client.post("/api/v1/holds", json={**long, "pod": f"shop/p-{n}"}, headers=auth())
        for n in range(25)
    ]
    codes = [a.status_code for a in answers]
    assert codes[0] == 200
    assert codes[-1] == 409
    refused = answers[codes.index(409)].json()["error"]
    assert "the holds in force would take" in refused
    assert "more than its 262144 for holds" in refused
    held = client.get("/api/v1/holds").json()["holds"]
    assert len(held) == codes.count(200)
