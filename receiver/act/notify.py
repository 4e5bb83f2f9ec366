"""Tell people: notify actions rendered with Jinja2 (sandboxed) and sent in the background.

Kinds: `alertmanager` posts an alert to Alertmanager's v2 API (so routing,
silences and inhibition apply to it like to any alert), `webhook` posts
JSON, `log` writes a structured log line. Sending never blocks a decision:
it runs in a worker thread with a timeout and its outcome is counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from receiver.decide import Action, Plan
from receiver.metrics import Metrics
from receiver.runbook import templates
from receiver.runbook.types import Notifier, NotifierKind

log = logging.getLogger(__name__)

TIMEOUT = 5.0


def render(notifier: Notifier, context: Mapping[str, Any]) -> str:
    if not notifier.message:
        return str(context.get("detail", ""))
    try:
        return templates.render(notifier.message, context)  # bounded in time and size
    except Exception as exc:  # a template error must not lose the notification
        return f"{context.get('detail', '')} (message template failed: {exc})"


def context_for(action: Action, plan: Plan) -> dict[str, Any]:
    escalation = next((e for e in plan.escalations if e.supervisor == action.supervisor), None)
    signal = plan.signal
    return {
        "action": str(action.kind),
        "detail": action.detail,
        "rule": action.rule or "",
        "supervisor": action.supervisor or "",
        "cause": str(escalation.cause) if escalation else "",
        "origin": escalation.origin if escalation else "",
        "pod": str(action.pod or ""),
        "workload": str(action.workload or ""),
        "signal": signal.name if signal else "",
        "labels": dict(signal.labels) if signal else {},
        "dry_run": action.dry_run,
    }


class Notifications:
    """Sends in the background; each send is counted in `metrics` by its outcome."""

    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        metrics: Metrics,
        *,
        post: Callable[[str, bytes, float], None] | None = None,
    ) -> None:
        self.notifiers = notifiers
        self._metrics = metrics
        self._post = post or _post
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, action: Action, plan: Plan) -> None:
        notifier = self.notifiers.get(action.notifier or "")
        if notifier is None:
            log.error(
                "notify: no notifier %r (the runbook loader should have refused this)",
                action.notifier,
            )
            return
        task = asyncio.get_running_loop().create_task(self._send(notifier, action, plan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for notifications in flight (at shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=TIMEOUT)

    async def _send(self, notifier: Notifier, action: Action, plan: Plan) -> None:
        context = context_for(action, plan)
        message = await asyncio.to_thread(render, notifier, context)  # never on the event loop
        ok = True
        try:
            if notifier.kind is NotifierKind.LOG:
                log.warning(
                    "notify %s: %s", notifier.name, message, extra={"notification": context}
                )
            elif notifier.kind is NotifierKind.ALERTMANAGER:
                body = _alertmanager_body(message, context, plan.at)
                await asyncio.to_thread(self._post, _v2_alerts(notifier.url or ""), body, TIMEOUT)
            else:
                body = json.dumps({"message": message, **context}).encode()
                await asyncio.to_thread(self._post, notifier.url or "", body, TIMEOUT)
        except Exception as exc:
            ok = False
            log.error("notify %s failed: %s", notifier.name, exc)
        self._metrics.notified(notifier.name, ok)


def _v2_alerts(url: str) -> str:
    return url.rstrip("/") + "/api/v2/alerts"


def _alertmanager_body(message: str, context: Mapping[str, Any], at: float) -> bytes:
    labels = {
        "alertname": "RemediationEscalation" if context["supervisor"] else "RemediationNotice",
        "severity": "critical" if context["supervisor"] else "warning",
        "source": "remediation-receiver",
    }
    for name in ("supervisor", "rule", "pod", "workload", "cause"):
        if context[name]:
            labels[name] = str(context[name])
    alert = {
        "labels": labels,
        "annotations": {"summary": message, "description": str(context["detail"])},
        "startsAt": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
    }
    return json.dumps([alert]).encode()


def _post(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
