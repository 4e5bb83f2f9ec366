"""Notifiers against a real HTTP server on 127.0.0.1: the exact request each kind sends,
a failed send as outcome `failed` in the decision log and the metrics, `receiver notify --test`."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from builders import T0, runbook
from polling import free_port
from prometheus_client import CollectorRegistry
from service_builders import RUNBOOK, harness

from receiver.act.messages import NotificationError, Outgoing, pagerduty_event
from receiver.act.notify import Notifications, context_for, http_post
from receiver.decide import Action, ActionKind, Escalation, Plan
from receiver.ingest import parse_webhook
from receiver.metrics import Metrics
from receiver.model import PodKey, Reason, Signal, Source, Status, Workload
from receiver.report.decisions import DecisionLog
from receiver.report.record import Recorder
from receiver.runbook import Runbook
from receiver.runbook.types import Notifier, NotifierKind, Secret

ROOT = Path(__file__).parent.parent
FROZEN_UNTIL = T0 + 1800
LINK = "https://receiver.example.com/supervisors/shop"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Peer:
    """A local HTTP server that keeps every POST and answers with `status`."""

    url: str
    status: int = 200
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def peer() -> Iterator[Peer]:
    server: ThreadingHTTPServer
    state = Peer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            answer = b"" if state.status < 300 else b"no such routing key"
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def escalation_plan(notifier: str = "oncall") -> Plan:
    """The shop supervisor escalating on shop/web-1, frozen 30 minutes."""
    signal = Signal(
        source=Source.ALERTMANAGER,
        name="PodErrorRatioOutlier",
        status=Status.FIRING,
        labels={"namespace": "shop", "pod": "web-1", "severity": "page"},
        fingerprint="f1",
        starts_at=T0,
        received_at=T0,
    )
    action = Action(
        kind=ActionKind.NOTIFY,
        notifier=notifier,
        pod=PodKey("shop", "web-1"),
        supervisor="shop",
        detail="supervisor shop escalated (intensity) on shop/web-1",
    )
    escalation = Escalation(
        supervisor="shop", cause=Reason.INTENSITY, origin="shop/web-1", frozen_until=FROZEN_UNTIL
    )
    return Plan(at=T0, signal=signal, actions=(action,), escalations=(escalation,))


def notifiers(body: str, *, settings: str = "") -> Runbook:
    return runbook(f"notifiers:\n{body}", settings=settings)


def send(rb: Runbook, plan: Plan) -> tuple[DecisionLog, Metrics]:
    """Send the plan's notify actions as the service does; the log and metrics after."""
    metrics = Metrics(CollectorRegistry())
    metrics.follow(rb)
    decisions = DecisionLog()
    recorder = Recorder(metrics, decisions)

    async def go() -> None:
        sending = Notifications(
            rb.notifiers,
            metrics,
            failed=recorder.notification_failed,
            external_url=rb.settings.external_url,
        )
        for action in plan.actions:
            sending.send(action, plan)
        await sending.drain()

    asyncio.run(go())
    return decisions, metrics


def notified(metrics: Metrics, notifier: str, outcome: str) -> float | None:
    labels = {"notifier": notifier, "outcome": outcome}
    return metrics.registry.get_sample_value("remediation_notifications_total", labels)


# -- each kind's request ------------------------------------------------------------


def test_slack_posts_the_message_as_text_to_the_url_read_from_a_file(
    peer: Peer, tmp_path: Path
) -> None:
    (tmp_path / "url").write_text(peer.url + "/services/T0/B0/secret\n")
    rb = notifiers(
        f"""
  oncall:
    slack: {{urlFile: {tmp_path / "url"}}}
    message: "{{{{ supervisor }}}} escalated ({{{{ cause }}}}) on {{{{ origin }}}}"
"""
    )
    _, metrics = send(rb, escalation_plan())
    [got] = peer.received
    assert got.path == "/services/T0/B0/secret"
    assert got.headers["Content-Type"] == "application/json"
    assert got.json() == {"text": "shop escalated (intensity) on shop/web-1"}
    assert notified(metrics, "oncall", "sent") == 1


def test_slack_blocks_are_sent_beside_the_text(peer: Peer) -> None:
    rb = notifiers(
        f"""
  oncall:
    slack:
      url: "{peer.url}/s"
      blocks: >-
        [{{"type": "section",
          "text": {{"type": "mrkdwn", "text": {{{{ detail|tojson }}}}}}}}]
"""
    )
    send(rb, escalation_plan())
    [got] = peer.received
    detail = "supervisor shop escalated (intensity) on shop/web-1"
    assert got.json() == {
        "text": detail,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": detail}}],
    }


def test_slack_blocks_that_render_no_json_list_fail_the_send(peer: Peer) -> None:
    rb = notifiers(f'  oncall: {{slack: {{url: "{peer.url}/s", blocks: "{{{{ detail }}}}"}}}}\n')
    decisions, _ = send(rb, escalation_plan())
    assert peer.received == []
    [failed] = failed_entries(decisions)
    assert "blocks template rendered no JSON" in str(failed["detail"])


def test_pagerduty_triggers_an_event_grouped_by_supervisor(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PD_ROUTING_KEY", "R0UT1NG")
    rb = notifiers(
        f"""
  oncall:
    pagerduty: {{routingKeyEnv: PD_ROUTING_KEY, url: "{peer.url}/v2/enqueue"}}
    message: "{{{{ supervisor }}}} escalated on {{{{ origin }}}}"
""",
        settings="externalURL: https://receiver.example.com/",
    )
    send(rb, escalation_plan())
    [got] = peer.received
    assert got.path == "/v2/enqueue"
    event = got.json()
    assert isinstance(event, dict)
    details = event["payload"].pop("custom_details")
    assert event == {
        "routing_key": "R0UT1NG",
        "event_action": "trigger",
        "dedup_key": "remediation-receiver/supervisor/shop",
        "payload": {
            "summary": "shop escalated on shop/web-1",
            "source": "shop/web-1",
            "severity": "critical",
            "timestamp": "2026-01-01T00:00:00Z",
            "group": "shop",
        },
        "client": "remediation receiver",
        "client_url": "https://receiver.example.com/supervisors/shop",
        "links": [
            {
                "href": "https://receiver.example.com/supervisors/shop",
                "text": "remediation receiver",
            }
        ],
    }
    assert details["namespace"] == "shop"
    assert details["frozen_until"] == "2026-01-01T00:30:00Z"


def test_pagerduty_dedup_key_of_a_rule_step_names_the_rule_and_the_pod() -> None:
    action = Action(kind=ActionKind.NOTIFY, notifier="p", pod=PodKey("shop", "web-1"), rule="live")
    context = context_for(action, Plan(at=T0))
    event = pagerduty_event("k", "m", context, T0, None)
    assert event["dedup_key"] == "remediation-receiver/rule/live/shop/web-1"
    assert event["payload"]["severity"] == "warning"


def test_a_webhook_sends_its_templated_body_and_headers(peer: Peer) -> None:
    rb = notifiers(
        f"""
  hook:
    webhook:
      url: "{peer.url}/hooks/remediation"
      body: '{{"who": {{{{ supervisor|tojson }}}}, "ns": "{{{{ namespace }}}}"}}'
      headers:
        X-Team: "{{{{ labels.severity }}}}"
        Content-Type: application/vnd.example+json
"""
    )
    send(rb, escalation_plan("hook"))
    [got] = peer.received
    assert got.path == "/hooks/remediation"
    assert got.body == b'{"who": "shop", "ns": "shop"}'
    assert got.headers["X-Team"] == "page"
    assert got.headers["Content-Type"] == "application/vnd.example+json"


def test_a_webhook_without_a_body_sends_the_notification_as_json(peer: Peer) -> None:
    rb = notifiers(f'  hook: {{webhook: {{url: "{peer.url}/h"}}}}\n')
    send(rb, escalation_plan("hook"))
    [got] = peer.received
    body = got.json()
    assert isinstance(body, dict)
    assert body["message"] == "supervisor shop escalated (intensity) on shop/web-1"
    assert (body["supervisor"], body["cause"], body["pod"]) == ("shop", "intensity", "shop/web-1")
    assert got.headers["Content-Type"] == "application/json"


def test_the_escalation_alert_carries_namespace_ends_with_the_freeze_and_links_back(
    peer: Peer,
) -> None:
    rb = notifiers(
        f'  oncall: {{alertmanager: {{url: "{peer.url}/"}}}}\n',
        settings="externalURL: https://receiver.example.com",
    )
    send(rb, escalation_plan())
    [got] = peer.received
    assert got.path == "/api/v2/alerts"
    link = "https://receiver.example.com/supervisors/shop"
    assert got.json() == [
        {
            "labels": {
                "alertname": "RemediationEscalation",
                "severity": "critical",
                "source": "remediation-receiver",
                "supervisor": "shop",
                "pod": "shop/web-1",
                "cause": "intensity",
                "namespace": "shop",
            },
            "annotations": {
                "summary": "supervisor shop escalated (intensity) on shop/web-1",
                "description": "supervisor shop escalated (intensity) on shop/web-1",
                "link": link,
            },
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2026-01-01T00:30:00Z",
            "generatorURL": link,
        }
    ]


@pytest.mark.parametrize(
    ("action", "link"),
    [
        (Action(kind=ActionKind.NOTIFY, pod=PodKey("shop", "web-1")), "/pods/shop/web-1"),
        (
            Action(kind=ActionKind.NOTIFY, workload=Workload("shop", "Deployment", "web")),
            "/decisions",
        ),
        (Action(kind=ActionKind.NOTIFY, supervisor="shop"), "/supervisors/shop"),
    ],
    ids=["pod", "workload", "supervisor"],
)
def test_the_link_points_at_the_console_page_of_the_subject(action: Action, link: str) -> None:
    context = context_for(action, Plan(at=T0), "https://r.example")
    assert context["link"] == "https://r.example" + link
    assert context_for(action, Plan(at=T0))["link"] == ""


# -- failures ---------------------------------------------------------------------


def failed_entries(decisions: DecisionLog) -> list[dict[str, object]]:
    return [a for e in decisions.since(0) for a in e["actions"] if a["outcome"] == "failed"]


def test_a_refused_send_is_failed_in_the_decision_log_and_the_metrics(peer: Peer) -> None:
    peer.status = 400
    rb = notifiers(f'  oncall: {{slack: {{url: "{peer.url}/x"}}}}\n')
    decisions, metrics = send(rb, escalation_plan())
    [entry] = decisions.since(0)
    assert entry["actions"] == [
        {
            "action": "notify",
            "target": "oncall",
            "rule": None,
            "supervisor": "shop",
            "outcome": "failed",
            "reason": None,
            "dryRun": False,
            "detail": "supervisor shop escalated (intensity) on shop/web-1; "
            "notifier oncall failed: HTTP 400 Bad Request: no such routing key",
        }
    ]
    assert entry["signal"]["name"] == "PodErrorRatioOutlier"  # type: ignore[index]
    assert notified(metrics, "oncall", "failed") == 1
    assert notified(metrics, "oncall", "sent") == 0


def test_a_successful_send_adds_nothing_to_the_decision_log(peer: Peer) -> None:
    rb = notifiers(f'  oncall: {{slack: {{url: "{peer.url}/x"}}}}\n')
    decisions, metrics = send(rb, escalation_plan())
    assert len(peer.received) == 1
    assert decisions.since(0) == []
    assert notified(metrics, "oncall", "failed") == 0


@pytest.mark.parametrize(
    ("target", "error"),
    [
        (
            "url: http://127.0.0.1:{port}/x",
            "notifier oncall failed: cannot reach http://127.0.0.1:",
        ),
        ("urlEnv: NOT_SET_ANYWHERE", "URL from environment variable NOT_SET_ANYWHERE: empty"),
        ("urlFile: /nonexistent/slack-url", "URL from file /nonexistent/slack-url: [Errno 2]"),
    ],
    ids=["connection-refused", "env-unset", "file-missing"],
)
def test_a_send_that_cannot_happen_is_failed(target: str, error: str) -> None:
    rb = notifiers(f"  oncall: {{slack: {{{target.format(port=free_port())}}}}}\n")
    decisions, metrics = send(rb, escalation_plan())
    [failed] = failed_entries(decisions)
    assert error in str(failed["detail"])
    assert notified(metrics, "oncall", "failed") == 1


def test_a_webhook_header_that_renders_a_line_break_fails_rather_than_being_sent(
    peer: Peer,
) -> None:
    rb = notifiers(
        f"""
  hook:
    webhook:
      url: "{peer.url}/h"
      headers: {{X-Detail: "a{{{{ '\\\\n' }}}}b"}}
"""
    )
    decisions, _ = send(rb, escalation_plan("hook"))
    assert peer.received == []
    [failed] = failed_entries(decisions)
    assert "header X-Detail rendered with a line break" in str(failed["detail"])


def test_a_redirect_is_a_failure_not_followed(peer: Peer) -> None:
    peer.status = 302
    with pytest.raises(NotificationError, match=r"^HTTP 302 Found"):
        http_post(Outgoing(peer.url + "/x", b"{}", {}), 5.0)
    assert len(peer.received) == 1


def test_http_post_says_when_no_answer_came_in_time() -> None:
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(NotificationError, match=r"no answer within 0.2s"):
            http_post(Outgoing(url, b"{}", {}), 0.2)


# -- the runbook ----------------------------------------------------------------------


def test_every_kind_loads_into_its_fields() -> None:
    rb = notifiers(
        """
  chat: {slack: {urlEnv: SLACK_URL}}
  pager: {pagerduty: {routingKeyFile: /etc/pd/key, severity: error}}
  pager2: {pagerduty: {routingKey: abc}}
  hook:
    webhook: {url: "https://h.example/x", body: "{{ detail }}", headers: {X-A: "1"}}
""",
        settings="externalURL: https://receiver.example.com/",
    )
    assert rb.settings.external_url == "https://receiver.example.com"
    assert rb.notifiers["chat"] == Notifier(
        name="chat", kind=NotifierKind.SLACK, url_from=Secret(env="SLACK_URL")
    )
    assert rb.notifiers["pager"] == Notifier(
        name="pager",
        kind=NotifierKind.PAGERDUTY,
        routing_key=Secret(file="/etc/pd/key"),
        severity="error",
    )
    assert rb.notifiers["pager2"].routing_key == "abc"
    assert rb.notifiers["pager2"].url is None  # the Events API's own URL when sending
    hook = rb.notifiers["hook"]
    assert (hook.url, hook.body, dict(hook.headers)) == (
        "https://h.example/x",
        "{{ detail }}",
        {"X-A": "1"},
    )


# -- receiver notify --test -------------------------------------------------------------


def notify_test(runbook_file: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "receiver",
            "notify",
            "--test",
            name,
            "--runbook",
            str(runbook_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def runbook_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "runbook.yaml"
    path.write_text(
        "apiVersion: remediation/v1\nkind: Runbook\nsettings:\n  namespaces: [shop]\n"
        f"notifiers:\n{body}"
    )
    return path


def test_notify_test_sends_a_test_message_and_prints_the_status(peer: Peer, tmp_path: Path) -> None:
    path = runbook_file(tmp_path, f'  chat: {{slack: {{url: "{peer.url}/s"}}}}\n')
    result = notify_test(path, "chat")
    assert (result.returncode, result.stdout) == (0, "notifier chat (slack): sent, HTTP 200\n")
    [got] = peer.received
    assert got.json() == {"text": "a test notification (receiver notify --test): nothing happened"}


def test_notify_test_fails_with_the_answer(peer: Peer, tmp_path: Path) -> None:
    peer.status = 503
    path = runbook_file(tmp_path, f'  chat: {{slack: {{url: "{peer.url}/s"}}}}\n')
    result = notify_test(path, "chat")
    assert result.returncode == 1
    assert result.stdout == (
        "notifier chat (slack): failed: HTTP 503 Service Unavailable: no such routing key\n"
    )


def test_notify_test_names_the_notifiers_when_the_name_is_unknown(tmp_path: Path) -> None:
    path = runbook_file(tmp_path, "  audit: {log: {}}\n")
    result = notify_test(path, "oncall")
    assert result.returncode == 2
    assert 'no notifier "oncall" (defined: audit)' in result.stderr


# -- through the service's pipeline -------------------------------------------------------


def test_through_the_pipeline_a_failed_send_follows_its_decision_in_the_log(
    peer: Peer, tmp_path: Path
) -> None:
    peer.status = 500
    h = harness(
        tmp_path,
        runbook=RUNBOOK.replace(
            "steps: [{drain: {for: 2m}}, {restart: {}}]", "steps: [{notify: oncall}]"
        )
        + f'notifiers:\n  oncall: {{slack: {{url: "{peer.url}/s"}}}}\n',
    )
    pod = sorted(key.name for key in h.cluster.snapshot().pods)[0]
    body = (
        '{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"PodErrorRatioOutlier",'
        f'"namespace":"shop","pod":"{pod}"}},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"f"}}]}}'
    )
    pipeline = h.service.pipeline

    async def go() -> None:
        await pipeline.alerts(parse_webhook(body.encode(), h.clock.now).signals)
        await pipeline.notifications.drain()

    asyncio.run(go())
    decided, failed = pipeline.decisions.since(0)
    assert [(a["action"], a["outcome"]) for a in decided["actions"]] == [("notify", "applied")]
    assert [(a["action"], a["outcome"], a["rule"]) for a in failed["actions"]] == [
        ("notify", "failed", "error-outlier")
    ]
    assert failed["id"] > decided["id"]
    assert "notifier oncall failed: HTTP 500" in failed["actions"][0]["detail"]
    assert (
        h.metric("remediation_notifications_total", {"notifier": "oncall", "outcome": "failed"})
        == 1
    )
