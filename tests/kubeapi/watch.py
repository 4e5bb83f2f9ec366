"""A watch as the real server streams it: HTTP 200, then newline-delimited JSON events.

Events are `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}`. As in the watch
cache (cacheWatcher.convertToWatchEvent), a MODIFIED object that stops matching the selector
reaches the watcher as DELETED, and one that starts matching as ADDED. A resourceVersion older
than the history is not an HTTP error but an ERROR event carrying a 410 Status, after which the
stream ends (kubernetes-client/python's Watch.stream turns it into ApiException(410) after one
silent retry). The stream ends cleanly at timeoutSeconds or on `end_watches()`, or is cut
without its final chunk on `end_watches(abrupt=True)`. With allowWatchBookmarks, a BOOKMARK
comes every BOOKMARK_EVERY seconds and BOOKMARK_BEFORE_END before timeoutSeconds, as
kube-apiserver's watch cache sends them (besides `send_bookmarks()` on demand).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from .kinds import JSON, Kind
from .selectors import FieldSelector, LabelSelector
from .store import Change, Store

BOOKMARK_EVERY = 60.0
BOOKMARK_BEFORE_END = 2.0


@dataclass(frozen=True, slots=True)
class _End:
    abrupt: bool


@dataclass(frozen=True, slots=True)
class _Bookmark:
    rv: int


_Item = Change | _End | _Bookmark


class Subscription:
    """The store's handle on one open watch; safe to call from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()

    def _put(self, item: _Item) -> None:
        with contextlib.suppress(RuntimeError):  # the server's loop is gone; so is the watch
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def deliver(self, change: Change) -> None:
        self._put(change)

    def bookmark(self, rv: int) -> None:
        self._put(_Bookmark(rv))

    def end(self, *, abrupt: bool) -> None:
        self._put(_End(abrupt))


@dataclass(frozen=True, slots=True)
class WatchFilter:
    kind: Kind
    namespace: str
    labels: LabelSelector
    fields: FieldSelector

    def _matches(self, obj: JSON | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def event(self, change: Change) -> JSON | None:
        if change.kind != self.kind or (self.namespace and change.namespace != self.namespace):
            return None
        now, before = self._matches(change.obj), self._matches(change.old)
        type_ = change.type
        if type_ == "MODIFIED" and now != before:
            type_ = "ADDED" if now else "DELETED"
        elif not now:
            return None
        return {"type": type_, "object": change.obj}


def _line(event: JSON) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


class WatchStream:
    """The ASGI response for one watch request."""

    status_code = 200

    def __init__(
        self,
        store: Store,
        sub: Subscription | None,
        backlog: list[Change],
        flt: WatchFilter,
        *,
        timeout: float | None = None,
        bookmarks: bool = False,
        error: JSON | None = None,
    ) -> None:
        self.store, self.sub, self.backlog, self.flt = store, sub, backlog, flt
        self.timeout, self.bookmarks, self.error = timeout, bookmarks, error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            if self.error is not None:
                await self._send(send, {"type": "ERROR", "object": self.error})
            else:
                for change in self.backlog:
                    await self._emit(send, change)
                ending = await self._follow(receive, send)
                if ending != "done":
                    return  # cut or client gone: never complete the response
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # uvicorn's ClientDisconnected: nobody left to tell
            pass
        finally:
            if self.sub is not None:
                self.store.unsubscribe(self.sub)

    async def _send(self, send: Send, event: JSON) -> None:
        await send({"type": "http.response.body", "body": _line(event), "more_body": True})

    async def _emit(self, send: Send, change: Change) -> None:
        event = self.flt.event(change)
        if event is not None:
            await self._send(send, event)

    async def _bookmark(self, send: Send, rv: int) -> None:
        if self.bookmarks:
            kind = self.flt.kind
            shell: JSON = {
                "kind": kind.kind,
                "apiVersion": kind.api_version,
                "metadata": {"resourceVersion": str(rv)},
            }
            await self._send(send, {"type": "BOOKMARK", "object": shell})

    def _next_bookmark(self, now: float, deadline: float | None) -> float | None:
        return _next_bookmark_after(now, deadline) if self.bookmarks else None

    async def _follow(self, receive: Receive, send: Send) -> str:
        """Stream live changes; 'done' (timeout, clean end), 'cut' or 'gone' (disconnected)."""
        assert self.sub is not None
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        bookmark_at = self._next_bookmark(loop.time(), deadline)
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            while True:
                now = loop.time()
                if deadline is not None and deadline <= now:
                    return "done"
                if bookmark_at is not None and bookmark_at <= now:
                    await self._bookmark(send, self.store.resource_version)
                    bookmark_at = self._next_bookmark(now, deadline)
                    continue
                wake = min((t for t in (deadline, bookmark_at) if t is not None), default=None)
                getter: asyncio.Future[Any] = asyncio.ensure_future(self.sub.queue.get())
                done, _ = await asyncio.wait(
                    {getter, gone},
                    timeout=None if wake is None else wake - now,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if getter not in done:
                    getter.cancel()
                if gone in done:
                    return "gone"
                if getter not in done:
                    continue
                item = getter.result()
                if isinstance(item, _End):
                    return "cut" if item.abrupt else "done"
                if isinstance(item, _Bookmark):
                    await self._bookmark(send, item.rv)
                else:
                    await self._emit(send, item)
        finally:
            gone.cancel()


def _next_bookmark_after(now: float, deadline: float | None) -> float:
    periodic = now + BOOKMARK_EVERY
    if deadline is None:
        return periodic
    before_end = deadline - BOOKMARK_BEFORE_END
    return before_end if now < before_end < periodic else periodic


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
