"""The node relay: pods' pushes gathered into one request, each pod answered for its own beats.

The batcher is driven with a recording stand-in for the upstream POST; the
relay end to end runs a real `receiver serve` process, the relay's HTTP
server and the agent library, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for
from service_builders import RUNBOOK
from test_serve import RECEIVER, free_port, get

from receiver.agent import Heartbeat, HeartbeatRejected
from receiver.agent.batcher import Answer, Batcher, http_post
from receiver.agent.relay import Relay, serve

TOKEN = "relay-test-token-0123456789"


class Upstream:
    """Records each forwarded body; answers with `answer(items)`."""

    def __init__(self, answer: Callable[[list[dict[str, Any]]], Answer]) -> None:
        self.answer = answer
        self.bodies: list[list[dict[str, Any]]] = []

    def __call__(self, body: bytes) -> Answer:
        items = json.loads(body)
        self.bodies.append(items)
        return self.answer(items)


def accept(items: list[dict[str, Any]]) -> Answer:
    results = [{"pod": f"{i['namespace']}/{i['pod']}", "result": "accepted"} for i in items]
    return 200, {"results": results}


def beat(pod: str, status: str = "ok") -> dict[str, Any]:
    return {"namespace": "shop", "pod": pod, "status": status}


def test_pushes_gathered_go_out_as_one_request_each_item_with_its_pods_token() -> None:
    upstream = Upstream(accept)
    batcher = Batcher(upstream)
    pushes = [batcher.submit(f"token-{i}", [beat(f"web-{i}")]) for i in range(3)]
    batcher.forward(batcher._take())

    assert upstream.bodies == [[{**beat(f"web-{i}"), "token": f"token-{i}"} for i in range(3)]]
    assert [p.answer for p in pushes] == [
        (200, {"results": [{"pod": f"shop/web-{i}", "result": "accepted"}]}) for i in range(3)
    ]


def test_a_batch_stays_within_the_item_bound_and_keeps_each_push_whole() -> None:
    batcher = Batcher(Upstream(accept), max_items=4)
    sizes = [3, 2, 1, 4]
    for i, size in enumerate(sizes):
        batcher.submit("t", [beat(f"p{i}-{j}") for j in range(size)])
    taken = [[len(p.items) for p in batcher._take()] for _ in range(3)]
    assert taken == [[3], [2, 1], [4]]


@pytest.mark.parametrize(
    ("result", "answer"),
    [
        ("unauthorized", (401, {"error": "missing or invalid bearer token"})),
        ("forbidden", (403, {"error": (
            "this token belongs to another pod (or an earlier pod of this name)")})),
    ],
    ids=["unauthorized", "forbidden"],
)  # fmt: skip
def test_a_pod_whose_token_fails_gets_the_refusal_and_its_neighbours_their_results(
    result: str, answer: Answer
) -> None:
    def refuse_b(items: list[dict[str, Any]]) -> Answer:
        status, body = accept(items)
        body["results"][1]["result"] = result
        return status, body

    batcher = Batcher(Upstream(refuse_b))
    a, b, c = (batcher.submit("t", [beat(p)]) for p in "abc")
    batcher.forward([a, b, c])
    assert b.answer == answer
    assert a.answer[0] == c.answer[0] == 200


def test_an_invalid_push_is_answered_alone_with_its_own_index_and_the_rest_sent_again() -> None:
    def strict(items: list[dict[str, Any]]) -> Answer:
        for i, item in enumerate(items):
            if item["status"] not in ("ok", "degraded", "failing"):
                field = f"[{i}].status"
                return 400, {"error": f'{field}: found "meh"', "field": field}
        return accept(items)

    upstream = Upstream(strict)
    batcher = Batcher(upstream)
    good = batcher.submit("t", [beat("a"), beat("b")])
    bad = batcher.submit("t", [beat("c"), beat("d", "meh")])
    after = batcher.submit("t", [beat("e")])
    batcher.forward([good, bad, after])

    assert bad.answer == (400, {"error": '[1].status: found "meh"', "field": "[1].status"})
    assert [len(body) for body in upstream.bodies] == [5, 3]
    assert good.answer[0] == after.answer[0] == 200


def test_an_unreachable_receiver_is_a_transient_503_for_every_waiting_pod() -> None:
    with socket_refusing() as url:
        batcher = Batcher(http_post(url, timeout=1.0))
        pushes = [batcher.submit("t", [beat(p)]) for p in "ab"]
        batcher.forward(pushes)
    assert [p.answer[0] for p in pushes] == [503, 503]
    assert "connection refused" in str(pushes[0].answer[1]["error"])


def test_a_sick_pod_is_forwarded_at_once_not_at_the_next_flush() -> None:
    upstream = Upstream(accept)
    batcher = Batcher(upstream, flush_every=3600.0)
    stop = threading.Event()
    flusher = threading.Thread(target=batcher.run, args=(stop,))
    flusher.start()
    try:
        quiet = batcher.submit("t", [beat("a")])
        sick = batcher.submit("t", [beat("b", "failing")])
        assert sick.done.wait(10)
        assert quiet.done.is_set()  # it went along with the sick one
    finally:
        stop.set()
        batcher.stop_waiting()
        flusher.join()


def test_stopping_answers_what_is_still_waiting() -> None:
    batcher = Batcher(Upstream(accept), flush_every=3600.0)
    stop = threading.Event()
    stop.set()
    waiting = batcher.submit("t", [beat("a")])
    batcher.run(stop)
    assert waiting.answer == (503, {"error": "relay: stopping; send again"})


class socket_refusing:
    """A URL on which nothing listens."""

    def __enter__(self) -> str:
        return f"http://127.0.0.1:{free_port()}/api/v1/heartbeats"

    def __exit__(self, *exc: object) -> None:
        pass


# -- end to end: agents -> relay -> receiver serve ------------------------------------------------


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "fleet:\n  - {statefulset: web, namespace: shop, replicas: 3, labels: {app: web}}\n",
        encoding="utf-8",
    )
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n", encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            *RECEIVER, "serve", "--runbook", str(runbook),
            "--fleet", str(fleet), "--token-file", str(tokens), "--listen", f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the receiver", lambda: get(f"{base}/healthz") != "")
        yield f"{base}/api/v1/heartbeats"
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def relay(receiver: str) -> Iterator[tuple[str, Upstream]]:
    forward = http_post(receiver, timeout=5.0)
    upstream = Upstream(lambda items: forward(json.dumps(items).encode()))
    # Flushed when 3 items wait (or a sick pod's beat does), so what is batched is certain.
    batcher = Batcher(upstream, flush_every=3600.0, max_items=3)
    server = Relay(("127.0.0.1", 0), batcher, wait=10.0)
    stop = threading.Event()
    running = threading.Thread(target=serve, args=(server, stop))
    running.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/heartbeats", upstream
    finally:
        stop.set()
        running.join(timeout=15)


def test_agents_behind_the_relay_are_each_answered_for_their_own_pod(
    relay: tuple[str, Upstream],
) -> None:
    url, upstream = relay
    agents = [
        Heartbeat(url=url, token=TOKEN, namespace="shop", pod=f"web-{i}", interval=5.0)
        for i in range(3)
    ]
    results: dict[str, object] = {}

    def push(agent: Heartbeat) -> None:
        results[agent.identity.pod] = agent.push("ok")

    threads = [threading.Thread(target=push, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)

    assert {pod: r.result for pod, r in results.items()} == {  # type: ignore[attr-defined]
        f"web-{i}": "accepted" for i in range(3)
    }
    assert [sorted(item["pod"] for item in body) for body in upstream.bodies] == [
        [f"web-{i}" for i in range(3)]
    ]
    assert {item["token"] for item in upstream.bodies[0]} == {TOKEN}
    forged = Heartbeat(url=url, token="not-a-token", namespace="shop", pod="web-0")
    with pytest.raises(HeartbeatRejected) as refused:
        forged.push("failing")  # a sick pod's beat goes out at once
    assert refused.value.status == 401


def test_a_push_is_refused_by_the_relay_itself_when_it_cannot_be_forwarded(
    relay: tuple[str, Upstream],
) -> None:
    url, upstream = relay

    def post(body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    assert post(json.dumps(beat("web-0")).encode(), {}) == 401
    assert post(b"{not json", auth) == 400
    assert post(json.dumps({**beat("web-0"), "token": "x"}).encode(), auth) == 400
    assert post(b"[" + b" " * 70_000 + b"]", auth) == 413
    assert upstream.bodies == []  # the relay's own checks answer before anything is queued


def test_the_relay_runs_without_site_packages() -> None:
    # -S: no site-packages, so the relay runs from an image holding only receiver/agent/.
    root = Path(__file__).parent.parent
    done = subprocess.run(
        [sys.executable, "-S", "-m", "receiver.agent.relay", "--help"],
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--upstream" in done.stdout
