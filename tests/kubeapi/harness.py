"""The fake served for real: uvicorn on 127.0.0.1, a free port, in a background thread.

`fake_kube_api()` yields a `FakeKubeApi` and always stops the server and joins its thread:
open watches are ended, injected delays woken, and clients it handed out closed. It fails
the block if the fake raised an exception it did not mean to (a bug in the fake, not in the
code under test).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from kubernetes import client

from .cluster import FakeCluster
from .server import FakeApiServer
from .tokens import TokenReviews
from .traffic import Faults, RequestLog

# uvicorn's words when an ASGI app returns mid-response; the fake does it on purpose to cut a
# watch (end_watches(abrupt=True)), so that line is noise while the fake runs.
_CUT = "ASGI callable returned without completing response."


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT


@dataclass
class FakeKubeApi:
    url: str
    server: FakeApiServer
    _clients: list[client.ApiClient] = field(default_factory=list)

    @property
    def cluster(self) -> FakeCluster:
        """Seed and inspect objects, budgets, tokens; end watches; compact history."""
        return self.server.cluster

    @property
    def tokens(self) -> TokenReviews:
        """Register tokens for TokenReview and read the reviews made."""
        return self.server.tokens

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def requests(self) -> RequestLog:
        return self.server.requests

    def api_client(self, *, token: str | None = None) -> client.ApiClient:
        """A client for the fake (closed when the fake stops); `token` is sent as a bearer
        token, which the fake checks only when started with `token=`."""
        config = client.Configuration(host=self.url)
        if token is not None:
            config.api_key = {"BearerToken": token}
            config.api_key_prefix = {"BearerToken": "Bearer"}
        api = client.ApiClient(config)
        self._clients.append(api)
        return api

    def wait_for_watches(self, count: int, timeout: float = 5.0) -> None:
        """Block until `count` watches are open (a watch started in another thread)."""
        deadline = time.monotonic() + timeout
        while self.cluster.open_watches < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.cluster.open_watches} watches open, wanted {count}")
            time.sleep(0.01)


@contextmanager
def fake_kube_api(
    *,
    token: str | None = None,
    history_limit: int = 1000,
    graceful_deletion: bool = True,
    eviction_version: str = "policy/v1",
) -> Iterator[FakeKubeApi]:
    """`eviction_version="policy/v1beta1"` plays a server older than Kubernetes 1.22."""
    cluster = FakeCluster(history_limit=history_limit, graceful_deletion=graceful_deletion)
    fake = FakeApiServer(cluster, token=token, eviction_version=eviction_version)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it; without it every keep-alive response waits ~40 ms on
    # Nagle against the client's delayed ACK (measured: 44 ms -> 1 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    quiet = _QuietCuts()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    # uvicorn installs no signal handlers off the main thread; pytest keeps its own.
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[sock]),), daemon=True)
    thread.start()
    api = FakeKubeApi(f"http://127.0.0.1:{port}", fake)
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Kubernetes API server did not start")
            time.sleep(0.01)
        yield api
    finally:
        for api_client in api._clients:
            api_client.close()  # type: ignore[no-untyped-call]
        cluster.end_watches()
        fake.close()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        logging.getLogger("uvicorn.error").removeFilter(quiet)
    if fake.errors:
        raise AssertionError(f"the fake API server raised: {fake.errors!r}") from fake.errors[0]
