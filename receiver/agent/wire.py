"""The heartbeat push on the wire: one POST of a JSON object or array, its answer mapped.

2xx with a results list is success; 3xx and 4xx (except 408 and 429) raise
`HeartbeatRejected` with the server's message and field; everything that may
pass by itself (5xx, 408, 429, timeouts, refused connections) raises
`HeartbeatFailed`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from enum import StrEnum
from typing import IO

from receiver.agent.errors import HeartbeatConfigError, HeartbeatFailed, HeartbeatRejected
from receiver.agent.identity import Identity

_MAX_ANSWER = 1 << 20
_RETRYABLE_4XX = frozenset({408, 429})
# The receiver refuses longer reasons, and an app's own text (or a check's
# exception message) must not turn every beat into a 400.
MAX_REASON = 1024


class HealthStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


def require_http_url(url: str, *, what: str) -> str:
    """The URL itself, if urllib can POST or GET it; a config error naming `what` if not."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HeartbeatConfigError(f"{what} {url!r} is not an http:// or https:// URL")
    return url


def as_status(value: HealthStatus | str) -> HealthStatus:
    try:
        return HealthStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in HealthStatus)
        raise ValueError(f"status must be one of {choices}, got {value!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Beat:
    """One heartbeat item: who, how healthy, why, and how often to expect the next."""

    identity: Identity
    status: HealthStatus
    reason: str = ""
    interval: float | None = None
    token: str | None = field(default=None, repr=False)
    """Its pod's own token, for a batch spoken for several pods (sent without a header)."""

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "namespace": self.identity.namespace,
            "pod": self.identity.pod,
            "status": self.status.value,
        }
        if self.reason:
            body["reason"] = self.reason[:MAX_REASON]
        if self.interval is not None:
            seconds = float(self.interval)  # an int passes the type checker as a float
            body["interval"] = int(seconds) if seconds.is_integer() else seconds
        if self.token is not None:
            body["token"] = self.token
        return body


@dataclass(frozen=True, slots=True)
class PushResult:
    """The server's verdict on one item, e.g. ("shop/web-0", "accepted") or "unknown_pod"."""

    pod: str
    result: str

    @property
    def accepted(self) -> bool:
        return self.result == "accepted"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the Authorization header to any host; refuse."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def opener() -> urllib.request.OpenerDirector:
    """urllib's, without following redirects (they would carry a token elsewhere)."""
    return _OPENER


def send(
    url: str, body: Beat | Sequence[Beat], *, token: str | None, timeout: float
) -> list[PushResult]:
    """POST one beat (as an object) or a batch (as an array); one result per beat.

    With `token` None each beat carries its own pod's token (`Beat.token`)
    and the request none: one process speaking for several pods proves each.
    """
    beats = [body] if isinstance(body, Beat) else list(body)
    if not beats:
        raise ValueError("an empty batch: send at least one beat")
    carrying = [b.token is not None for b in beats]
    if not all(carrying) if token is None else any(carrying):
        raise ValueError("either a token for the request or one in every beat, not both")
    payload = beats[0].to_json() if isinstance(body, Beat) else [b.to_json() for b in beats]
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers=headers
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            answer = response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        with exc:
            raise _http_error(exc) from None
    except urllib.error.URLError as exc:
        raise HeartbeatFailed(f"{url}: {describe_error(exc.reason)}") from None
    except OSError as exc:  # timeouts and resets while reading the answer
        raise HeartbeatFailed(f"{url}: {describe_error(exc)}") from None
    return _results(answer, expected=len(beats))


def _http_error(exc: urllib.error.HTTPError) -> HeartbeatRejected | HeartbeatFailed:
    try:
        detail = json.loads(exc.read(_MAX_ANSWER))
    except (OSError, ValueError):
        detail = None
    if not isinstance(detail, dict):
        detail = {}
    message = str(detail.get("error") or exc.reason or "no message")
    if exc.code >= 500 or exc.code in _RETRYABLE_4XX:
        return HeartbeatFailed(message, status=exc.code)
    if 300 <= exc.code < 400:
        where = exc.headers.get("Location", "elsewhere")
        message = f"redirected to {where}; point the URL at the heartbeat endpoint itself"
    field = detail.get("field")
    return HeartbeatRejected(
        message, status=exc.code, field=str(field) if field else None, detail=detail
    )


def _results(answer: bytes, *, expected: int) -> list[PushResult]:
    # A 2xx that is not a receiver's answer (a status page, a proxy) will not
    # improve on retry, so it is a rejection: the URL is wrong.
    try:
        items = json.loads(answer)["results"]
        results = [PushResult(str(item["pod"]), str(item["result"])) for item in items]
    except (ValueError, TypeError, KeyError):
        raise HeartbeatRejected(
            "the answer has no results list; is the URL the heartbeat endpoint?", status=200
        ) from None
    if len(results) != expected:
        raise HeartbeatRejected(f"sent {expected} beats, got {len(results)} results", status=200)
    return results


def describe_error(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
