"""What tests that run servers share: a free port, and waiting for what they can observe.

Never a fixed sleep followed by an assertion: a test waits on a condition.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll `condition` until it is true; fail naming `what` after `timeout` seconds.

    A connection error while polling (a server still starting) counts as not yet.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
