"""Reloading a bad runbook, on every path: a 400 with problems, the metric at 0, the loop free.

Each kind of bad file once crashed a reload (500 on POST /-/reload, a traceback
on SIGHUP and in the watcher) and left remediation_runbook_last_reload_successful
at 1. These run through Starlette's TestClient and against a live `receiver serve`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import free_port, wait_for
from service_builders import RUNBOOK, Harness, auth, harness
from test_serve import RECEIVER, get, reload_ok

from receiver.runbook.limits import MAX_BYTES
from receiver.service import runtime
from receiver.service.app import create_app

TOKEN = "reload-test-token-0123456789"
HEAD = "apiVersion: remediation/v1\nkind: Runbook\nsettings:\n  namespaces: [shop]\n"


def _aliases() -> bytes:
    """Ten levels of ten aliases under supervisors.children: 10^10 supervisors once expanded."""
    lines = [HEAD, "x0: &a0 {name: s, intensity: {max: 1, period: 5s}}\n"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"x{i}: &a{i} {{name: s{i}, intensity: {{max: 1, period: 5s}}, ")
        lines.append(f"children: [{refs}]}}\n")
    lines.append("supervisors: [" + ", ".join(["*a9"] * 10) + "]\n")
    return "".join(lines).encode()


DIGITS = HEAD + "  rateLimit: {max: " + "9" * 5000 + ", per: 1m}\n"
FREEZE = (
    HEAD + "supervisors:\n  - {name: s, intensity: {max: 1, period: 5s}, freezeFor: 9999999d}\n"
)

# (id, the file's bytes or None for a missing file, a fragment of the first problem)
BAD: list[tuple[str, bytes | None, str]] = [
    ("not-utf8", HEAD.encode() + b"rules:\n  - name: caf\xe9\n", "expected text in UTF-8"),
    ("nested-100k", (HEAD + "rules: " + "[" * 100_000).encode(), "nested more than 64 deep"),
    ("5000-digits", DIGITS.encode(), "a number of 5000 digits"),
    ("aliases", _aliases(), "values once aliases are expanded"),
    ("too-large", (HEAD + "#" * MAX_BYTES).encode(), f"expected at most {MAX_BYTES} bytes"),
    ("freeze-overflow", FREEZE.encode(), "expected a duration of at most 365d"),
    ("missing", None, "cannot read"),
]


def put(path: Path, content: bytes | None) -> None:
    """Replace the file in one step, as a ConfigMap update does: never seen half written."""
    if content is None:
        path.unlink(missing_ok=True)
        return
    scratch = path.with_suffix(".new")
    scratch.write_bytes(content)
    os.replace(scratch, path)


# -- through the app (TestClient) -------------------------------------------


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


@pytest.mark.parametrize(("content", "problem"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_post_reload_answers_400_with_the_problem_and_the_metric_drops(
    h: Harness, content: bytes | None, problem: str
) -> None:
    client = h.client()
    put(h.runbook_path, content)
    failed = client.post("/-/reload", headers=auth())
    assert failed.status_code == 400
    assert problem in failed.json()["problems"][0]
    assert h.metric("remediation_runbook_last_reload_successful") == 0
    assert [r.name for r in h.service.pipeline.runbook.rules] == [
        "error-outlier",
        "degraded",
        "silent",
    ]
    put(h.runbook_path, RUNBOOK.encode())
    assert client.post("/-/reload", headers=auth()).status_code == 200
    assert h.metric("remediation_runbook_last_reload_successful") == 1


def test_a_loader_bug_is_a_problem_and_a_0_not_a_500(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path, *, dry_run: bool = False) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(runtime, "load_runbook", broken)
    failed = h.client().post("/-/reload", headers=auth())
    assert failed.status_code == 400
    assert failed.json()["problems"] == [f"{h.runbook_path}: the loader failed (KeyError: 'boom')"]
    assert h.metric("remediation_runbook_last_reload_successful") == 0


def test_a_reload_loads_in_a_worker_thread_while_the_loop_answers(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    load = runtime.load_runbook

    def slow(path: Path, *, dry_run: bool = False) -> Any:
        started.set()
        release.wait(30)
        return load(path, dry_run=dry_run)

    monkeypatch.setattr(runtime, "load_runbook", slow)

    async def scenario() -> tuple[int, bool, list[str]]:
        reload = asyncio.create_task(h.service.reload("api"))
        await asyncio.to_thread(started.wait, 30)
        status = await healthz(create_app(h.service))  # the loop is free: it answers
        pending = not reload.done()
        release.set()
        return status, pending, await reload

    assert asyncio.run(scenario()) == (200, True, [])


async def healthz(app: Callable[..., Any]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/healthz", "raw_path": b"/healthz", "root_path": "",
        "query_string": b"", "headers": [], "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    return int(sent[0]["status"])


# -- a live `receiver serve`: SIGHUP and the file watcher ----------------------


def serve(
    tmp_path: Path, *, watch_interval: float
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n", encoding="utf-8")
    port = free_port()
    with (tmp_path / "server.log").open("wb") as log:  # a file, so a full pipe never stalls it
        process = subprocess.Popen(
            [
                *RECEIVER, "serve", "--runbook", str(path), "--token-file", str(tokens),
                "--listen", f"127.0.0.1:{port}", "--watch-interval", str(watch_interval),
            ],
            stdout=log,
            stderr=log,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the server", lambda: get(f"{base}/healthz") != "")
        yield process, base, path
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def by_signal(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    yield from serve(tmp_path, watch_interval=3600)  # only SIGHUP and POST reload it


@pytest.fixture
def by_watcher(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    yield from serve(tmp_path, watch_interval=0.1)


def test_sighup_and_post_reload_on_a_live_server(
    by_signal: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base, path = by_signal
    for name, content, _ in BAD:
        put(path, content)
        process.send_signal(signal.SIGHUP)
        wait_for(f"the failed reload of {name} by SIGHUP", lambda: reload_ok(base) == "0.0")
        put(path, RUNBOOK.encode())
        process.send_signal(signal.SIGHUP)
        wait_for(f"the good reload after {name}", lambda: reload_ok(base) == "1.0")
    put(path, BAD[0][1])
    request = urllib.request.Request(
        f"{base}/-/reload", method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert "expected text in UTF-8" in json.loads(caught.value.read())["problems"][0]
    assert reload_ok(base) == "0.0"
    assert process.poll() is None


def test_file_watcher_on_a_live_server(
    by_watcher: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base, path = by_watcher
    for name, content, _ in BAD:
        put(path, content)
        wait_for(f"the watcher's failed reload of {name}", lambda: reload_ok(base) == "0.0")
        put(path, RUNBOOK.encode())
        wait_for(f"the watcher's good reload after {name}", lambda: reload_ok(base) == "1.0")
    assert process.poll() is None
