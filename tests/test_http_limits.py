"""The HTTP edge's bounds against a live `receiver serve`, over real sockets.

Each case is what an attacker on the network would send: endless headers,
heads and bodies sent slowly or never, more connections than descriptors,
framing that is not HTTP. Each must get a JSON 4xx/503 (or be closed) and
leave the server answering, with nothing logged at error.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import Live, get, live_server
from polling import wait_for
from service_builders import RUNBOOK, TOKEN, alert, webhook

HEAD = b"POST /api/v1/alerts HTTP/1.1\r\nHost: receiver\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Live]:
    with live_server(tmp_path, "--head-timeout", "30", "--body-timeout", "30") as live:
        yield live
        live.stop()
        assert live.errors() == []


def connect(live: Live) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answer(sock: socket.socket) -> tuple[int, dict[str, str], object]:
    """The status, headers and JSON body of the one response the server sends, then closes."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    status = int(lines[0].split()[1])
    parsed = json.loads(body) if headers.get("content-type") == "application/json" else body
    return status, headers, parsed


def send_until_answered(sock: socket.socket, piece: bytes, most: int) -> int:
    """Send `piece` over and over, up to `most` bytes, until the server answers; bytes sent."""
    sent = 0
    while sent < most:
        if select.select([sock], [], [], 0)[0]:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent


def test_an_endless_header_value_gets_431_before_it_ends(server: Live) -> None:
    sock = connect(server)
    sock.sendall(HEAD + b"X-Long: ")
    sent = send_until_answered(sock, b"a" * 1024, 64 << 20)
    status, headers, body = answer(sock)
    assert (status, body) == (431, {"error": "a request header over the limit of 8192 bytes"})
    assert headers["connection"] == "close"
    assert sent < 1 << 20  # answered long before a megabyte, let alone 64


def test_many_headers_over_the_head_limit_get_431(server: Live) -> None:
    sock = connect(server)
    sock.sendall(HEAD)
    send_until_answered(sock, b"X-Many: " + b"b" * 4000 + b"\r\n", 1 << 20)
    status, _, body = answer(sock)
    assert (status, body) == (431, {"error": "request headers over the limit of 32768 bytes"})


def test_one_header_over_its_limit_gets_431_naming_it(server: Live) -> None:
    sock = connect(server)
    sock.sendall(HEAD + b"X-Big: " + b"c" * 8200 + b"\r\n\r\n")
    status, _, body = answer(sock)
    assert (status, body) == (431, {"error": "request header x-big over the limit of 8192 bytes"})


def test_a_long_target_gets_414(server: Live) -> None:
    sock = connect(server)
    sock.sendall(b"GET /" + b"d" * 9000)
    status, _, body = answer(sock)
    assert (status, body) == (414, {"error": "request target over the limit of 8192 bytes"})


def test_framing_that_is_not_http_gets_the_json_error_of_the_api(server: Live) -> None:
    sock = connect(server)
    sock.sendall(b"\x00\x01 not http\r\n\r\n")
    status, headers, body = answer(sock)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body == {"error": "invalid HTTP request: the framing is not HTTP/1.1"}


def test_large_bodies_and_many_requests_on_one_connection_are_not_mistaken_for_headers(
    server: Live,
) -> None:
    """Head and body arrive in one segment, pipelined or kept alive: only the head counts."""
    payload = json.dumps(webhook(alert("checkout-1", note="x" * 3000))).encode()
    request = (
        HEAD
        + f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    sock = connect(server)
    sock.sendall(request * 20)  # 20 requests pipelined: ~70 KB in few segments
    data = b""
    while data.count(b"HTTP/1.1 200 OK") < 20:
        chunk = sock.recv(65536)
        assert chunk, data[-500:]
        data += chunk
    sock.close()


def test_a_head_sent_too_slowly_gets_408(tmp_path: Path) -> None:
    with live_server(tmp_path, "--head-timeout", "0.5") as live:
        sock = connect(live)
        sock.sendall(HEAD)  # and never the blank line
        status, _, body = answer(sock)
        assert (status, body) == (408, {"error": "request headers not received within 0.5 seconds"})
        idle = connect(live)  # a connection that sends nothing at all is closed too
        assert answer(idle)[0] == 408
        assert get(f"{live.base}/healthz")
        live.stop()
        assert live.errors() == []


def test_a_body_sent_too_slowly_gets_408_and_no_traceback(tmp_path: Path) -> None:
    with live_server(tmp_path, "--body-timeout", "0.5") as live:
        sock = connect(live)
        auth = f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
        sock.sendall(HEAD + auth + b'{"version"')
        status, _, body = answer(sock)
        assert (status, body) == (408, {"error": "request body not received within 0.5 seconds"})
        wait_for("the 499", lambda: rejected(live, "alerts", "499") == 1.0)
        live.stop()
        assert live.errors() == []


def rejected(live: Live, endpoint: str, code: str) -> float:
    want = f'remediation_requests_rejected_total{{code="{code}",endpoint="{endpoint}"}} '
    for line in get(f"{live.base}/metrics").splitlines():
        if line.startswith(want):
            return float(line.split()[-1])
    return 0.0


def test_a_client_gone_mid_body_is_counted_not_logged_as_an_error(tmp_path: Path) -> None:
    with live_server(tmp_path) as live:
        sock = connect(live)
        auth = f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n".encode()
        sock.sendall(HEAD + auth + b'{"version": "4", ')
        sock.close()
        wait_for("the 499", lambda: rejected(live, "alerts", "499") == 1.0)
        live.stop()
        assert live.errors() == []


def test_at_the_connection_limit_a_waiting_connection_makes_room(tmp_path: Path) -> None:
    with live_server(tmp_path, "--max-connections", "4", "--head-timeout", "60") as live:
        idle = [connect(live) for _ in range(3)]
        for sock in idle:  # each answered, then idle on keep-alive
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n")
            data = b""
            while not data.endswith(b'{"status":"ok"}'):
                data += sock.recv(4096)
        slow = connect(live)
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")  # and never the rest
        # A fifth connection: the slow sender is closed for it before any idle one.
        assert json.loads(get(f"{live.base}/healthz")) == {"status": "ok"}
        assert slow.recv(4096) == b""
        assert json.loads(get(f"{live.base}/healthz")) == {"status": "ok"}  # then an idle one
        closed = [s for s in idle if select.select([s], [], [], 5)[0] and s.recv(4096) == b""]
        assert len(closed) >= 1
        for sock in [*idle, slow]:
            sock.close()


def test_at_the_connection_limit_with_none_waiting_a_newcomer_gets_503(tmp_path: Path) -> None:
    args = ("--max-connections", "4", "--body-timeout", "60")
    with live_server(tmp_path, *args) as live:
        busy = []
        for _ in range(4):  # heads in, bodies not: each is a request in progress
            sock = connect(live)
            sock.sendall(
                b"POST /api/v1/heartbeats HTTP/1.1\r\nHost: r\r\nContent-Length: 50\r\n\r\n"
            )
            busy.append(sock)
        # The server counts a connection once it has read its head: wait for the fourth.
        wait_for("four requests in progress", lambda: _refused_503(live))
        for sock in busy:
            sock.close()


def _refused_503(live: Live) -> bool:
    status, headers, body = answer(connect(live))
    if status != 503:
        return False
    assert body == {"error": "too many connections (the limit is 4)"}
    assert headers["retry-after"] == "5"
    return True


def test_clients_cannot_take_the_descriptors_reload_and_healthz_need(tmp_path: Path) -> None:
    """300 slow connections against 256 descriptors: /healthz answers and reloads work."""
    with live_server(
        tmp_path, "--head-timeout", "60", "--watch-interval", "0.2", nofile=256
    ) as live:
        slow = []
        try:
            for _ in range(300):
                sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: r\r\n")  # and never the rest
                slow.append(sock)
            started = time.monotonic()
            assert json.loads(get(f"{live.base}/healthz", timeout=5)) == {"status": "ok"}
            assert time.monotonic() - started < 5
            live.runbook.write_text(RUNBOOK.replace("name: silent", "name: quiet"), "utf-8")
            wait_for("the reload", lambda: "quiet" in get(f"{live.base}/api/v1/status"))
        finally:
            for sock in slow:
                sock.close()
        live.stop()
        text = live.log_path.read_text(encoding="utf-8")
        assert "Too many open files" not in text
        assert live.errors() == []


def test_deadlines_hold_after_a_websocket_upgrade_the_api_does_not_offer(tmp_path: Path) -> None:
    with live_server(tmp_path, "--head-timeout", "0.5", "--body-timeout", "0.5") as live:
        upgrade = connect(live)
        upgrade.sendall(
            b"GET / HTTP/1.1\r\nHost: r\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert upgrade.recv(4096)  # refused by the app, whichever way
        slow = connect(live)
        slow.sendall(HEAD)
        assert answer(slow)[0] == 408  # the sweep still runs
        upgrade.close()
        live.stop()
        assert live.errors() == []
