"""Many pods' pushes sent as one request: gather, forward, hand each pod its own answer.

The node relay (relay.py) submits each pod's push (its items and its bearer
token) and waits; a flusher thread forwards what has gathered every
`flush_every` seconds, or at once when a push says `degraded`/`failing` (the
receiver should hear a sick pod without delay) or the batch is full. Each
item carries its pod's own token and the request carries none, so the
receiver judges each pod by its own proof (service/relayed.py), never by
the relay's.

A push the receiver refuses as invalid (400 naming an item) is answered
alone and the rest sent again, so one pod's bad push never costs its
neighbours their beats.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from receiver.agent.wire import describe_error, opener

Item = dict[str, Any]
Answer = tuple[int, dict[str, Any]]
Post = Callable[[bytes], Answer]
"""Sends one body upstream: (HTTP status, JSON answer); status 0 when there was none."""

_REFUSED = {
    "unauthorized": (401, "missing or invalid bearer token"),
    "forbidden": (403, "this token belongs to another pod (or an earlier pod of this name)"),
}
_MAX_ANSWER = 1 << 22


@dataclass(eq=False)
class Push:
    """One pod's request, waiting for its share of the receiver's answer."""

    items: list[Item]
    urgent: bool
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer = (503, {"error": "relay: not forwarded yet"})

    def settle(self, answer: Answer) -> None:
        self.answer = answer
        self.done.set()


class Batcher:
    def __init__(
        self,
        post: Post,
        *,
        flush_every: float = 0.5,
        max_items: int = 200,
        max_bytes: int = 512 * 1024,
    ) -> None:
        self._post = post
        self.flush_every = flush_every
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._pending: list[Push] = []
        self._wake = threading.Condition()

    def submit(self, token: str, items: list[Item]) -> Push:
        """Queue one pod's items under its token; wait on the returned push's `done`."""
        stamped = [{**item, "token": token} for item in items]
        urgent = any(item.get("status") != "ok" for item in items)
        push = Push(stamped, urgent)
        with self._wake:
            self._pending.append(push)
            if urgent or sum(len(p.items) for p in self._pending) >= self.max_items:
                self._wake.notify()
        return push

    def run(self, stop: threading.Event) -> None:
        """Forward gathered pushes until `stop` is set; the pushes left are answered 503."""
        while not stop.is_set():
            with self._wake:
                self._wake.wait_for(lambda: self._ready() or stop.is_set(), self.flush_every)
                taken = self._take()
            if taken:
                self.forward(taken)
        with self._wake:
            left, self._pending = self._pending, []
        for push in left:
            push.settle((503, {"error": "relay: stopping; send again"}))

    def stop_waiting(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def forward(self, pushes: list[Push]) -> None:
        """One request for all of `pushes`; each is settled with its own part of the answer."""
        while pushes:
            items = [item for push in pushes for item in push.items]
            status, body = self._post(json.dumps(items, separators=(",", ":")).encode())
            if status == 400 and (culprit := _culprit(pushes, body)) is not None:
                push, at = culprit
                push.settle((400, _reindexed(body, at)))
                pushes = [p for p in pushes if p is not push]
                continue
            if status != 200:
                # Only the error: the rest of the answer speaks of the neighbours' beats.
                for push in pushes:
                    push.settle((status or 503, {"error": body.get("error", "no message")}))
                return
            results = body.get("results")
            _share(pushes, results if isinstance(results, list) else [])
            return

    def _ready(self) -> bool:
        pending = self._pending
        return any(p.urgent for p in pending) or sum(len(p.items) for p in pending) >= (
            self.max_items
        )

    def _take(self) -> list[Push]:
        """Whole pushes, oldest first, within the item and byte bounds (at least one push)."""
        taken: list[Push] = []
        items = size = 0
        for push in self._pending:
            weight = sum(len(json.dumps(item)) for item in push.items)
            if taken and (
                items + len(push.items) > self.max_items or size + weight > self.max_bytes
            ):
                break
            taken.append(push)
            items, size = items + len(push.items), size + weight
        self._pending = self._pending[len(taken) :]
        return taken


def _culprit(pushes: list[Push], body: dict[str, Any]) -> tuple[Push, int] | None:
    """The push holding the item a 400 names ("[7].status"), and where its items start."""
    where = str(body.get("field") or "")
    if not where.startswith("["):
        return None
    try:
        index = int(where[1 : where.index("]")])
    except ValueError:
        return None
    start = 0
    for push in pushes:
        if index < start + len(push.items):
            return push, start
        start += len(push.items)
    return None


def _reindexed(body: dict[str, Any], start: int) -> dict[str, Any]:
    """The 400 as the pod's own push would have got it: "[7].status" -> "[2].status"."""
    where = str(body.get("field") or "")
    index = int(where[1 : where.index("]")])
    mine = f"[{index - start}]{where[where.index(']') + 1 :]}"
    error = str(body.get("error") or "").replace(where, mine, 1)
    return {**body, "field": mine, "error": error}


def _share(pushes: list[Push], results: list[Any]) -> None:
    start = 0
    for push in pushes:
        mine = [r for r in results[start : start + len(push.items)] if isinstance(r, dict)]
        start += len(push.items)
        refused = next((r["result"] for r in mine if r.get("result") in _REFUSED), None)
        if len(mine) != len(push.items):
            push.settle((502, {"error": "relay: the receiver's answer has too few results"}))
        elif refused is not None:
            code, message = _REFUSED[refused]
            push.settle((code, {"error": message}))
        else:
            push.settle((200, {"results": mine}))


def http_post(url: str, *, timeout: float) -> Post:
    """POST JSON to `url` without an Authorization header: the items carry the tokens."""

    def post(body: bytes) -> Answer:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        began = time.monotonic()
        try:
            with opener().open(request, timeout=timeout) as response:
                return response.status, _json(response.read(_MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, _json(exc.read(_MAX_ANSWER))
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            waited = time.monotonic() - began
            return 0, {"error": f"relay: {url}: {describe_error(reason)} after {waited:.1f}s"}

    return post


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"error": "relay: the receiver's answer is not JSON"}
    return value if isinstance(value, dict) else {"error": "relay: unexpected answer"}
