"""`receiver status | decisions | resume | reset | hold | unhold | explain`: the CLI as a client.

All but `explain` talk to a running receiver over its HTTP API: the URL
from --url or $RECEIVER_URL, the bearer token (needed by resume, reset,
hold and unhold)
from --token-file or $RECEIVER_TOKEN, the variable the server reads too.
`explain` is offline: it reads a runbook and asks the decision core.
Only the standard library speaks HTTP here, so the commands start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from receiver.report.query import FILTERS

URL_ENV = "RECEIVER_URL"
TOKEN_ENV = "RECEIVER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"
FOLLOW_EVERY = 1.0


class ClientError(Exception):
    """A request that did not get the answer wanted; the message says what came back."""


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    _connection(parser)


def add_decisions_arguments(parser: argparse.ArgumentParser) -> None:
    _connection(parser)
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new ones")
    parser.add_argument("--limit", type=int, default=50, help="how many (%(default)s)")
    for name in FILTERS:
        parser.add_argument(f"--{name}", default="", help=f"only decisions with this {name}")


def add_resume_arguments(parser: argparse.ArgumentParser) -> None:
    _connection(parser)
    parser.add_argument("pod", help="NAMESPACE/POD")


def add_reset_arguments(parser: argparse.ArgumentParser) -> None:
    _connection(parser)
    parser.add_argument("supervisor", help="the supervisor's name")


def add_hold_arguments(parser: argparse.ArgumentParser) -> None:
    _connection(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--pod", help="NAMESPACE/POD")
    what.add_argument("--workload", help="NAMESPACE/KIND/NAME, e.g. shop/Deployment/web")
    what.add_argument("--supervisor", help="a supervisor's name: its whole subtree is held")
    until = parser.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", help="how long, e.g. 30m, 2h (at most 7d)")
    until.add_argument("--until", help="until when, e.g. 2026-12-04T08:00:00Z (at most 7d ahead)")
    parser.add_argument("--reason", required=True, help="why, for whoever finds the hold")
    parser.add_argument("--author", help="who, when the token is shared (recorded with its name)")


def add_unhold_arguments(parser: argparse.ArgumentParser) -> None:
    _connection(parser)
    parser.add_argument("id", help="the hold's id (receiver status lists them)")


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runbook", type=Path, required=True, help="the runbook YAML file")
    parser.add_argument("--fleet", type=Path, help="the fleet (a file with a `fleet:` list)")
    parser.add_argument(
        "--replicas",
        type=int,
        default=10,
        help="without --fleet: the pod and healthy peers, a Deployment of this size (%(default)s)",
    )
    parser.add_argument("labels", nargs="+", help="the alert's labels as NAME=VALUE")


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"the receiver (or ${URL_ENV}; default {DEFAULT_URL})")
    parser.add_argument("--token-file", type=Path, help=f"bearer token file (or ${TOKEN_ENV})")


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    try:
        if args.command == "explain":
            return _explain(args, out)
        api = Api.from_args(args)
        if args.command == "status":
            return _status(api, out)
        if args.command == "decisions":
            return _decisions(api, args, out)
        if args.command == "resume":
            return _operator(api, f"/api/v1/pods/{_pod_path(args.pod)}/resume", out)
        if args.command == "hold":
            return _hold(api, args, out)
        if args.command == "unhold":
            return _operator(api, f"/api/v1/holds/{_quote(args.id)}", out, method="DELETE")
        return _operator(api, f"/api/v1/supervisors/{_quote(args.supervisor)}/reset", out)
    except ClientError as exc:
        print(f"receiver {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


class Api:
    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Api:
        url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
        if args.token_file is not None:
            try:
                lines = args.token_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ClientError(f"token file {args.token_file}: {exc.strerror or exc}") from exc
            tokens = [t.strip() for t in lines if t.strip() and not t.startswith("#")]
            token = tokens[0] if tokens else None
        else:
            token = (os.environ.get(TOKEN_ENV) or "").split(",")[0].strip() or None
        return cls(url, token)

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, str] | None = None,
    ) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v})
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = b"" if method == "POST" else None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self.url}{path}" + (f"?{query}" if query else ""),
            method=method,
            data=data,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ClientError(f"{exc.code} from {self.url}: {_error(exc)}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError(
                f"cannot reach {self.url}: {reason} (set --url or ${URL_ENV})"
            ) from exc


def _error(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", exc.reason))
    except ValueError:
        return str(exc.reason)


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _pod_path(pod: str) -> str:
    namespace, slash, name = pod.partition("/")
    if not slash or not namespace or not name:
        raise ClientError(f"found {pod!r}, expected NAMESPACE/POD")
    return f"{_quote(namespace)}/{_quote(name)}"


def _status(api: Api, out: Callable[[str], None]) -> int:
    from receiver.report.text import status_lines  # only what this command needs

    for line in status_lines(api.call("GET", "/api/v1/status")):
        out(line)
    return 0


def _decisions(api: Api, args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """The latest --limit matching decisions; with --follow, then every new one."""
    from receiver.report.text import decision_lines

    filters = {name: getattr(args, name) for name in FILTERS}
    entries, cursor = _all_since(api, filters, 0)
    shown = entries[-args.limit :] if args.limit > 0 else entries
    while True:
        for entry in shown:
            _print_all(decision_lines(entry), out)
        if not args.follow:
            return 0
        time.sleep(FOLLOW_EVERY)
        shown, cursor = _all_since(api, filters, cursor)


def _all_since(api: Api, filters: dict[str, str], cursor: int) -> tuple[list[Any], int]:
    """Every matching entry after `cursor`, page by page, and the cursor to go on from."""
    entries: list[Any] = []
    while True:
        page = api.call(
            "GET", "/api/v1/decisions", {**filters, "since": str(cursor), "limit": "2000"}
        )
        entries.extend(page["decisions"])
        cursor = page["next"]
        if not page["more"]:
            return entries, cursor


def _print_all(lines: Iterable[str], out: Callable[[str], None]) -> None:
    for line in lines:
        out(line)
    sys.stdout.flush()


def _operator(api: Api, path: str, out: Callable[[str], None], *, method: str = "POST") -> int:
    from receiver.report.text import decision_lines

    answer = api.call(method, path)
    _print_all(decision_lines(answer["decision"]), out)
    return 0


def _hold(api: Api, args: argparse.Namespace, out: Callable[[str], None]) -> int:
    """Ask for a hold; the receiver checks every field and says which one is wrong."""
    from receiver.report.text import decision_lines

    body = {
        key: value
        for key, value in (
            ("pod", args.pod),
            ("workload", args.workload),
            ("supervisor", args.supervisor),
            ("for", args.duration),
            ("until", args.until),
            ("reason", args.reason),
            ("author", args.author),
        )
        if value is not None
    }
    answer = api.call("POST", "/api/v1/holds", body=body)
    hold = answer["hold"]
    out(
        f"hold {hold['id']}: {hold['kind']} {hold['target']} held by {hold['author']} "
        f"until {hold['expires']} (lift it: receiver unhold {hold['id']})"
    )
    _print_all(decision_lines(answer["decision"]), out)
    return 0


def _explain(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    from receiver.report.explain import assumed_fleet, explain
    from receiver.runbook import RunbookInvalid, load_file
    from receiver.scenario.spec import load_fleet_file
    from receiver.service.serve import memory_cluster

    labels = dict(_label(text) for text in args.labels)
    missing = [n for n in ("alertname", "namespace", "pod") if not labels.get(n)]
    if missing:
        raise ClientError(f"labels need {', '.join(missing)} (as NAME=VALUE)")
    try:
        runbook = load_file(args.runbook)
        fleet = load_fleet_file(args.fleet) if args.fleet else ()
    except RunbookInvalid as exc:
        raise ClientError("; ".join(str(p) for p in exc.problems)) from exc
    except OSError as exc:
        raise ClientError(str(exc)) from exc
    now = time.time()
    snapshot = (
        memory_cluster(runbook, fleet, clock=lambda: now).snapshot()
        if fleet
        else assumed_fleet(labels, max(1, args.replicas))
    )
    if not fleet:
        peers = max(1, args.replicas) - 1
        out(f"fleet: assumed, the pod and {peers} healthy peers (--fleet FILE to give it)")
    for line in explain(runbook, snapshot, labels, now):
        out(line)
    return 0


def _label(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise ClientError(f"found {text!r}, expected a label as NAME=VALUE")
    return name, value.strip('"')
