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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from receiver.cluster import Cluster, PodTokenReview
from receiver.metrics import Metrics
from receiver.model import Instant
from receiver.report.gauges import Reading, StateCollector
from receiver.runbook import Runbook, RunbookInvalid, load_file
from receiver.service.auth import Tokens
from receiver.service.pipeline import Pipeline
from receiver.service.replica import Replica, Standalone

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
REPLICA_RESTART = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    runbook_path: Path
    tokens: Tokens
    heartbeat_tokens: Tokens
    max_body: int = MAX_BODY
    tick_interval: float = 1.0
    watch_interval: float = 5.0
    handle_sighup: bool = True
    dry_run: bool = False  # force settings.dryRun whatever the runbook says


class Service:
    def __init__(
        self,
        options: Options,
        *,
        runbook: Runbook,
        cluster: Cluster,
        metrics: Metrics,
        clock: Callable[[], Instant] = time.time,
        replica: Replica | None = None,
        pod_tokens: PodTokenReview | None = None,
    ) -> None:
        self.options = options
        self.replica: Replica = replica or Standalone()
        self.pod_tokens = pod_tokens
        self.tokens = options.tokens
        self.heartbeat_tokens = options.heartbeat_tokens
        self.max_body = options.max_body
        self.clock = clock
        self.metrics = metrics
        self.pipeline = Pipeline(
            runbook=runbook, cluster=cluster, metrics=self.metrics, clock=clock
        )
        metrics.registry.register(StateCollector(self.reading))
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(clock())
        self._file = _fingerprint(options.runbook_path)
        self._tasks: list[asyncio.Task[None]] = []

    def reload(self, trigger: str) -> list[str]:
        """Load the runbook again; the problems if it is invalid (the old one stays)."""
        path = self.options.runbook_path
        self._file = _fingerprint(path)
        try:
            runbook = load_runbook(path, dry_run=self.options.dry_run)
        except RunbookInvalid as exc:
            problems = [str(p) for p in exc.problems]
        except OSError as exc:
            problems = [f"{path}: cannot read: {exc.strerror or exc}"]
        else:
            self.pipeline.reload(runbook)
            self.replica.follow(runbook.settings.namespaces)
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
        return self.replica.ready()

    @property
    def leading(self) -> bool:
        return self.replica.leading

    def reading(self) -> Reading:
        return self.pipeline.reading(leader=self.replica.leading)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self._tasks = [
            asyncio.create_task(self._replica()),
            asyncio.create_task(self._every(self.options.tick_interval, self._tick)),
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

    async def _replica(self) -> None:
        while True:
            try:
                await self.replica.run(self._took_over)
                return
            except Exception:  # e.g. the API server unreachable at start: try again
                log.exception("replica failed; starting it again in %ss", REPLICA_RESTART)
                await asyncio.sleep(REPLICA_RESTART)

    async def _took_over(self) -> None:
        """This replica leads from now: silence is counted from now, not from before."""
        self.pipeline.take_over(self.clock())
        log.info("this replica now acts", extra={"runbook": str(self.options.runbook_path)})

    async def _tick(self) -> None:
        if self.replica.leading:
            await self.pipeline.tick()

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


def load_runbook(path: Path, *, dry_run: bool = False) -> Runbook:
    """The runbook in `path`; with `dry_run`, in dry-run whatever its settings say."""
    runbook = load_file(path)
    if dry_run and not runbook.settings.dry_run:
        runbook = replace(runbook, settings=replace(runbook.settings, dry_run=True))
    return runbook


def _fingerprint(path: Path) -> str:
    """The file's content hash: a ConfigMap's symlink swap changes it, a `touch` does not."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
