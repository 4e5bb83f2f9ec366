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
- at `max_connections` open, a connection waiting for a request head (a
  slow sender first, else an idle keep-alive one) is closed to make room;
  if none is waiting, the newcomer gets 503.

The cost per request is a few attribute writes: deadlines are timestamps
on a coarse clock that one sweep for all connections advances and checks
every `_SWEEP` of the shorter deadline (so a deadline ends up to that much
early), not a timer per request (a timer armed and cancelled twice a
request cost 14% of heartbeat throughput in instructions, and even a read
of the loop's clock per request about 1%).
The state lives in one slotted `_Edge` rather than five attributes: uvicorn's
protocol already has 28, and past 30 CPython 3.11 stops sharing instance
dict keys, which slowed every attribute read of the protocol (another 5%).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from receiver.service.limits import HttpLimits

log = logging.getLogger(__name__)

# The sweep runs every fifth of the shorter deadline, and deadlines are set on the clock of
# the last sweep: a deadline ends within a fifth of the shorter one, early or late.
_SWEEP = 0.2


class _Edge:
    """A connection's state for the bounds: where its head stands, and its deadline."""

    __slots__ = ("deadline", "head_bytes", "in_head", "line", "refusal")

    def __init__(self) -> None:
        self.in_head = True
        self.head_bytes = 0
        self.line = 0  # bytes of the head's current line that has not ended yet
        self.deadline = 0.0  # loop time by which the head or body must be in; 0: none runs
        self.refusal: tuple[int, str] | None = None


class LimitedHttpTools(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]
    # The server's record of open connections, the sweep of their deadlines, its clock.
    _connections: ClassVar[set[Any]]
    _sweeper: ClassVar[asyncio.TimerHandle | None]
    _now: ClassVar[float]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._edge = _Edge()

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._make_room():
            self.transport = transport
            self._refuse(503, f"too many connections (the limit is {self.limits.max_connections})")
            return
        super().connection_made(transport)
        if type(self)._sweeper is None:
            type(self)._connections = self.connections
            type(self)._now = self.loop.time()
            self._sweep_soon(self.loop)
        self._edge.deadline = self._now + self.limits.head_timeout

    def _make_room(self) -> bool:
        """Close a connection waiting for a request head; False if none waits."""
        waiting = [c for c in self.connections if isinstance(c, LimitedHttpTools) and c._idle()]
        if not waiting:
            return False
        # A slow sender (its head deadline running, earliest first), else an idle one.
        oldest = min(waiting, key=lambda c: c._edge.deadline or float("inf"))
        oldest._edge.deadline = 0.0
        oldest.transport.close()
        return True

    def _idle(self) -> bool:
        return (
            self._edge.in_head
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self.transport.is_closing()
        )

    # Reading

    def data_received(self, data: bytes) -> None:
        edge = self._edge
        if not edge.in_head:
            HttpToolsProtocol.data_received(self, data)  # body: its limit and deadline bound it
            return
        if edge.refusal is not None:
            return
        if not edge.deadline:  # the first byte of a request on a kept-alive connection
            edge.deadline = self._now + self.limits.head_timeout
        room = self.limits.max_head - edge.head_bytes
        if len(data) > room:
            self._overflow(data, room)
            return
        started = edge.deadline
        HttpToolsProtocol.data_received(self, data)
        if not edge.in_head or self.transport.is_closing():
            return
        if edge.deadline == started:
            self._head_grew(data)
        else:  # a request ended within `data`: what follows it is counted from the next read
            edge.head_bytes = edge.line = 0

    def _overflow(self, data: bytes, room: int) -> None:
        """Feed what fits; refuse if the head has not ended by then, else go on with the rest."""
        started, fits = self._edge.deadline, data[:room]
        HttpToolsProtocol.data_received(self, fits)
        if self.transport.is_closing():
            return
        if self._edge.in_head and self._edge.deadline == started:  # still the same head
            self._head_grew(fits)  # a line too long is the more precise answer
            limit = self.limits.max_head
            self._refuse(431, f"request headers over the limit of {limit} bytes")
            return
        self._edge.head_bytes = self._edge.line = 0
        self.data_received(data[room:])

    def _head_grew(self, data: bytes) -> None:
        """Count a piece of head that did not end it, and say if a line in it is too long.

        httptools reports a header only once it ends; this tells from where the
        last line break was that the line being read is already over the bound.
        """
        self._edge.head_bytes += len(data)
        end = data.rfind(b"\n")
        self._edge.line = self._edge.line + len(data) if end < 0 else len(data) - end - 1
        if self._edge.line == self._edge.head_bytes:  # no line break yet: the request line
            # Room for the method and " HTTP/1.1" around the target.
            if self._edge.line > self.limits.max_request_line + 32:
                limit = self.limits.max_request_line
                self._refuse(414, f"request target over the limit of {limit} bytes")
        elif self._edge.line > self.limits.max_header + 4:  # ": " and the line's end
            self._refuse(431, f"a request header over the limit of {self.limits.max_header} bytes")

    def on_headers_complete(self) -> None:
        edge, limits = self._edge, self.limits
        if len(self.url) > limits.max_request_line:
            limit = limits.max_request_line
            edge.refusal = (414, f"request target over the limit of {limit} bytes")
            raise _Refused
        most = limits.max_header
        for name, value in self.headers:  # a loop: cheaper than max(map(...)) for a few
            if len(value) > most:
                shown = name[:64].decode("latin-1")
                edge.refusal = (431, f"request header {shown} over the limit of {most} bytes")
                raise _Refused
        edge.in_head = False
        edge.head_bytes = edge.line = 0
        edge.deadline = self._now + limits.body_timeout
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        edge = self._edge
        edge.in_head = True
        edge.deadline = 0.0  # the next head's runs from its first byte
        HttpToolsProtocol.on_message_complete(self)

    # Deadlines

    @classmethod
    def _sweep_soon(cls, loop: asyncio.AbstractEventLoop) -> None:
        every = _SWEEP * min(cls.limits.head_timeout, cls.limits.body_timeout)
        cls._sweeper = loop.call_later(every, cls._sweep, loop)

    @classmethod
    def _sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        cls._now = now = loop.time()
        # The next sweep first: nothing that goes wrong below may end the sweeping.
        if cls._connections:
            cls._sweep_soon(loop)
        else:
            cls._sweeper = None
        late = [
            c
            for c in cls._connections
            if isinstance(c, LimitedHttpTools) and c._edge.deadline and c._edge.deadline <= now
        ]
        for connection in late:
            connection._late()

    def _late(self) -> None:
        self._edge.deadline = 0.0
        if self.transport.is_closing():
            return
        if self._edge.in_head:
            seconds = self.limits.head_timeout
            self._refuse(408, f"request headers not received within {seconds:g} seconds")
            return
        cycle = self.cycle
        if cycle is None or cycle.response_started:
            self.transport.close()  # answered already (413, say): only the rest of the body is late
            return
        # The app may be waiting for the body: it hears the client is gone and answers no one.
        cycle.disconnected = True
        cycle.message_event.set()
        seconds = self.limits.body_timeout
        self._refuse(408, f"request body not received within {seconds:g} seconds")

    # Refusing

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error: ours is JSON, and says which bound if one."""
        status, error = self._edge.refusal or (
            400,
            "invalid HTTP request: the framing is not HTTP/1.1",
        )
        self._refuse(status, error)

    def _refuse(self, status: int, error: str) -> None:
        self._edge.refusal = (status, error)
        self._edge.deadline = 0.0
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


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is kept on the protocol."""


def protocol_class(limits: HttpLimits) -> type[LimitedHttpTools]:
    """The protocol for one server, with its limits."""

    class Limited(LimitedHttpTools):
        pass

    Limited.limits = limits
    Limited._sweeper = None
    return Limited
