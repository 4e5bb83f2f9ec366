"""Tell people: notify actions rendered with Jinja2 (sandboxed) and sent in the background.

Kinds: `alertmanager` posts an alert to Alertmanager's v2 API (so routing,
silences and inhibition apply to it like to any alert), `slack` posts to an
incoming webhook, `pagerduty` triggers an Events API v2 incident, `webhook`
posts JSON or a templated body, `log` writes a structured log line. What
each sends is built in act/messages.py.

Sending never blocks a decision: it runs in a worker thread with a timeout
and its outcome is counted. The decision was recorded `applied` when the
notification was handed over; a send that fails (an HTTP status outside
2xx, a timeout, a refused connection, a secret that cannot be read) is
passed to `failed`, which the service points at the decision log (a second
entry, outcome `failed`, with the error), so it is never silent.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from receiver.act.messages import NotificationError, Outgoing, outgoing
from receiver.decide import Action, Plan
from receiver.metrics import Metrics
from receiver.model import PodKey, Workload, rfc3339
from receiver.runbook import templates
from receiver.runbook.types import Notifier, NotifierKind

log = logging.getLogger(__name__)

TIMEOUT = 5.0
ANSWER_SHOWN = 200
"""Characters of an error answer's body kept in the error (enough to say why)."""
ANSWER_READ = 65536
"""Bytes of a successful answer read (and dropped): a peer cannot make it a download."""

Post = Callable[[Outgoing, float], int]
"""Send one request with a timeout; the HTTP status, or NotificationError."""
Failed = Callable[[Action, Plan, str], object]
"""Told of a notification that could not be sent, with the error (on the event loop)."""


def render(notifier: Notifier, context: Mapping[str, Any]) -> str:
    if not notifier.message:
        return str(context.get("detail", ""))
    try:
        return templates.render(notifier.message, context)  # bounded in time and size
    except Exception as exc:  # a template error must not lose the notification
        return f"{context.get('detail', '')} (message template failed: {exc})"


def context_for(action: Action, plan: Plan, external_url: str | None = None) -> dict[str, Any]:
    """The template variables (runbook/templates.py VARIABLES says what each holds)."""
    escalation = next((e for e in plan.escalations if e.supervisor == action.supervisor), None)
    signal = plan.signal
    target = action.pod or action.workload
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
        "namespace": target.namespace if target is not None else "",
        "frozen_until": _frozen_until(escalation.frozen_until if escalation else None, plan.at),
        "link": link(external_url, action.supervisor, target),
    }


def link(external_url: str | None, supervisor: str | None, target: PodKey | Workload | None) -> str:
    """The receiver's console page on what a notification is about; '' without an external URL."""
    if not external_url:
        return ""
    if supervisor:
        return f"{external_url}/supervisors/{supervisor}"
    if isinstance(target, PodKey):
        return f"{external_url}/pods/{target.namespace}/{target.name}"
    return f"{external_url}/decisions"


def deliver(notifier: Notifier, context: Mapping[str, Any], at: float, post: Post) -> int | None:
    """Render and send one notification (blocking: call it in a worker thread).

    The HTTP status (None for the log kind), or NotificationError saying why not.
    """
    message = render(notifier, context)
    if notifier.kind is NotifierKind.LOG:
        log.warning("notify %s: %s", notifier.name, message, extra={"notification": context})
        return None
    return post(outgoing(notifier, message, context, at), TIMEOUT)


class Notifications:
    """Sends in the background; each send is counted in `metrics` by its outcome,
    and a failed one is passed to `failed`."""

    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        metrics: Metrics,
        *,
        post: Post | None = None,
        failed: Failed | None = None,
        external_url: str | None = None,
    ) -> None:
        self.notifiers = notifiers
        self.external_url = external_url
        self._metrics = metrics
        self._post = post or http_post
        self._failed = failed
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
        context = context_for(action, plan, self.external_url)
        error = None
        try:  # rendering, reading a secret and sending: never on the event loop
            await asyncio.to_thread(deliver, notifier, context, plan.at, self._post)
        except NotificationError as exc:
            error = str(exc)
        except Exception as exc:  # whatever it was, the decision log says so
            error = f"{type(exc).__name__}: {exc}"
        self._metrics.notified(notifier.name, error is None)
        if error is not None:
            log.error("notify %s failed: %s", notifier.name, error)
            if self._failed is not None:
                self._failed(action, plan, f"notifier {notifier.name} failed: {error}")


def http_post(request: Outgoing, timeout: float) -> int:
    """POST; the status when it is 2xx, else NotificationError saying what came back."""
    sent = urllib.request.Request(
        request.url, data=request.body, method="POST", headers=dict(request.headers)
    )
    try:
        with _OPENER.open(sent, timeout=timeout) as response:
            response.read(ANSWER_READ)
            status: int = response.status
    except urllib.error.HTTPError as exc:
        answer = exc.read(ANSWER_SHOWN).decode("utf-8", "replace").strip()
        said = f": {answer}" if answer else ""
        raise NotificationError(f"HTTP {exc.code} {exc.reason}{said}") from exc
    except TimeoutError as exc:
        raise NotificationError(f"no answer within {timeout:g}s") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise NotificationError(f"no answer within {timeout:g}s") from exc
        raise NotificationError(f"cannot reach {_host(request.url)}: {exc.reason}") from exc
    except OSError as exc:
        raise NotificationError(f"cannot reach {_host(request.url)}: {exc}") from exc
    if not 200 <= status < 300:
        raise NotificationError(f"HTTP {status}")
    return status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (HTTP 3xx, a failure): urllib would follow a 302 with a
    GET and no body, and report the page it lands on as a notification sent."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())  # proxies from the environment kept


def _host(url: str) -> str:
    """Scheme and host only: a webhook's URL may hold a secret in its path (Slack's does)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _frozen_until(until: float | None, at: float) -> str:
    return rfc3339(until, "auto") if until is not None and until > at else ""
