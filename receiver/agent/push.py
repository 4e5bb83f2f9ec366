"""The in-app helper: push this pod's own health once, or every interval from a thread.

beat = Heartbeat(url="http://receiver:8080/api/v1/heartbeats")
beat.push("degraded", reason="db pool exhausted")
running = beat.start(check=lambda: ("ok", ""))
...
running.stop()
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from receiver.agent.errors import HeartbeatFailed
from receiver.agent.identity import NAMESPACE_FILE, Identity, resolve_identity, resolve_token
from receiver.agent.loop import Changes, Check, Outcome, Report, run_loop
from receiver.agent.wire import Beat, HealthStatus, PushResult, as_status, require_http_url, send

_MAX_TIMEOUT = 5.0
_log = logging.getLogger("receiver.agent")


class Heartbeat:
    """Pushes heartbeats for one pod; identity and token default to what Kubernetes provides."""

    __slots__ = ("_token", "identity", "interval", "timeout", "url")

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        token_file: Path | str | None = None,
        namespace: str | None = None,
        pod: str | None = None,
        interval: float = 5.0,
        timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
        namespace_file: Path = NAMESPACE_FILE,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        env = os.environ if environ is None else environ
        self.url = require_http_url(url, what="heartbeat URL")
        self.identity = resolve_identity(
            namespace=namespace, pod=pod, environ=env, namespace_file=namespace_file
        )
        self._token = resolve_token(token=token, token_file=token_file, environ=env)
        self.interval = interval
        # A push that outlives its interval is worthless: the next one is already due.
        self.timeout = min(interval, _MAX_TIMEOUT) if timeout is None else timeout

    def __repr__(self) -> str:
        # Deliberately without the token: reprs end up in logs and tracebacks.
        return f"Heartbeat(url={self.url!r}, pod={str(self.identity)!r}, interval={self.interval})"

    def push(self, status: HealthStatus | str, *, reason: str = "") -> PushResult:
        """Push one status: the server's result, or HeartbeatRejected / HeartbeatFailed."""
        beat = Beat(
            identity=self.identity, status=as_status(status), reason=reason, interval=self.interval
        )
        (result,) = send(self.url, beat, token=self._token.read(), timeout=self.timeout)
        return result

    def start(self, check: Check, *, report: Report | None = None) -> Running:
        """Push `check()` now and every interval from a daemon thread until stopped.

        Failed pushes never end the loop: each is reported (by default logged
        to the "receiver.agent" logger) and the next interval tries again.
        """
        stop = threading.Event()
        thread = threading.Thread(
            target=run_loop,
            args=(self._push_checked, check),
            kwargs={
                "interval": self.interval,
                "stop": stop,
                "report": report or _logging_report(self.identity),
            },
            name=f"heartbeat {self.identity}",
            daemon=True,
        )
        thread.start()
        return Running(thread, stop)

    def _push_checked(self, status: HealthStatus, reason: str) -> PushResult:
        return self.push(status, reason=reason)


class Running:
    """A background heartbeat loop; call it, or its `stop`, to end it."""

    __slots__ = ("_stop", "_thread")

    def __init__(self, thread: threading.Thread, stop: threading.Event) -> None:
        self._thread = thread
        self._stop = stop

    def stop(self, timeout: float | None = None) -> None:
        """Stop and wait for a push in flight (bounded by the request timeout)."""
        self._stop.set()
        self._thread.join(timeout)

    __call__ = stop

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


def _logging_report(identity: Identity) -> Report:
    """Outcomes as Python log records, one per failure and per change of state."""
    changes = Changes()

    def log(outcome: Outcome) -> None:
        if not changes(outcome):
            return
        if outcome.error is not None:
            transient = isinstance(outcome.error, HeartbeatFailed)
            level = logging.WARNING if transient else logging.ERROR
            _log.log(level, "heartbeat %s: %s", identity, outcome.error)
            return
        result = outcome.result.result if outcome.result else ""
        healthy = result == "accepted" and outcome.status is HealthStatus.OK
        _log.log(
            logging.INFO if healthy else logging.WARNING,
            "heartbeat %s: %s, %s (%s)",
            identity,
            outcome.status,
            outcome.reason or "no reason",
            result,
        )

    return log
