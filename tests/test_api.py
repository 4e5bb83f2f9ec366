"""The HTTP API's answers, status code by status code, through Starlette's TestClient."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from service_builders import (
    BEAT_TOKEN,
    TOKEN,
    Harness,
    alert,
    auth,
    body,
    harness,
    pods,
    webhook,
)


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def state(h: Harness, pod: str) -> str:
    return str(next(p for p in h.cluster.snapshot().pods.values() if p.name == pod).lifecycle.state)


def traffic(h: Harness, pod: str) -> str:
    found = next(p for p in h.cluster.snapshot().pods.values() if p.name == pod)
    return found.labels["remediation/traffic"]


# -- alerts: 200 ------------------------------------------------------------


def test_a_firing_alert_is_decided_applied_and_reported(h: Harness) -> None:
    pod = pods(h)[0]
    response = h.client().post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "ok"
    assert answer["received"] == 1
    (decision,) = answer["decisions"]
    assert decision["signal"]["target"] == f"shop/{pod}"
    assert [(a["action"], a["outcome"]) for a in decision["actions"]] == [("drain", "applied")]
    assert state(h, pod) == "drained"
    assert traffic(h, pod) == "off"
    labels = {"action": "drain", "rule": "error-outlier", "outcome": "applied"}
    assert h.metric("remediation_actions_total", labels) == 1


def test_redelivery_of_the_same_occurrence_changes_nothing(h: Harness) -> None:
    pod = pods(h)[0]
    client = h.client()
    payload = body(webhook(alert(pod)))
    client.post("/api/v1/alerts", content=payload, headers=auth())
    h.clock.now += 30
    again = client.post("/api/v1/alerts", content=payload, headers=auth())
    assert again.status_code == 200
    (decision,) = again.json()["decisions"]
    assert decision["actions"] == []
    assert [b["reason"] for b in decision["blocked"]] == ["duplicate"]
    assert state(h, pod) == "drained"
    assert (
        h.metric(
            "remediation_actions_total",
            {"action": "drain", "rule": "error-outlier", "outcome": "applied"},
        )
        == 1
    )


def test_a_resolved_alert_is_recorded_and_acts_on_nothing(h: Harness) -> None:
    pod = pods(h)[0]
    response = h.client().post(
        "/api/v1/alerts", content=body(webhook(alert(pod, status="resolved"))), headers=auth()
    )
    assert response.status_code == 200
    (decision,) = response.json()["decisions"]
    assert decision["actions"] == []
    assert [b["reason"] for b in decision["blocked"]] == ["resolved"]
    assert state(h, pod) == "serving"
    labels = {"source": "alertmanager", "name": "PodErrorRatioOutlier", "status": "resolved"}
    assert h.metric("remediation_signals_received_total", labels) == 1


def test_unknown_fields_are_ignored_and_truncated_alerts_accepted(h: Harness) -> None:
    pod = pods(h)[0]
    payload = webhook(
        alert(pod, extra_label="x") | {"somethingNew": 1}, truncatedAlerts=3, future={"a": 1}
    )
    response = h.client().post("/api/v1/alerts", content=body(payload), headers=auth())
    assert response.status_code == 200
    assert response.json()["truncatedAlerts"] == 3


def test_every_alert_of_a_group_gets_its_own_decision(h: Harness) -> None:
    names = pods(h)
    payload = webhook(*(alert(p) for p in names[:2]), alert("no-such-pod"))
    response = h.client().post("/api/v1/alerts", content=body(payload), headers=auth())
    decisions = response.json()["decisions"]
    outcomes = [
        d["actions"][0]["action"] if d["actions"] else d["blocked"][0]["reason"] for d in decisions
    ]
    assert outcomes == ["drain", "drain", "unknown_target"]


def test_a_group_with_most_of_the_fleet_sick_is_systemic(h: Harness) -> None:
    # Seen as one batch, 3 of 4 signalling is more than maxUnhealthy 50%, so
    # not even the first pod is drained: the supervisor escalates and freezes.
    payload = webhook(*(alert(p) for p in pods(h)[:3]))
    answer = h.client().post("/api/v1/alerts", content=body(payload), headers=auth()).json()
    decisions = answer["decisions"]
    assert [d["blocked"][0]["reason"] for d in decisions] == ["systemic", "frozen", "frozen"]
    assert [e["cause"] for e in decisions[0]["escalations"]] == ["systemic"]
    assert (
        h.metric("remediation_escalations_total", {"supervisor": "checkout", "cause": "systemic"})
        == 1
    )


def test_an_empty_alert_list_is_fine(h: Harness) -> None:
    response = h.client().post("/api/v1/alerts", content=body(webhook()), headers=auth())
    assert response.status_code == 200
    assert response.json()["decisions"] == []


# -- alerts: 400 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        pytest.param(
            b"{not json",
            "",
            "found invalid JSON (unexpected character, expected a string key"
            " at line 1 column 2), expected JSON",
            id="malformed-json",
        ),
        pytest.param(
            body({**webhook(), "version": "3"}),
            "version",
            'version: found "3", expected "4" (the webhook payload Alertmanager 0.16+ sends)',
            id="wrong-version",
        ),
        pytest.param(
            body({k: v for k, v in webhook().items() if k != "version"}),
            "version",
            'version: found nothing, expected "4" (the webhook payload Alertmanager 0.16+ sends)',
            id="no-version",
        ),
        pytest.param(
            body(webhook({**alert("p"), "labels": None} | {})),
            "alerts[0].labels",
            "alerts[0].labels: found nothing, expected an object",
            id="null-labels",
        ),
        pytest.param(
            body(webhook({k: v for k, v in alert("p").items() if k != "labels"})),
            "alerts[0].labels",
            "alerts[0].labels: found nothing, expected the alert's labels (an object)",
            id="missing-labels",
        ),
        pytest.param(
            body(webhook(alert("p"), {**alert("q"), "status": "pending"})),
            "alerts[1].status",
            'alerts[1].status: found "pending", expected "firing" or "resolved"',
            id="bad-status",
        ),
        pytest.param(
            body(webhook({**alert("p"), "startsAt": "yesterday"})),
            "alerts[0].startsAt",
            'alerts[0].startsAt: found "yesterday", '
            "expected an RFC 3339 time like 2026-01-01T12:00:00Z",
            id="bad-time",
        ),
        pytest.param(body([1, 2]), "", "found a list, expected an object", id="not-an-object"),
    ],
)
def test_a_payload_that_can_never_succeed_is_refused_naming_the_field(
    h: Harness, payload: bytes, field: str, message: str
) -> None:
    response = h.client().post("/api/v1/alerts", content=payload, headers=auth())
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["error"] == message
    assert (
        h.metric("remediation_requests_rejected_total", {"endpoint": "alerts", "code": "400"}) == 1
    )


def test_a_bad_alert_anywhere_means_nothing_of_the_payload_is_applied(h: Harness) -> None:
    good = alert(pods(h)[0])
    bad = {**alert(pods(h)[1]), "status": "pending"}
    response = h.client().post("/api/v1/alerts", content=body(webhook(good, bad)), headers=auth())
    assert response.status_code == 400
    assert all(p.lifecycle.state == "serving" for p in h.cluster.snapshot().pods.values())


# -- 401, 413 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer wrong-token-wrong-token"}, id="wrong-token"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="wrong-scheme"),
        pytest.param(auth(BEAT_TOKEN), id="heartbeat-token-on-webhook"),
    ],
)
def test_without_valid_credentials_the_answer_is_401(h: Harness, headers: dict[str, str]) -> None:
    response = h.client().post(
        "/api/v1/alerts", content=body(webhook(alert(pods(h)[0]))), headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text
    assert all(p.lifecycle.state == "serving" for p in h.cluster.snapshot().pods.values())


def test_admin_endpoints_need_the_token_too(h: Harness) -> None:
    client = h.client()
    assert client.post("/-/reload").status_code == 401
    assert client.post(f"/api/v1/pods/shop/{pods(h)[0]}/resume").status_code == 401
    assert client.post("/api/v1/supervisors/checkout/reset").status_code == 401


def test_a_body_over_the_limit_is_refused_with_413(tmp_path: Path) -> None:
    small = harness(tmp_path, max_body=2048)
    names = pods(small)
    payload = body(webhook(*(alert(names[0], n=str(i)) for i in range(20))))
    assert len(payload) > 2048
    response = small.client().post("/api/v1/alerts", content=payload, headers=auth())
    assert response.status_code == 413
    assert response.json()["error"] == "request body over the limit of 2048 bytes"


def test_the_limit_holds_for_chunked_bodies_without_a_length(tmp_path: Path) -> None:
    small = harness(tmp_path, max_body=1024)

    def chunks() -> Any:
        for _ in range(10):
            yield b" " * 200

    response = small.client().post("/api/v1/alerts", content=chunks(), headers=auth())
    assert response.status_code == 413


# -- 503 --------------------------------------------------------------------


def test_a_failing_cluster_gets_503_and_the_redelivery_is_applied(h: Harness) -> None:
    pod = pods(h)[0]
    client = h.client()
    payload = body(webhook(alert(pod)))
    h.cluster.outage = True
    response = client.post("/api/v1/alerts", content=payload, headers=auth())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "cluster unavailable" in response.json()["error"]
    assert state(h, pod) == "serving"
    h.cluster.outage = False
    h.clock.now += 10
    again = client.post("/api/v1/alerts", content=payload, headers=auth())
    assert again.status_code == 200
    assert state(h, pod) == "drained"
    assert (
        h.metric("remediation_requests_rejected_total", {"endpoint": "alerts", "code": "503"}) == 1
    )


# -- heartbeats -------------------------------------------------------------


def beat(pod: str, status: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"namespace": "shop", "pod": pod, "status": status, **extra}


def test_heartbeats_one_or_a_batch(h: Harness) -> None:
    names = pods(h)
    client = h.client()
    one = client.post("/api/v1/heartbeats", content=body(beat(names[0])), headers=auth(BEAT_TOKEN))
    assert one.status_code == 200
    assert one.json() == {"results": [{"pod": f"shop/{names[0]}", "result": "accepted"}]}
    batch = [beat(n, interval="5s") for n in names] + [beat("ghost")]
    many = client.post("/api/v1/heartbeats", content=body(batch), headers=auth(BEAT_TOKEN))
    assert [r["result"] for r in many.json()["results"]] == ["accepted"] * len(names) + [
        "unknown_pod"
    ]
    assert len(h.service.pipeline.heartbeats_due.tracker) == len(names)


def test_a_degraded_heartbeat_acts_at_once(h: Harness) -> None:
    pod = pods(h)[0]
    response = h.client().post(
        "/api/v1/heartbeats",
        content=body(beat(pod, "degraded", reason="slow")),
        headers=auth(BEAT_TOKEN),
    )
    assert response.status_code == 200
    (decision,) = response.json()["decisions"]
    assert decision["signal"]["name"] == "HeartbeatDegraded"
    assert [a["action"] for a in decision["actions"]] == ["drain"]
    assert state(h, pod) == "drained"
    assert h.metric("remediation_signal_to_action_seconds_count") == 1


def test_heartbeats_need_the_heartbeat_token(h: Harness) -> None:
    response = h.client().post(
        "/api/v1/heartbeats", content=body(beat(pods(h)[0])), headers=auth(TOKEN)
    )
    assert response.status_code == 401


def test_a_bad_heartbeat_names_its_field(h: Harness) -> None:
    batch = [beat(pods(h)[0]), beat(pods(h)[1], "sick")]
    response = h.client().post("/api/v1/heartbeats", content=body(batch), headers=auth(BEAT_TOKEN))
    assert response.status_code == 400
    assert response.json()["field"] == "[1].status"
    assert len(h.service.pipeline.heartbeats_due.tracker) == 0


def test_heartbeats_during_an_outage_get_503_and_the_condition_is_announced_again(
    h: Harness,
) -> None:
    pod = pods(h)[0]
    client = h.client()
    h.cluster.outage = True
    down = client.post(
        "/api/v1/heartbeats", content=body(beat(pod, "degraded")), headers=auth(BEAT_TOKEN)
    )
    assert down.status_code == 503
    h.cluster.outage = False
    h.clock.now += 5
    up = client.post(
        "/api/v1/heartbeats", content=body(beat(pod, "degraded")), headers=auth(BEAT_TOKEN)
    )
    assert up.status_code == 200
    assert state(h, pod) == "drained"


# -- reading and admin ------------------------------------------------------


def test_polling_decisions_with_since_loses_nothing_in_a_storm(h: Harness) -> None:
    client = h.client()
    for i, pod in enumerate(pods(h) * 3):  # 12 decisions between two polls
        starts = f"2026-01-01T00:{i:02d}:00Z"
        client.post(
            "/api/v1/alerts", content=body(webhook(alert(pod, starts=starts))), headers=auth()
        )
    seen: list[int] = []
    cursor, more = 0, True
    while more:
        page = client.get(f"/api/v1/decisions?since={cursor}&limit=5").json()
        seen.extend(d["id"] for d in page["decisions"])
        cursor, more = page["next"], page["more"]
    assert seen == list(range(1, 13))  # the oldest first, none skipped
    assert client.get(f"/api/v1/decisions?since={cursor}").json() == {
        "decisions": [],
        "next": cursor,
        "more": False,
    }


def test_status_decisions_page_metrics_and_probes(h: Harness) -> None:
    pod = pods(h)[0]
    client = h.client()
    client.post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    status = client.get("/api/v1/status").json()
    assert status["fleets"][0]["fleet"] == "shop/deployment/checkout"
    assert status["fleets"][0]["states"] == {"drained": 1, "serving": 3}
    assert status["pods"][0]["pod"] == f"shop/{pod}"
    assert status["supervisors"][0]["intensity"] == {"used": 1, "max": 20, "period": "10m"}
    decisions = client.get("/api/v1/decisions?since=0").json()["decisions"]
    assert [d["id"] for d in decisions] == [1]
    assert client.get("/api/v1/decisions?since=1").json()["decisions"] == []
    assert client.get("/api/v1/decisions?since=x").status_code == 400
    page = client.get("/")
    assert page.status_code == 200
    assert f"shop/{pod}" in page.text
    assert "step 1 of rule error-outlier" in page.text
    metrics = client.get("/metrics").text
    assert (
        'remediation_pods{namespace="shop",state="drained",workload="deployment/checkout"} 1.0'
        in metrics
    )
    assert "remediation_runbook_last_reload_successful 1.0" in metrics
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_resume_and_reset(h: Harness) -> None:
    pod = pods(h)[0]
    client = h.client()
    client.post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    resumed = client.post(f"/api/v1/pods/shop/{pod}/resume", headers=auth())
    assert resumed.status_code == 200
    assert state(h, pod) == "serving"
    assert traffic(h, pod) == "on"
    assert client.post("/api/v1/pods/shop/nope/resume", headers=auth()).status_code == 404
    assert client.post("/api/v1/supervisors/checkout/reset", headers=auth()).status_code == 200
    assert client.post("/api/v1/supervisors/nope/reset", headers=auth()).status_code == 404


def test_a_human_resume_and_reset_are_in_the_decision_log_and_the_log(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    pod = pods(h)[0]
    client = h.client()
    client.post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    caplog.set_level(logging.INFO, logger="receiver.decisions")
    client.post(f"/api/v1/pods/shop/{pod}/resume", headers=auth())
    client.post("/api/v1/supervisors/checkout/reset", headers=auth())

    page = client.get("/api/v1/decisions?since=1").json()["decisions"]
    assert [d["operator"] for d in page] == [
        f"resume pod shop/{pod} (was drained)",
        "reset supervisor checkout and its subtree",
    ]
    logged = [r.decision["operator"] for r in caplog.records]  # type: ignore[attr-defined]
    assert logged == [d["operator"] for d in page]


def test_reload_keeps_the_old_runbook_when_the_new_one_is_invalid(h: Harness) -> None:
    client = h.client()
    h.runbook_path.write_text(
        "apiVersion: remediation/v1\nkind: Runbook\nrules: 3\n", encoding="utf-8"
    )
    failed = client.post("/-/reload", headers=auth())
    assert failed.status_code == 400
    assert failed.json()["status"] == "error"
    assert any("rules" in p for p in failed.json()["problems"])
    assert h.metric("remediation_runbook_last_reload_successful") == 0
    assert [r.name for r in h.service.pipeline.runbook.rules] == [
        "error-outlier",
        "degraded",
        "silent",
    ]
    h.runbook_path.write_text(
        h.runbook_path.read_text().replace("rules: 3", "settings: {namespaces: [shop]}"),
        encoding="utf-8",
    )
    ok = client.post("/-/reload", headers=auth())
    assert ok.status_code == 200
    assert h.metric("remediation_runbook_last_reload_successful") == 1
    assert h.service.pipeline.runbook.rules == ()
