"""The sidecar's view of the app: one GET of its health endpoint, mapped to a status.

| answer                                   | status                      |
|------------------------------------------|-----------------------------|
| 2xx                                      | ok                          |
| 2xx, JSON {"status": s, "reason": r}     | s (ok/degraded/failing), r  |
| 429                                      | degraded                    |
| any other status, timeout, no connection | failing, saying which       |
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from receiver.agent.wire import HealthStatus, as_status, describe_error

_MAX_BODY = 64 * 1024
# The app's health endpoint is local to the pod; a proxy from the environment
# would answer for itself, not for the app.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def check_once(url: str, timeout: float) -> tuple[HealthStatus, str]:
    """GET `url` once within `timeout` seconds: (status, reason), never an exception."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            body = response.read(_MAX_BODY)
    except urllib.error.HTTPError as exc:
        with exc:
            status = HealthStatus.DEGRADED if exc.code == 429 else HealthStatus.FAILING
            return status, f"check {url}: HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return HealthStatus.FAILING, f"check {url}: {_what(exc.reason, timeout)}"
    except OSError as exc:  # a timeout or reset while reading the body
        return HealthStatus.FAILING, f"check {url}: {_what(exc, timeout)}"
    return _from_body(body)


_WORST = (HealthStatus.FAILING, HealthStatus.DEGRADED, HealthStatus.OK)


def check_all(urls: Sequence[str], timeout: float) -> tuple[HealthStatus, str]:
    """Every URL at once (one per container of the pod): the worst status, and why.

    A pod is one identity however many containers it runs, so their checks
    make one beat: one push per interval instead of one per container.
    """
    if len(urls) == 1:
        return check_once(urls[0], timeout)
    with ThreadPoolExecutor(len(urls), thread_name_prefix="check") as pool:
        found = list(pool.map(lambda url: check_once(url, timeout), urls))
    worst = min((status for status, _ in found), key=_WORST.index)
    reasons = [reason for status, reason in found if status is worst and reason]
    return worst, "; ".join(reasons)


def _from_body(body: bytes) -> tuple[HealthStatus, str]:
    """An app may say more than 2xx can: {"status": "degraded", "reason": "..."}."""
    try:
        document = json.loads(body)
        status = as_status(document["status"])
    except (ValueError, TypeError, KeyError):
        return HealthStatus.OK, ""
    reason = document.get("reason")
    return status, reason if isinstance(reason, str) else ""


def _what(reason: object, timeout: float) -> str:
    text = describe_error(reason)
    return f"timed out after {timeout:g}s" if text == "timed out" else text
