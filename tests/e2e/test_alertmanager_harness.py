"""The Alertmanager harness, and the delivery facts of Alertmanager 0.25 the receiver relies on.

A throwaway webhook receiver on 127.0.0.1 records every delivery and answers from a script of
status codes, so these tests pin what the real peer does: the v4 payload, retries after 5xx,
no retry after 4xx within a flush, resolved notifications, and re-delivery of alerts already
sent. Timing assertions are deliberately loose (counts within generous windows).

Measured on the development machine with group_wait 0s and group_interval 1s:
- 503 forever: deliveries at 0, 0.75, 1.66, 3.21, 5.35, 6.97 s until the flush's deadline at
  10 s; the next flush then starts at once, its backoff reset: 10.0, 10.36, 11.38, 12.32, 13.17,
  15.95, 20.0, ... So a failing receiver gets about 6 deliveries every 10 s, indefinitely.
  (Read in notify/notify.go, RetryStage: cenkalti/backoff defaults, 0.5 s growing by 1.5 with
  jitter, no limit but the flush's context, whose timeout is at least MinTimeout = 10 s.)
- 503, 503, then 200: deliveries at 0, 0.71, 1.46 s, then none.
- 400 forever, group_interval 1m: one delivery, nothing more within the minute's flush. With
  group_interval 1s: one delivery per second (0, 1.0, 2.0, ...), because a failed flush leaves
  nothing in the notification log, so the next flush sends the group again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for

from .alertmanager import (
    ENV_BINARY,
    Alertmanager,
    AlertmanagerConfig,
    AlertmanagerError,
    find_binary,
    make_alert,
    utcnow,
)

TOKEN = "e2e-secret-token"
# Measured: in 0.25 a firing alert's endsAt in the webhook payload is Go's zero time, while the
# API holds startsAt + resolve_timeout (an end not yet reached is blanked before templating).
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Delivery:
    at: float  # time.monotonic() when it arrived
    answered: int
    headers: dict[str, str]
    payload: dict[str, Any]


class WebhookRecorder:
    """Records webhook deliveries and answers them with scripted status codes, then 200."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self._deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1/alerts"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Delivery]:
        """The first ``count`` deliveries; fails the test if they do not all arrive in time."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._deliveries) >= count, timeout)
            got = list(self._deliveries)
        assert arrived, f"expected {count} deliveries within {timeout} s, got {len(got)}"
        return got[:count]

    def _record(self, headers: dict[str, str], payload: dict[str, Any]) -> int:
        with self._changed:
            answer = self.script.pop(0) if self.script else 200
            self._deliveries.append(Delivery(time.monotonic(), answer, headers, payload))
            self._changed.notify_all()
            return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = recorder._record(dict(self.headers.items()), json.loads(body))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


StartAlertmanager = Callable[..., Alertmanager]


@pytest.fixture
def recorder() -> Iterator[WebhookRecorder]:
    webhook = WebhookRecorder()
    webhook.start()
    yield webhook
    webhook.stop()


@pytest.fixture
def start_alertmanager(recorder: WebhookRecorder, tmp_path: Path) -> Iterator[StartAlertmanager]:
    """Starts an Alertmanager that delivers to ``recorder``; config fields may be overridden."""
    with ExitStack() as stack:
        count = 0

        def start(**overrides: Any) -> Alertmanager:
            nonlocal count
            count += 1
            config = replace(
                AlertmanagerConfig(receiver_url=recorder.url, token=TOKEN), **overrides
            )
            workdir = tmp_path / f"alertmanager-{count}"
            workdir.mkdir()
            return stack.enter_context(Alertmanager(config, workdir=workdir))

        yield start


def occurrence(alert: dict[str, Any]) -> tuple[str, str]:
    """What the receiver deduplicates on: the same alert, the same time it started."""
    return alert["fingerprint"], alert["startsAt"]


def occurrences(delivery: Delivery) -> list[tuple[str, str]]:
    return [occurrence(alert) for alert in delivery.payload["alerts"]]


# -- the harness itself ----------------------------------------------------------------------


def test_missing_binary_fails_naming_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AlertmanagerError, match="apt-get install prometheus-alertmanager"):
        find_binary(env={})


def test_binary_override_must_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "alertmanager")
    with pytest.raises(AlertmanagerError, match=f"{ENV_BINARY}=.*is not an executable"):
        find_binary(env={ENV_BINARY: missing})


def test_a_config_it_rejects_is_reported_with_its_log(
    start_alertmanager: StartAlertmanager,
) -> None:
    with pytest.raises(
        AlertmanagerError,
        match=r"(?s)exited with code 1.*failed.*not a valid duration string: .*soon",
    ):
        start_alertmanager(group_interval="soon")


def test_the_process_is_stopped_even_when_the_test_fails(recorder: WebhookRecorder) -> None:
    am = Alertmanager(AlertmanagerConfig(receiver_url=recorder.url, token=TOKEN))
    started: list[int] = []

    def failing_test() -> None:
        with am:
            assert am.running
            assert am.pid is not None
            started.append(am.pid)
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        failing_test()

    assert not am.running
    with pytest.raises(ProcessLookupError):
        os.kill(started[0], 0)
    assert am.log_path is not None
    assert not am.log_path.parent.exists()  # its own temporary directory is gone too


# -- 1. what a delivery looks like ---------------------------------------------------------


def test_a_posted_alert_is_delivered_as_webhook_v4(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    am = start_alertmanager()
    posted = time.monotonic()
    am.post_alerts(
        [make_alert("PodErrorRatioOutlier", pod="checkout-1", annotations={"summary": "errors"})]
    )

    (delivery,) = recorder.wait_for(1, timeout=5)

    assert delivery.at - posted < 3  # group_wait 0s: measured well under 0.1 s
    assert delivery.headers["Authorization"] == f"Bearer {TOKEN}"
    assert delivery.headers["Content-Type"] == "application/json"
    payload = delivery.payload
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["receiver"] == "remediation"
    assert payload["truncatedAlerts"] == 0
    assert payload["groupKey"] == (
        '{}:{alertname="PodErrorRatioOutlier", namespace="shop", pod="checkout-1"}'
    )
    assert payload["groupLabels"] == {
        "alertname": "PodErrorRatioOutlier",
        "namespace": "shop",
        "pod": "checkout-1",
    }
    (alert,) = payload["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == payload["groupLabels"]
    assert alert["annotations"] == {"summary": "errors"}
    assert alert["generatorURL"] == "http://prometheus.e2e.invalid/graph"
    # startsAt was set by Alertmanager (none was posted), in RFC 3339 with up to nanoseconds,
    # e.g. "2026-11-21T23:13:46.161915139Z"; compare it as a string, not a parsed datetime.
    assert alert["startsAt"].endswith("Z")
    assert alert["endsAt"] == ZERO_TIME
    # The API shows the same alert with times cut to milliseconds ("...46.161Z") and an end
    # that is startsAt + resolve_timeout (5m by default) for an alert posted without endsAt.
    (held,) = am.alerts()
    assert held["fingerprint"] == alert["fingerprint"]
    started = datetime.fromisoformat(alert["startsAt"])
    held_start = datetime.fromisoformat(held["startsAt"])
    assert held_start == started.replace(microsecond=started.microsecond // 1000 * 1000)
    assert datetime.fromisoformat(held["endsAt"]) - held_start == timedelta(minutes=5)


def test_max_alerts_truncates_and_counts_the_rest(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    # group_wait 1s so the three alerts are in the group before its first flush.
    am = start_alertmanager(group_by=("alertname",), group_wait="1s", max_alerts=1)
    am.post_alerts([make_alert("PodLatencyOutlier", pod=f"web-{i}") for i in range(3)])

    (delivery,) = recorder.wait_for(1, timeout=6)

    assert len(delivery.payload["alerts"]) == 1
    assert delivery.payload["truncatedAlerts"] == 2


NFLOG_QUERIES = "alertmanager_nflog_queries_total"
FAILED = "alertmanager_notifications_failed_total"


# -- 2. retries ----------------------------------------------------------------------------


def test_503_is_retried_with_the_same_notification_until_it_succeeds(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    recorder.script = [503, 503]
    am = start_alertmanager()
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-1")])

    first, second, third = recorder.wait_for(3, timeout=10)  # measured: 0, 0.7, 1.5 s

    assert [d.answered for d in (first, second, third)] == [503, 503, 200]
    assert first.payload == second.payload == third.payload
    # Every flush of the group asks the notification log first: two more flushes
    # after the success found it there and sent nothing.
    queries = am.metric("alertmanager_nflog_queries_total")
    wait_for(
        "two more flushes", lambda: am.metric("alertmanager_nflog_queries_total") >= queries + 2
    )
    assert len(recorder.deliveries()) == 3


def test_400_is_not_retried_within_a_flush(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    recorder.script = [400] * 10
    am = start_alertmanager(group_interval="1m")
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-1")])

    recorder.wait_for(1, timeout=5)
    # The flush is over once Alertmanager counts the notification failed: a 4xx
    # ends it at once, where a 5xx would have been retried first.
    wait_for("the failed notification", lambda: am.metric(FAILED, integration="webhook") >= 1)

    assert [d.answered for d in recorder.deliveries()] == [400]


def test_400_is_sent_again_at_every_group_interval(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    # A failed flush records nothing in the notification log, so the next flush (one
    # group_interval later) sends the whole group again: a 4xx stops retries, not re-sends.
    recorder.script = [400] * 10
    am = start_alertmanager(group_interval="1s")
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-1")])

    deliveries = recorder.wait_for(3, timeout=6)  # measured: 0, 1.0, 2.0 s

    assert {d.answered for d in deliveries} == {400}
    assert deliveries[0].payload == deliveries[1].payload == deliveries[2].payload


# -- 3. resolved ---------------------------------------------------------------------------


def test_resolving_sends_a_resolved_notification_for_the_same_occurrence(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    am = start_alertmanager()
    alert = make_alert("PodErrorRatioOutlier", pod="checkout-1")
    am.post_alerts([alert])
    (fired,) = recorder.wait_for(1, timeout=5)
    # Not earlier than the stored startsAt: an endsAt before it would not merge into the stored
    # alert but replace it, and the resolved notification would carry startsAt = endsAt.
    ended = utcnow()
    am.resolve([alert], at=ended)

    resolved = recorder.wait_for(2, timeout=5)[1]  # at the next group_interval tick

    assert resolved.payload["status"] == "resolved"
    (alert_resolved,) = resolved.payload["alerts"]
    assert alert_resolved["status"] == "resolved"
    assert occurrence(alert_resolved) == occurrence(fired.payload["alerts"][0])
    assert datetime.fromisoformat(alert_resolved["endsAt"]) == ended
    assert resolved.payload["groupKey"] == fired.payload["groupKey"]


def test_firing_again_after_resolving_is_a_new_occurrence(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    am = start_alertmanager()
    alert = make_alert("PodErrorRatioOutlier", pod="checkout-1")
    am.post_alerts([alert])
    recorder.wait_for(1, timeout=5)
    am.resolve([alert])
    recorder.wait_for(2, timeout=5)
    am.post_alerts([alert])

    first, _, again = recorder.wait_for(3, timeout=5)

    assert again.payload["status"] == "firing"
    (old,), (new,) = first.payload["alerts"], again.payload["alerts"]
    assert new["fingerprint"] == old["fingerprint"]
    assert new["startsAt"] > old["startsAt"]


# -- 4. re-delivery ------------------------------------------------------------------------


def test_a_group_is_delivered_whole_again_when_an_alert_joins_it(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    am = start_alertmanager(group_by=("alertname",))
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-1")])
    (first,) = recorder.wait_for(1, timeout=5)
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-2")])

    second = recorder.wait_for(2, timeout=5)[1]  # at the next group_interval tick

    assert second.payload["groupKey"] == first.payload["groupKey"]
    (old,) = occurrences(first)
    assert len(occurrences(second)) == 2
    assert old in occurrences(second)  # same fingerprint and startsAt: a repeat, not news


def test_an_alert_joining_during_retries_comes_after_the_old_snapshot(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    # The flush that is retrying keeps its snapshot; the next flush carries the newcomer.
    recorder.script = [503, 503]
    am = start_alertmanager(group_by=("alertname",))
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-1")])
    recorder.wait_for(1, timeout=5)
    am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-2")])

    deliveries = recorder.wait_for(4, timeout=10)

    (old,) = occurrences(deliveries[0])
    assert [len(occurrences(d)) for d in deliveries] == [1, 1, 1, 2]
    assert [d.answered for d in deliveries] == [503, 503, 200, 200]
    assert old in occurrences(deliveries[3])


def test_a_resolve_ending_before_the_stored_start_replaces_the_alert(
    start_alertmanager: StartAlertmanager, recorder: WebhookRecorder
) -> None:
    # Not merged (its end precedes the stored start), so the stored alert is replaced: the
    # resolved notification carries startsAt = endsAt, not the firing startsAt. Prometheus
    # always sends startsAt with a resolved alert, so this only bites hand-made posts.
    am = start_alertmanager()
    alert = make_alert("PodErrorRatioOutlier", pod="checkout-1")
    am.post_alerts([alert])
    (fired,) = recorder.wait_for(1, timeout=5)
    started = datetime.fromisoformat(fired.payload["alerts"][0]["startsAt"])
    am.resolve([alert], at=started - timedelta(milliseconds=10))

    (resolved,) = recorder.wait_for(2, timeout=5)[1].payload["alerts"]

    assert resolved["status"] == "resolved"
    assert resolved["fingerprint"] == fired.payload["alerts"][0]["fingerprint"]
    assert resolved["startsAt"] == resolved["endsAt"]
    assert resolved["startsAt"] != fired.payload["alerts"][0]["startsAt"]
