"""`python -m receiver.agent.relay`: one per node, forwarding its pods' beats in batches.

Pods point their agent's `--url` at the relay on their node (the node's IP,
from the downward API) instead of the receiver. The relay takes the same
request the receiver takes (POST /api/v1/heartbeats, one object or an
array, `Authorization: Bearer <the pod's token>`), moves the token into each
item, and forwards many pods' items in one request (batcher.py). Each pod
gets the answer the receiver gave its own items: 200 with its results, 401
or 403 if its token did not prove its pod, 400 if its push was invalid, 503
if the receiver could not be reached.

Identity: the relay has none and needs none beyond a network path to the
receiver; it cannot prove any pod. It can forge nothing it was not given:
a beat for a pod whose token never passed through it is refused, as is a
token sent for another pod. What it can do is what any hop on the path can:
drop or delay beats (the pods are then declared missed, as when the network
fails), and while a token it has seen is valid (a projected token lives an
hour at most and dies with its pod) replay it or change the status sent
with it. A node's relay sees only its own node's pods' tokens, which that
node's kubelet holds anyway.

Standard library only, like the rest of receiver/agent/.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from receiver.agent.batcher import Batcher, http_post
from receiver.agent.durations import parse_duration
from receiver.agent.errors import HeartbeatConfigError
from receiver.agent.wire import require_http_url

PATH = "/api/v1/heartbeats"
MAX_BODY = 64 * 1024  # one pod's push: a few beats with their reasons
EXIT_USAGE = 2


class Relay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], batcher: Batcher, *, wait: float) -> None:
        super().__init__(address, _Handler)
        self.batcher = batcher
        self.wait = wait


class _Handler(BaseHTTPRequestHandler):
    server: Relay
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:
        if self.path != PATH:
            self._answer(404, {"error": f"no such path {self.path}; beats go to {PATH}"})
            return
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._answer(401, {"error": "missing or invalid bearer token"})
            return
        items = self._items()
        if items is None:
            return
        push = self.server.batcher.submit(token.strip(), items)
        if not push.done.wait(self.server.wait):
            self._answer(503, {"error": "relay: no answer from the receiver in time; send again"})
            return
        self._answer(*push.answer)

    def _items(self) -> list[dict[str, Any]] | None:
        """The push's items, or None once a 400/413 has been answered."""
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._answer(411, {"error": "a Content-Length is required"})
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body stays unread
            self._answer(413, {"error": f"request body over the limit of {MAX_BODY} bytes"})
            return None
        try:
            payload = json.loads(self.rfile.read(int(length)))
        except ValueError:
            self._answer(400, {"error": "found invalid JSON, expected JSON", "field": ""})
            return None
        items = payload if isinstance(payload, list) else [payload]
        if not items or not all(isinstance(item, dict) for item in items):
            self._answer(400, {"error": "expected a heartbeat object or an array of them"})
            return None
        if any("token" in item for item in items):
            # The token is the Authorization header's: a pod proves only itself.
            self._answer(400, {"error": "a beat sent to the relay carries no token"})
            return None
        return items

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per beat would drown the node's logs; failures are in the answers


def serve(relay: Relay, stop: threading.Event) -> None:
    """Serve and forward until `stop` is set; then answer what is left and close."""
    flusher = threading.Thread(target=relay.batcher.run, args=(stop,), name="relay flusher")
    server = threading.Thread(target=relay.serve_forever, args=(0.1,), name="relay server")
    flusher.start()
    server.start()
    stop.wait()
    relay.batcher.stop_waiting()
    relay.shutdown()
    flusher.join()
    server.join()
    relay.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m receiver.agent.relay", description=__doc__)
    parser.add_argument("--upstream", required=True, help="the receiver's heartbeat URL")
    parser.add_argument("--listen", default="0.0.0.0:8090", help="HOST:PORT (default %(default)s)")
    parser.add_argument("--flush", default="500ms", help="forward at least this often")
    parser.add_argument("--max-batch", type=int, default=200, help="items per forwarded request")
    parser.add_argument("--timeout", default="5s", help="for each forwarded request")
    args = parser.parse_args(argv)
    try:
        upstream = require_http_url(args.upstream, what="--upstream")
        flush, timeout = parse_duration(args.flush), parse_duration(args.timeout)
        host, _, port = args.listen.rpartition(":")
        address = (host, int(port))
    except (ValueError, HeartbeatConfigError) as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    batcher = Batcher(http_post(upstream, timeout=timeout), flush_every=flush,
                      max_items=args.max_batch)  # fmt: skip
    relay = Relay(address, batcher, wait=flush + 2 * timeout)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=stop.set).start())
    print(json.dumps({"event": "started", "listen": args.listen, "upstream": upstream}),
          file=sys.stderr, flush=True)  # fmt: skip
    serve(relay, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
