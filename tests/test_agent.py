"""The pod side of heartbeats against real local HTTP servers: a stand-in receiver and app."""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from receiver.agent import (
    Beat,
    HealthStatus,
    Heartbeat,
    HeartbeatConfigError,
    HeartbeatFailed,
    HeartbeatRejected,
    Identity,
    Outcome,
    PushResult,
    check_all,
    check_once,
    parse_duration,
    resolve_identity,
    send,
    sidecar,
)

AGENT = Path(__file__).parent.parent / "receiver" / "agent"
TOKEN = "s3cret-token"
WAIT = 5.0  # upper bound for waiting on a background beat; tests finish far sooner

Answer = tuple[int, object]


def accept_all(body: Any) -> Answer:
    items = body if isinstance(body, list) else [body]
    results = [{"pod": f"{i['namespace']}/{i['pod']}", "result": "accepted"} for i in items]
    return 200, {"results": results}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Peer:
    """What a stand-in server answers, and what it was sent."""

    answer: Callable[[object], Answer] = accept_all
    seen: list[Seen] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def wait_for(self, count: int) -> list[Seen]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.seen) >= count, WAIT), self.seen
            return list(self.seen)


class Handler(BaseHTTPRequestHandler):
    server: PeerServer

    def do_POST(self) -> None:
        self._answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

    def do_GET(self) -> None:
        self._answer(None)

    def _answer(self, body: object) -> None:
        peer = self.server.peer
        status, answer = peer.answer(body)
        if status == 0:  # stands for "never answers in time"
            peer.release.wait(WAIT)
            return
        with peer.arrived:
            headers = {k.lower(): v for k, v in self.headers.items()}
            peer.seen.append(Seen(self.command, self.path, headers, body))
            peer.arrived.notify_all()
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://elsewhere.example/steal")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class PeerServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every handler thread

    def __init__(self, peer: Peer) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.peer = peer


def serve() -> Iterator[Peer]:
    peer = Peer()
    server = PeerServer(peer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield peer
    server.shutdown()
    peer.release.set()  # let a deliberately slow handler finish so server_close can join it
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t.name for t in threading.enumerate() if t not in before]
    assert leaked == [], "every thread a test starts must be gone when it ends"


@pytest.fixture
def receiver() -> Iterator[Peer]:
    yield from serve()


@pytest.fixture
def app() -> Iterator[Peer]:
    for peer in serve():
        peer.answer = fixed(200, b"OK")
        yield peer


@pytest.fixture
def refused() -> str:
    """A URL on a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/healthz"


def heartbeat(receiver: Peer, **overrides: object) -> Heartbeat:
    options: dict[str, object] = {
        "url": receiver.url + "/api/v1/heartbeats",
        "token": TOKEN,
        "namespace": "shop",
        "pod": "web-0",
        "interval": 5.0,
        "timeout": 2.0,  # generous: a loaded CI machine must not turn a beat into a timeout
        "environ": {},
    }
    return Heartbeat(**{**options, **overrides})  # type: ignore[arg-type]


def fixed(status: int, body: object = b"") -> Callable[[object], Answer]:
    return lambda _: (status, body)


# --- one push -----------------------------------------------------------------------------


def test_push_carries_the_json_and_the_bearer_token(receiver: Peer) -> None:
    result = heartbeat(receiver).push("degraded", reason="db pool exhausted")

    assert result == PushResult("shop/web-0", "accepted")
    assert result.accepted
    (seen,) = receiver.seen
    assert (seen.method, seen.path) == ("POST", "/api/v1/heartbeats")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == {
        "namespace": "shop",
        "pod": "web-0",
        "status": "degraded",
        "reason": "db pool exhausted",
        "interval": 5,
    }


def test_a_long_reason_is_cut_to_what_the_receiver_accepts(receiver: Peer) -> None:
    heartbeat(receiver).push("failing", reason="x" * 5000)

    assert receiver.seen[0].body["reason"] == "x" * 1024


def test_a_batch_is_one_array_with_a_result_per_beat(receiver: Peer) -> None:
    receiver.answer = fixed(
        200,
        {
            "results": [
                {"pod": "shop/web-0", "result": "accepted"},
                {"pod": "shop/web-9", "result": "unknown_pod"},
            ]
        },
    )
    beats = [
        Beat(identity=Identity("shop", "web-0"), status=HealthStatus.OK, interval=0.5),
        Beat(identity=Identity("shop", "web-9"), status=HealthStatus.FAILING, interval=2),
    ]

    results = send(receiver.url, beats, token=TOKEN, timeout=1.0)

    assert [r.accepted for r in results] == [True, False]
    assert receiver.seen[0].body == [
        {"namespace": "shop", "pod": "web-0", "status": "ok", "interval": 0.5},
        {"namespace": "shop", "pod": "web-9", "status": "failing", "interval": 2},
    ]


REJECTIONS = [
    pytest.param(
        400,
        {"error": "must be one of ok, degraded, failing", "field": "status", "got": "sick"},
        "receiver rejected the heartbeat: HTTP 400: must be one of ok, degraded, failing "
        "(field 'status')",
        id="400-names-the-field",
    ),
    pytest.param(
        401,
        {"error": "invalid bearer token"},
        "receiver rejected the heartbeat: HTTP 401: invalid bearer token",
        id="401",
    ),
    pytest.param(
        413,
        b"",
        "receiver rejected the heartbeat: HTTP 413: Request Entity Too Large",
        id="413-without-a-body",
    ),
    pytest.param(
        302,
        b"",
        "receiver rejected the heartbeat: HTTP 302: redirected to http://elsewhere.example/steal;"
        " point the URL at the heartbeat endpoint itself",
        id="302-not-followed",
    ),
    pytest.param(
        200,
        b"<html>status page</html>",
        "receiver rejected the heartbeat: HTTP 200: "
        "the answer has no results list; is the URL the heartbeat endpoint?",
        id="200-not-a-receiver",
    ),
]


@pytest.mark.parametrize(("status", "body", "message"), REJECTIONS)
def test_a_configuration_error_raises_with_the_servers_message(
    receiver: Peer, status: int, body: object, message: str
) -> None:
    receiver.answer = fixed(status, body)

    with pytest.raises(HeartbeatRejected) as caught:
        heartbeat(receiver).push("ok")

    assert str(caught.value) == message
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)


def test_a_rejection_keeps_the_whole_error_document(receiver: Peer) -> None:
    receiver.answer = fixed(400, {"error": "unknown", "field": "interval", "got": "soon"})

    with pytest.raises(HeartbeatRejected) as caught:
        heartbeat(receiver).push("ok")

    assert caught.value.field == "interval"
    assert caught.value.detail["got"] == "soon"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        pytest.param(503, "heartbeat push failed: HTTP 503: kubernetes API unavailable", id="503"),
        pytest.param(500, "heartbeat push failed: HTTP 500: kubernetes API unavailable", id="500"),
        pytest.param(429, "heartbeat push failed: HTTP 429: kubernetes API unavailable", id="429"),
    ],
)
def test_a_server_error_is_transient(receiver: Peer, status: int, message: str) -> None:
    receiver.answer = fixed(status, {"error": "kubernetes API unavailable"})

    with pytest.raises(HeartbeatFailed) as caught:
        heartbeat(receiver).push("ok")

    assert (str(caught.value), caught.value.status) == (message, status)


def test_a_refused_connection_is_transient(receiver: Peer, refused: str) -> None:
    with pytest.raises(HeartbeatFailed) as caught:
        heartbeat(receiver, url=refused).push("ok")

    assert str(caught.value) == f"heartbeat push failed: {refused}: connection refused"
    assert caught.value.status is None


def test_a_slow_receiver_is_a_transient_timeout(receiver: Peer) -> None:
    receiver.answer = fixed(0)

    with pytest.raises(HeartbeatFailed, match="timed out"):
        heartbeat(receiver, timeout=0.05).push("ok")


def test_the_token_stays_out_of_the_repr(receiver: Peer) -> None:
    beat = heartbeat(receiver)

    assert TOKEN not in repr(beat)
    assert "shop/web-0" in repr(beat)


def test_the_timeout_defaults_to_the_interval_at_most_five_seconds(receiver: Peer) -> None:
    assert heartbeat(receiver, interval=0.5, timeout=None).timeout == 0.5
    assert heartbeat(receiver, interval=30.0, timeout=None).timeout == 5.0


def test_an_unknown_status_is_refused_before_sending(receiver: Peer) -> None:
    with pytest.raises(ValueError, match="status must be one of ok, degraded, failing, got 'up'"):
        heartbeat(receiver).push("up")
    assert receiver.seen == []


# --- identity and token -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "environ", "file", "expected"),
    [
        pytest.param(
            {},
            {"POD_NAMESPACE": "shop", "POD_NAME": "web-0", "HOSTNAME": "ignored"},
            None,
            Identity("shop", "web-0"),
            id="downward-api-env",
        ),
        pytest.param(
            {}, {"HOSTNAME": "web-1"}, "shop\n", Identity("shop", "web-1"), id="file-and-hostname"
        ),
        pytest.param(
            {"namespace": "ops", "pod": "cron-7"},
            {"POD_NAMESPACE": "shop", "POD_NAME": "web-0"},
            "shop",
            Identity("ops", "cron-7"),
            id="explicit-wins",
        ),
    ],
)
def test_identity_defaults(
    tmp_path: Path,
    explicit: dict[str, str],
    environ: dict[str, str],
    file: str | None,
    expected: Identity,
) -> None:
    namespace_file = tmp_path / "namespace"
    if file is not None:
        namespace_file.write_text(file)

    identity = resolve_identity(**explicit, environ=environ, namespace_file=namespace_file)

    assert identity == expected


def test_a_missing_identity_names_every_source_it_tried(tmp_path: Path) -> None:
    with pytest.raises(HeartbeatConfigError) as caught:
        resolve_identity(environ={}, namespace_file=tmp_path / "none")

    assert str(caught.value) == (
        f"cannot tell who this pod is: no namespace (--namespace, $POD_NAMESPACE or "
        f"{tmp_path / 'none'}) and no pod name (--pod, $POD_NAME or $HOSTNAME)"
    )


def test_the_token_comes_from_the_environment(receiver: Peer) -> None:
    heartbeat(receiver, token=None, environ={"RECEIVER_HEARTBEAT_TOKEN": "from-env"}).push("ok")

    assert receiver.seen[0].headers["authorization"] == "Bearer from-env"


def test_a_token_file_is_read_again_on_every_push(receiver: Peer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    beat = heartbeat(receiver, token=None, token_file=token_file)
    beat.push("ok")
    token_file.write_text("rotated\n")
    beat.push("ok")

    assert [s.headers["authorization"] for s in receiver.seen] == [
        "Bearer first",
        "Bearer rotated",
    ]


@pytest.mark.parametrize(
    ("token_file", "message"),
    [
        pytest.param(
            None, "no token: pass a token file or set $RECEIVER_HEARTBEAT_TOKEN", id="none"
        ),
        pytest.param("missing", "token file {}: No such file or directory", id="unreadable"),
    ],
)
def test_a_missing_token_is_a_configuration_error(
    receiver: Peer, tmp_path: Path, token_file: str | None, message: str
) -> None:
    path = None if token_file is None else tmp_path / token_file

    with pytest.raises(HeartbeatConfigError) as caught:
        heartbeat(receiver, token=None, token_file=path)

    assert str(caught.value) == message.format(path)


# --- the background loop ------------------------------------------------------------------


def test_the_background_loop_pushes_every_interval_and_stops(receiver: Peer) -> None:
    statuses = iter(["ok", "degraded", "failing"])
    running = heartbeat(receiver, interval=0.05).start(lambda: (next(statuses, "ok"), "why"))

    seen = receiver.wait_for(4)
    running.stop()

    assert not running.alive
    assert [s.body["status"] for s in seen[:4]] == ["ok", "degraded", "failing", "ok"]


def test_the_default_report_logs_changes_not_beats(
    receiver: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="receiver.agent")
    running = heartbeat(receiver, interval=0.05).start(lambda: ("ok", ""))
    receiver.wait_for(3)
    running.stop()

    assert [r.getMessage() for r in caplog.records] == [
        "heartbeat shop/web-0: ok, no reason (accepted)"
    ]
    assert TOKEN not in caplog.text


def test_the_loop_survives_failed_pushes_and_crashing_checks(receiver: Peer) -> None:
    answers = iter([(503, {"error": "busy"}), (400, {"error": "bad", "field": "pod"})])
    receiver.answer = lambda body: next(answers, None) or accept_all(body)
    reported: list[Outcome] = []

    def check() -> tuple[str, str]:
        raise RuntimeError("db gone")

    running = heartbeat(receiver, interval=0.05).start(check, report=reported.append)
    receiver.wait_for(3)
    running()

    assert [type(o.error).__name__ for o in reported[:3]] == [
        "HeartbeatFailed",
        "HeartbeatRejected",
        "NoneType",
    ]
    assert receiver.seen[2].body == {
        "namespace": "shop",
        "pod": "web-0",
        "status": "failing",
        "reason": "check raised RuntimeError: db gone",
        "interval": 0.05,
    }


# --- the health check mapping ---------------------------------------------------------------

CHECKS = [
    pytest.param((200, b"OK"), "ok", "", id="200"),
    pytest.param((204, b""), "ok", "", id="204"),
    pytest.param(
        (200, {"status": "degraded", "reason": "cache cold"}),
        "degraded",
        "cache cold",
        id="200-json-degraded",
    ),
    pytest.param((200, {"status": "UP"}), "ok", "", id="200-json-unknown-status"),
    pytest.param((429, b""), "degraded", "check {url}: HTTP 429", id="429"),
    pytest.param((500, {"status": "ok"}), "failing", "check {url}: HTTP 500", id="500"),
    pytest.param((404, b""), "failing", "check {url}: HTTP 404", id="404"),
    pytest.param((0, b""), "failing", "check {url}: timed out after 0.05s", id="timeout"),
    pytest.param(None, "failing", "check {url}: connection refused", id="refused"),
]


@pytest.mark.parametrize(("answer", "status", "reason"), CHECKS)
def test_check_mapping(
    app: Peer, refused: str, answer: Answer | None, status: str, reason: str
) -> None:
    url = refused if answer is None else app.url + "/healthz"
    if answer is not None:
        app.answer = fixed(*answer)

    timeout = 0.05 if answer and answer[0] == 0 else 2.0

    assert check_once(url, timeout) == (status, reason.format(url=url))


# --- the sidecar --------------------------------------------------------------------------


def sidecar_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="receiver heartbeat")
    sidecar.add_arguments(parser)
    return parser.parse_args(list(argv))


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_sidecar_pushes_what_the_check_says(
    receiver: Peer, app: Peer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.answer = fixed(429)
    (tmp_path / "token").write_text(TOKEN)
    args = sidecar_args(
        *("--url", receiver.url + "/api/v1/heartbeats", "--check", app.url + "/healthz"),
        *("--interval", "50ms", "--timeout", "2s", "--namespace", "shop", "--pod", "web-0"),
        *("--token-file", str(tmp_path / "token")),
    )
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(sidecar.run(args, stop=stop)))
    thread.start()
    seen = receiver.wait_for(3)
    stop.set()
    thread.join()

    assert codes == [0]
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].body == {
        "namespace": "shop",
        "pod": "web-0",
        "status": "degraded",
        "reason": f"check {app.url}/healthz: HTTP 429",
        "interval": 0.05,
    }
    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["started", "state", "stopped"], "changes only"
    assert lines[1]["status"] == "degraded"
    assert lines[1]["result"] == "accepted"
    assert TOKEN not in json.dumps(lines)


def test_the_sidecar_logs_every_failed_push(
    receiver: Peer, app: Peer, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.answer = fixed(503, {"error": "kubernetes API unavailable"})
    args = sidecar_args(
        *("--url", receiver.url, "--check", app.url, "--interval", "0.05", "--timeout", "2"),
        *("--namespace", "shop", "--pod", "web-0"),
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=sidecar.run,
        args=(args,),
        kwargs={"stop": stop, "environ": {"RECEIVER_HEARTBEAT_TOKEN": TOKEN}},
    )
    thread.start()
    receiver.wait_for(2)
    stop.set()
    thread.join()

    lines = json_lines(capsys.readouterr().err)
    failures = [line for line in lines if line["event"] == "push failed"]
    assert len(failures) >= 2
    assert failures[0]["transient"] is True
    assert failures[0]["http_status"] == 503
    assert failures[0]["level"] == "warning"


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        pytest.param(
            [],
            {"RECEIVER_HEARTBEAT_TOKEN": TOKEN},
            "receiver heartbeat: cannot tell who this pod is: no namespace",
            id="missing-identity",
        ),
        pytest.param(
            ["--namespace", "shop", "--pod", "web-0", "--token-file", "/nonexistent/token"],
            {},
            "receiver heartbeat: token file /nonexistent/token: No such file or directory",
            id="unreadable-token-file",
        ),
    ],
)
def test_bad_configuration_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    environ: dict[str, str],
    message: str,
) -> None:
    args = sidecar_args("--url", "http://receiver:8080", "--check", "http://localhost/", *argv)

    code = sidecar.run(args, stop=threading.Event(), environ=environ, namespace_file=tmp_path / "x")

    assert code == 2
    assert capsys.readouterr().err.startswith(message)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--interval", "5 parsecs"], "'5 parsecs' is not a duration", id="interval"),
        pytest.param(["--timeout", "0s"], "'0s' must be longer than zero", id="timeout"),
        pytest.param(["--url", "receiver:8080"], "is not an http:// or https:// URL", id="url"),
    ],
)
def test_bad_flags_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        sidecar_args("--url", "http://receiver:8080", "--check", "http://localhost/", *argv)

    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_sigterm_stops_the_stdlib_only_sidecar_with_exit_0(receiver: Peer, app: Peer) -> None:
    argv = ["--url", receiver.url, "--check", app.url, "--interval", "50ms", "--timeout", "2s"]
    process = subprocess.Popen(
        [sys.executable, "-m", "receiver.agent", *argv, "--namespace", "shop", "--pod", "web-0"],
        env={**os.environ, "RECEIVER_HEARTBEAT_TOKEN": TOKEN},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        receiver.wait_for(1)
        process.terminate()
        _, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()

    assert process.returncode == 0, err
    assert json_lines(err)[-1]["event"] == "stopped"


# --- durations and the stdlib-only contract -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), ("1m30s", 90.0), ("1h", 3600.0), ("2.5", 2.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_the_agent_imports_only_the_standard_library() -> None:
    foreign = []
    for module in sorted(AGENT.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                allowed = name.startswith("receiver.agent") or name == "__future__"
                if not allowed and name.split(".")[0] not in sys.stdlib_module_names:
                    foreign.append(f"{module.name}: {name}")
    assert foreign == []


PROBE = """
import json, sys
import receiver.agent.__main__
print(json.dumps(sorted(n for n in sys.modules if n.split(".")[0] not in sys.stdlib_module_names)))
"""


def test_the_sidecar_runs_without_site_packages() -> None:
    # -S: no site-packages at all, so any third-party import would fail here.
    probe = subprocess.run(
        [sys.executable, "-S", "-c", PROBE],
        env={**os.environ, "PYTHONPATH": str(AGENT.parent.parent)},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(probe.stdout)
    assert [n for n in loaded if not n.startswith("receiver.agent")] == ["__main__", "receiver"]


# --- speaking for several: containers in one beat, pods in one batch -----------------------------


def test_several_checks_make_one_beat_with_the_worst_status_and_its_reasons() -> None:
    urls = []
    peers = [serve() for _ in range(3)]
    try:
        for peer, answer in zip(peers, (fixed(200, b"OK"), fixed(500), fixed(503)), strict=True):
            started = next(peer)
            started.answer = answer
            urls.append(started.url + "/healthz")

        status, reason = check_all(urls, timeout=2.0)
    finally:
        for peer in peers:
            next(peer, None)

    assert status is HealthStatus.FAILING
    assert reason == f"check {urls[1]}: HTTP 500; check {urls[2]}: HTTP 503"


def test_several_checks_all_ok_are_ok() -> None:
    peers = [serve() for _ in range(2)]
    try:
        urls = []
        for peer in peers:
            started = next(peer)
            started.answer = fixed(200, {"status": "ok"})
            urls.append(started.url + "/healthz")
        assert check_all(urls, timeout=2.0) == (HealthStatus.OK, "")
    finally:
        for peer in peers:
            next(peer, None)


def test_the_sidecar_takes_one_check_per_container() -> None:
    parser = argparse.ArgumentParser()
    sidecar.add_arguments(parser)
    args = parser.parse_args(
        ["--url", "http://r/api/v1/heartbeats", "--check", "http://localhost:1/healthz",
         "--check", "http://localhost:2/ready"]
    )  # fmt: skip
    assert args.check == ["http://localhost:1/healthz", "http://localhost:2/ready"]


def test_a_batch_for_several_pods_carries_each_pods_token_and_no_header(receiver: Peer) -> None:
    beats = [
        Beat(identity=Identity("shop", f"web-{i}"), status=HealthStatus.OK, token=f"pod-{i}")
        for i in range(2)
    ]

    results = send(receiver.url, beats, token=None, timeout=2.0)

    assert [r.accepted for r in results] == [True, True]
    (seen,) = receiver.seen
    assert "authorization" not in seen.headers
    assert [item["token"] for item in seen.body] == ["pod-0", "pod-1"]
    assert "pod-0" not in repr(beats[0])


@pytest.mark.parametrize(
    ("tokens", "header"),
    [((None, "pod-1"), None), (("pod-0", None), TOKEN), ((None, None), None)],
    ids=["a beat without its token", "beat tokens and a header", "no token at all"],
)
def test_a_batch_proves_each_pod_or_none_never_a_mix(
    receiver: Peer, tokens: tuple[str | None, str | None], header: str | None
) -> None:
    beats = [
        Beat(identity=Identity("shop", f"web-{i}"), status=HealthStatus.OK, token=t)
        for i, t in enumerate(tokens)
    ]
    with pytest.raises(ValueError, match="either a token for the request or one in every beat"):
        send(receiver.url, beats, token=header, timeout=2.0)
    assert receiver.seen == []
