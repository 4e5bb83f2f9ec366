"""The running service: the pipeline, its metrics and tokens, reloads and background loops.

Background work is the tick loop (time-driven transitions and heartbeat
deadlines, every `tick_interval`) and the runbook file watcher (reload when
the file's content changes, every `watch_interval`). A reload also comes
from SIGHUP and POST /-/reload; an invalid runbook never replaces a valid one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from receiver.cluster import Cluster
from receiver.model import Instant
from receiver.report.metrics import Metrics, StateCollector
from receiver.runbook import Runbook, RunbookInvalid, load_file
from receiver.service.auth import Tokens
from receiver.service.pipeline import Pipeline

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    runbook_path: Path
    tokens: Tokens
    heartbeat_tokens: Tokens
    max_body: int = MAX_BODY
    tick_interval: float = 1.0
    watch_interval: float = 5.0
    handle_sighup: bool = True


class Service:
    def __init__(
        self,
        options: Options,
        *,
        runbook: Runbook,
        cluster: Cluster,
        registry: CollectorRegistry,
        clock: Callable[[], Instant] = time.time,
    ) -> None:
        self.options = options
        self.tokens = options.tokens
        self.heartbeat_tokens = options.heartbeat_tokens
        self.max_body = options.max_body
        self.clock = clock
        self.metrics = Metrics(registry)
        self.pipeline = Pipeline(
            runbook=runbook, cluster=cluster, metrics=self.metrics, clock=clock
        )
        registry.register(StateCollector(self.pipeline.reading))
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(clock())
        self._file = _fingerprint(options.runbook_path)
        self._tasks: list[asyncio.Task[None]] = []

    def reload(self, trigger: str) -> list[str]:
        """Load the runbook again; the problems if it is invalid (the old one stays)."""
        path = self.options.runbook_path
        self._file = _fingerprint(path)
        try:
            runbook = load_file(path)
        except RunbookInvalid as exc:
            problems = [str(p) for p in exc.problems]
        except OSError as exc:
            problems = [f"{path}: cannot read: {exc.strerror or exc}"]
        else:
            self.pipeline.reload(runbook)
            self.metrics.reload_ok.set(1)
            self.metrics.reload_time.set(self.clock())
            log.info("runbook reloaded", extra={"trigger": trigger, "runbook": str(path)})
            return []
        self.metrics.reload_ok.set(0)
        log.error(
            "runbook reload failed; the previous runbook stays in force",
            extra={"trigger": trigger, "runbook": str(path), "problems": problems},
        )
        return problems

    def ready(self) -> tuple[bool, str]:
        return True, "in-memory cluster; this replica acts"

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self._tasks = [
            asyncio.create_task(self._every(self.options.tick_interval, self.pipeline.tick)),
            asyncio.create_task(self._every(self.options.watch_interval, self._watch)),
        ]
        if self.options.handle_sighup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload, "SIGHUP")
        try:
            yield
        finally:
            if self.options.handle_sighup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.pipeline.notifications.drain()

    async def _watch(self) -> None:
        if _fingerprint(self.options.runbook_path) != self._file:
            self.reload("file change")

    async def _every(self, seconds: float, work: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception:  # the loop must outlive any one failure; the log says what
                log.exception("background work failed", extra={"work": work.__name__})


def _fingerprint(path: Path) -> str:
    """The file's content hash: a ConfigMap's symlink swap changes it, a `touch` does not."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
