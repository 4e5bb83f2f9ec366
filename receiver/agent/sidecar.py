"""`receiver heartbeat`: a sidecar that checks the app's health endpoint and pushes it.

For apps that cannot embed the Python helper: every interval it GETs the
app's local health URL (see `check`), pushes the status to the receiver, and
writes one JSON line to stderr per change of state and per failed push.
Exit 0 when stopped (SIGTERM, SIGINT or the `stop` event), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType

from receiver.agent.check import check_all, check_once
from receiver.agent.durations import parse_duration
from receiver.agent.errors import HeartbeatConfigError, HeartbeatFailed
from receiver.agent.identity import NAMESPACE_ENV, NAMESPACE_FILE, POD_ENV, TOKEN_ENV
from receiver.agent.loop import Changes, Outcome, Report, run_loop
from receiver.agent.push import Heartbeat
from receiver.agent.wire import HealthStatus, require_http_url

__all__ = ["add_arguments", "check_once", "run"]

EXIT_STOPPED = 0
EXIT_USAGE = 2
_MAX_TIMEOUT = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sidecar's flags, for the `receiver heartbeat` subcommand (or any parser)."""
    parser.add_argument(
        "--url", required=True, type=_url("--url"), help="the receiver's heartbeat endpoint"
    )
    parser.add_argument(
        "--check",
        required=True,
        action="append",
        type=_url("--check"),
        metavar="URL",
        help="the app's health URL; repeat for each container (one beat: the worst)",
    )
    parser.add_argument(
        "--interval", type=_duration, default="5s", help="check and push every (default 5s)"
    )
    parser.add_argument("--namespace", help=f"default ${NAMESPACE_ENV}, then {NAMESPACE_FILE}")
    parser.add_argument("--pod", help=f"default ${POD_ENV}, then $HOSTNAME")
    parser.add_argument(
        "--token-file", type=Path, help=f"bearer token, re-read every push (default ${TOKEN_ENV})"
    )
    parser.add_argument(
        "--timeout", type=_duration, help="per check and per push (default interval/2, max 5s)"
    )


def run(
    args: argparse.Namespace,
    *,
    stop: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
    namespace_file: Path = NAMESPACE_FILE,
) -> int:
    """Check and push every interval until `stop` is set (or SIGTERM/SIGINT without one)."""
    interval: float = args.interval
    # Check and push share one interval, so a hanging app still gets its
    # "failing" beat out before the next one is due.
    timeout: float = args.timeout or min(interval / 2, _MAX_TIMEOUT)
    try:
        heartbeat = Heartbeat(
            url=args.url,
            token_file=args.token_file,
            namespace=args.namespace,
            pod=args.pod,
            interval=interval,
            timeout=timeout,
            environ=environ,
            namespace_file=namespace_file,
        )
    except HeartbeatConfigError as exc:
        print(f"receiver heartbeat: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pod = str(heartbeat.identity)
    _emit(
        "info",
        "started",
        pod=pod,
        url=args.url,
        check=args.check[0] if len(args.check) == 1 else args.check,
        interval=interval,
        timeout=timeout,
    )
    stopping = stop or threading.Event()
    with _stop_on_signals(stopping) if stop is None else contextlib.nullcontext():
        run_loop(
            lambda status, reason: heartbeat.push(status, reason=reason),
            lambda: check_all(args.check, timeout),
            interval=interval,
            stop=stopping,
            report=_json_report(pod),
        )
    _emit("info", "stopped", pod=pod)
    return EXIT_STOPPED


def _json_report(pod: str) -> Report:
    changes = Changes()

    def report(outcome: Outcome) -> None:
        if not changes(outcome):
            return
        fields = {"pod": pod, "status": outcome.status.value, "reason": outcome.reason}
        if outcome.error is not None:
            transient = isinstance(outcome.error, HeartbeatFailed)
            _emit(
                "warning" if transient else "error",
                "push failed",
                **fields,
                error=str(outcome.error),
                transient=transient,
                http_status=outcome.error.status,
            )
            return
        result = outcome.result.result if outcome.result else ""
        healthy = result == "accepted" and outcome.status is HealthStatus.OK
        level = "info" if healthy else "warning"
        _emit(level, "state", **fields, result=result)

    return report


def _emit(level: str, event: str, **fields: object) -> None:
    # One JSON object per line on stderr: what log collectors parse without configuration.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = {"time": now, "level": level, "event": event, **fields}
    print(json.dumps(line), file=sys.stderr, flush=True)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (the kubelet stopping the pod) and SIGINT end the loop after the beat in flight."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python only delivers signals to the main thread; the caller owns stopping.
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        # Not stop.set() here: the handler may interrupt the main thread while it
        # holds the event's lock inside stop.wait(), and would then wait on itself.
        threading.Thread(target=stop.set, name="heartbeat stop").start()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _url(flag: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return require_http_url(text, what=flag)
        except HeartbeatConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse
