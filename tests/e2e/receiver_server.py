"""The receiver served for real (uvicorn on 127.0.0.1, a free port) in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from receiver.service.runtime import Service
from receiver.service.serve import Listen, uvicorn_config


@contextmanager
def serving(service: Service) -> Iterator[str]:
    """The base URL of `service`, served until the block ends; the thread is always joined."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(service, Listen("127.0.0.1", port), log_level="warning"))
    # uvicorn installs no signal handlers off the main thread; pytest keeps its own.
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[sock]),), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
