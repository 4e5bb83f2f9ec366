"""The journal's files: lines made and written by a thread of their own, rotated at a bound.

Making a start line for 100,000 pods takes a few hundred ms of CPU (JSON,
20 MB): done in this thread, and encoded a pod at a time, it reaches the
event loop only as the interpreter's switches between threads (every
5 ms), never as one long pause. Lines are
written in the order they were put, through a 64 KiB buffer. A line that
cannot be written (a full disk) is logged and dropped: the journal never
fails a decision.

The bound counts the lines after a file's first (its start line, the whole
fleet: about 200 bytes per pod), so a fleet larger than the bound still
gets a file of lines, not a new file at every decision: a file is at most
its start line plus max_bytes (and one decision's lines).

Rotation: PATH becomes PATH.1, PATH.1 becomes PATH.2, ..., and the oldest
beyond `files` goes. A journal found at the first write (an earlier run's)
is rotated too, so it is kept one file older.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

BUFFER = 1 << 16
_FLUSH = "flush"
_ROTATE = "rotate"
_STOP = "stop"


class JournalFile:
    """One thread that makes the lines and writes them (the event loop puts work)."""

    def __init__(self, path: Path, *, max_bytes: int, files: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.files = files
        self._queue: queue.SimpleQueue[Callable[[], str | None] | str] = queue.SimpleQueue()
        self._out: IO[str] | None = None
        self._size = 0
        self._start = 0  # the first line's bytes: not counted against max_bytes
        self._asked = 0  # rotations asked for (written by the event loop only)
        self._done = 0  # ... and done (written by the thread only)
        self._thread: threading.Thread | None = None

    def put(self, item: Callable[[], str | None] | str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
            self._thread.start()
        self._queue.put(item)

    def rotate(self) -> None:
        self._asked += 1
        self.put(_ROTATE)

    def full(self) -> bool:
        """Whether the file reached its bound, as far as the thread has written (the lines
        still queued count at the next decision: the thread keeps up with a live service)."""
        return self._asked == self._done and self._size - self._start >= self.max_bytes

    def flush(self) -> None:
        """Ask for what was put so far to reach the file (it does, soon after)."""
        self.put(_FLUSH)

    def written(self) -> None:
        """Wait until what was put is written (tests; the service never waits)."""
        done = threading.Event()
        self.put(done.set)
        done.wait()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while (item := self._queue.get()) != _STOP:
            try:
                self._do(item)
            except Exception:  # the service goes on; the log says what the journal lost
                log.exception("journal: cannot write %s", self.path)
        if self._out is not None:
            self._out.close()
            self._out = None

    def _do(self, item: Callable[[], str | None] | str) -> None:
        if item == _FLUSH:
            if self._out is not None:
                self._out.flush()
        elif item == _ROTATE:
            self._new_file()
        elif callable(item):
            line = item()
            if line is None:  # written(): the marker's work was to say so
                return
            if self._out is None:
                self._new_file()
            assert self._out is not None
            self._out.write(line)
            size = len(line) if line.isascii() else len(line.encode())
            if not self._size:
                self._start = size
            self._size += size

    def _new_file(self) -> None:
        path = self.path
        if self._out is not None:
            self._out.close()
            self._rotate()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size:
                self._rotate()  # an earlier run's journal is kept, one file older
        self._out = path.open("w", encoding="utf-8", buffering=BUFFER)
        self._size = 0
        self._done += 1

    def _rotate(self) -> None:
        """PATH becomes PATH.1, PATH.1 becomes PATH.2, ...; the oldest beyond `files` goes."""
        path = self.path
        keep = self.files
        if keep == 1:
            path.unlink(missing_ok=True)
            return
        for i in range(keep - 1, 0, -1):
            newer = path if i == 1 else path.with_name(f"{path.name}.{i - 1}")
            if newer.exists():
                os.replace(newer, path.with_name(f"{path.name}.{i}"))
