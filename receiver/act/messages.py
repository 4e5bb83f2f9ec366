"""What each notifier kind sends: the URL, the headers and the body of one POST.

Built from the notifier, the rendered message and the template context, and
nothing else: no I/O but reading a secret (a mounted file, an environment
variable), which happens here, in the sending thread, so a rotated Secret is
used at the next send. A template of a webhook's body or headers that fails
to render fails the notification: a half-rendered request would be worse
than none. (A failed `message` still notifies, with the detail; notify.py.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver.model import rfc3339
from receiver.runbook import templates
from receiver.runbook.types import PAGERDUTY_EVENTS_URL, Notifier, NotifierKind, Secret

JSON = "application/json"
SOURCE = "remediation-receiver"
PAGERDUTY_SUMMARY = 1024  # the Events API refuses a longer summary


class NotificationError(Exception):
    """Why a notification could not be sent; the message says it for the decision log."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    url: str
    body: bytes
    headers: Mapping[str, str]


def outgoing(notifier: Notifier, message: str, context: Mapping[str, Any], at: float) -> Outgoing:
    """The request `notifier` sends for `message` (not for the log kind)."""
    kind = notifier.kind
    if kind is NotifierKind.ALERTMANAGER:
        url = (notifier.url or "").rstrip("/") + "/api/v2/alerts"
        return _json(url, [alertmanager_alert(message, context, at)])
    if kind is NotifierKind.SLACK:
        return _json(_url(notifier), slack_message(notifier, message, context))
    if kind is NotifierKind.PAGERDUTY:
        key = notifier.routing_key
        routing_key = key if isinstance(key, str) else read_secret(key, "routing key")
        event = pagerduty_event(routing_key, message, context, at, notifier.severity)
        return _json(notifier.url or PAGERDUTY_EVENTS_URL, event)
    if notifier.body is None and not notifier.headers:
        return _json(_url(notifier), {"message": message, **context})
    return _webhook(notifier, message, context)


def alertmanager_alert(message: str, context: Mapping[str, Any], at: float) -> dict[str, Any]:
    """One alert for Alertmanager's v2 API. An escalation's alert ends with its freeze,
    so Alertmanager resolves it when the receiver starts acting on the subtree again."""
    escalating = bool(context["supervisor"])
    labels = {
        "alertname": "RemediationEscalation" if escalating else "RemediationNotice",
        "severity": "critical" if escalating else "warning",
        "source": SOURCE,
    }
    for name in ("supervisor", "rule", "pod", "workload", "cause", "namespace"):
        if context[name]:
            labels[name] = str(context[name])
    annotations = {"summary": message, "description": str(context["detail"])}
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(at, "auto"),
    }
    if context["frozen_until"]:
        alert["endsAt"] = context["frozen_until"]
    if context["link"]:
        annotations["link"] = context["link"]
        alert["generatorURL"] = context["link"]
    return alert


def slack_message(notifier: Notifier, message: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """`text` always: Slack shows it where blocks cannot be (notifications, old clients)."""
    if notifier.blocks is None:
        return {"text": message}
    rendered = _render(notifier.blocks, context, "blocks")
    try:
        blocks = json.loads(rendered)
    except ValueError as exc:
        raise NotificationError(f"blocks template rendered no JSON: {exc}") from exc
    if not isinstance(blocks, list):
        raise NotificationError("blocks template rendered no JSON list")
    return {"text": message, "blocks": blocks}


def pagerduty_event(
    routing_key: str,
    message: str,
    context: Mapping[str, Any],
    at: float,
    severity: str | None,
) -> dict[str, Any]:
    """An Events API v2 trigger. Its dedup_key names the escalating supervisor, or the
    rule and its target, so repeats of one trouble group into one incident."""
    supervisor = context["supervisor"]
    subject = context["pod"] or context["workload"] or context["signal"]
    if supervisor:
        dedup = f"{SOURCE}/supervisor/{supervisor}"
    else:
        dedup = f"{SOURCE}/rule/{context['rule']}/{subject}"
    payload: dict[str, Any] = {
        "summary": message[:PAGERDUTY_SUMMARY] or str(context["detail"])[:PAGERDUTY_SUMMARY],
        "source": subject or supervisor or SOURCE,
        "severity": severity or ("critical" if supervisor else "warning"),
        "timestamp": rfc3339(at, "auto"),
        "custom_details": dict(context),
    }
    for name, value in (("component", context["workload"]), ("group", supervisor)):
        if value:
            payload[name] = value
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": payload,
        "client": "remediation receiver",
    }
    if context["link"]:
        event["client_url"] = context["link"]
        event["links"] = [{"href": context["link"], "text": "remediation receiver"}]
    return event


def read_secret(secret: Secret | None, what: str) -> str:
    if secret is None:
        raise NotificationError(f"no {what}")
    if secret.file is not None:
        try:
            value = Path(secret.file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise NotificationError(f"{what} from {secret}: {exc}") from exc
    else:
        value = os.environ.get(secret.env or "", "").strip()
    if not value:
        raise NotificationError(f"{what} from {secret}: empty or not set")
    return value


def _url(notifier: Notifier) -> str:
    if notifier.url is not None:
        return notifier.url
    url = read_secret(notifier.url_from, "URL")
    if not url.startswith(("http://", "https://")):
        raise NotificationError(f"URL from {notifier.url_from}: not an http(s) URL")
    return url


def _webhook(notifier: Notifier, message: str, context: Mapping[str, Any]) -> Outgoing:
    if notifier.body is None:
        body = json.dumps({"message": message, **context}).encode()
    else:
        body = _render(notifier.body, context, "body").encode()
    headers = {"Content-Type": JSON}
    for name, text in notifier.headers.items():
        value = _render(text, context, f"header {name}")
        if any(c in value for c in "\r\n"):
            raise NotificationError(f"header {name} rendered with a line break")
        if name.lower() == "content-type":
            del headers["Content-Type"]
        headers[name] = value
    return Outgoing(_url(notifier), body, headers)


def _render(text: str, context: Mapping[str, Any], what: str) -> str:
    try:
        return templates.render(text, context)
    except Exception as exc:
        raise NotificationError(f"{what} template failed: {exc}") from exc


def _json(url: str, value: Any) -> Outgoing:
    return Outgoing(url, json.dumps(value).encode(), {"Content-Type": JSON})
