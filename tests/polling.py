"""Wait for what a test can observe, never for a fixed time: the one polling helper of the tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(what: str, condition: Callable[[], object], timeout: float = 15.0) -> None:
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
