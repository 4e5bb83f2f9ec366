"""uvicorn's httptools protocol with the bounds it lacks: header sizes, read deadlines, connections.

httptools buffers a header until it ends and has no size cap of its own, and
uvicorn gives a connection all the time it wants to send its headers and
body; h11 has a cap but costs most of the throughput. So this subclass
counts what it feeds the parser while a request head is being read, and
keeps a deadline for the head and one for the body. Past a bound the client
gets the JSON error the rest of the API gives, and the connection is closed:

- 414 for a target URL over `max_request_line`, 431 for a header over
  `max_header` or a head over `max_head`, 400 for framing the parser refuses;
- 408 when the head or the body is not in by its deadline;
- at `max_connections` open, the connection that has waited longest for a
  request head (an idle keep-alive one or a slow sender) is closed to make
  room; if none is waiting, the newcomer gets 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from receiver.service.limits import HttpLimits

log = logging.getLogger(__name__)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is kept on the protocol."""


class LimitedHttpTools(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]
    # Connections waiting for a request head, oldest first: those that may make room.
    waiting: ClassVar[OrderedDict[LimitedHttpTools, None]]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = True
        self._head_bytes = 0
        self._line = 0  # bytes of the head's current line that has not ended yet
        self._requests = 0  # requests whose body ended, to tell a new head from the old one
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._make_room():
            self.transport = transport
            self._refuse(503, f"too many connections (the limit is {self.limits.max_connections})")
            return
        super().connection_made(transport)
        self._wait_for_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        self.waiting.pop(self, None)
        super().connection_lost(exc)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request; False if none waits."""
        if not self.waiting:
            return False
        oldest, _ = self.waiting.popitem(last=False)
        oldest._stop_deadline()
        oldest.transport.close()
        return True

    def _wait_for_head(self) -> None:
        self.waiting[self] = None
        self._start_deadline(self.limits.head_timeout, "headers")

    # Reading

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None or self.transport.is_closing():
            return
        if not self._in_head:
            super().data_received(data)  # body bytes: the body limit and deadline bound them
            return
        if self._deadline is None:  # the first byte of a request on a kept-alive connection
            self._start_deadline(self.limits.head_timeout, "headers")
        room = self.limits.max_head - self._head_bytes
        if len(data) <= room:
            self._feed_head(data)
            return
        requests = self._requests
        self._feed_head(data[:room])
        if self.transport.is_closing():
            return
        if self._in_head and requests == self._requests:
            self._refuse(431, f"request headers over the limit of {self.limits.max_head} bytes")
            return
        self.data_received(data[room:])

    def _feed_head(self, data: bytes) -> None:
        requests = self._requests
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return  # the head ended within `data`: the rest was body, or a refusal was sent
        if requests == self._requests:
            self._head_bytes += len(data)
        else:  # a request ended within `data` and the next one began: count it from here
            self._head_bytes = self._line = 0
            self._start_deadline(self.limits.head_timeout, "headers")
        if self._line_too_long(data):
            limit = self.limits.max_header
            self._refuse(431, f"a request header over the limit of {limit} bytes")

    def _line_too_long(self, data: bytes) -> bool:
        """Whether a header line that has not ended is already over the bound.

        httptools reports a header only once it ends; this says so earlier,
        from where the last line break was. The request line has on_url.
        """
        end = data.rfind(b"\n")
        self._line = self._line + len(data) if end < 0 else len(data) - end - 1
        longest = max(self.limits.max_header, self.limits.max_request_line) + 64
        return self._line > longest

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line:
            limit = self.limits.max_request_line
            self._refusal = (414, f"request target over the limit of {limit} bytes")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > self.limits.max_header:
            shown = name[:64].decode("latin-1")
            limit = self.limits.max_header
            self._refusal = (431, f"request header {shown} over the limit of {limit} bytes")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = self._line = 0
        self.waiting.pop(self, None)
        self._start_deadline(self.limits.body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._requests += 1
        self._in_head = True
        self._stop_deadline()  # the next head's starts with its first byte
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._in_head and not self.pipeline:
            self.waiting[self] = None  # idle on keep-alive: may make room for a newcomer

    # Refusing

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error: ours is JSON, and says which bound if one."""
        status, error = self._refusal or (400, "invalid HTTP request: the framing is not HTTP/1.1")
        self._refuse(status, error)

    def _start_deadline(self, seconds: float, part: str) -> None:
        self._stop_deadline()
        self._deadline = self.loop.call_later(seconds, self._late, seconds, part)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self, seconds: float, part: str) -> None:
        self._deadline = None
        cycle = self.cycle if not self._in_head else None
        if cycle is not None and cycle.response_started:
            self.transport.close()  # answered already (413, say): only the rest of the body is late
            return
        if cycle is not None:
            # The app may be waiting for the body: it hears the client is gone and answers no one.
            cycle.disconnected = True
            cycle.message_event.set()
        self._refuse(408, f"request {part} not received within {seconds:g} seconds")

    def _refuse(self, status: int, error: str) -> None:
        self._refusal = (status, error)
        self._stop_deadline()
        self.waiting.pop(self, None)
        if self.transport.is_closing():
            return
        log.info("request refused", extra={"status": status, "error": error, "client": self.client})
        body = orjson.dumps({"error": error})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        if status == 503:
            head.append(b"retry-after: 5\r\n")
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()


def protocol_class(limits: HttpLimits) -> type[LimitedHttpTools]:
    """The protocol for one server: its limits, and its own record of waiting connections."""

    class Limited(LimitedHttpTools):
        pass

    Limited.limits = limits
    Limited.waiting = OrderedDict()
    return Limited
