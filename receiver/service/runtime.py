"""The running service: the pipeline, its metrics and tokens, reloads and background loops.

Background work is the tick loop (time-driven transitions and the pods
expected to beat, every `tick_interval`), the deadline waker (waker.py:
silent pods declared at their deadline) and the runbook file watcher
(reload when the file's content changes, every `watch_interval`). A reload also comes
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
from receiver.runbook.limits import MAX_BYTES
from receiver.service.auth import Tokens
from receiver.service.heap import Heap
from receiver.service.journal import Journal, JournalOptions
from receiver.service.pipeline import Pipeline
from receiver.service.replica import Replica, Standalone
from receiver.service.waker import wake_for_deadlines

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
    journal: JournalOptions | None = None  # where to keep the signal journal; None: nowhere


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
        journal = options.journal
        self.pipeline = Pipeline(
            runbook=runbook,
            cluster=cluster,
            metrics=self.metrics,
            clock=clock,
            journal=Journal(
                journal,
                tick=options.tick_interval,
                traffic_label=runbook.settings.traffic_label,
            )
            if journal is not None
            else None,
        )
        metrics.registry.register(StateCollector(self.reading))
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(clock())
        self._file = _fingerprint(options.runbook_path)
        self._tasks: list[asyncio.Task[None]] = []
        self._signalled: set[asyncio.Task[list[str]]] = set()
        self._reloading = asyncio.Lock()  # one at a time, so the file read last is the one kept
        self._heap = Heap()  # for the pods watched
        self._declared = Heap()  # for the misses declared

    async def reload(self, trigger: str) -> list[str]:
        """Load the runbook again; the problems if it is invalid (the old one stays).

        Reading and compiling run in a worker thread: a large runbook must not
        stall /healthz or the webhooks. Every failure, whatever its kind, sets
        the reload metric to 0 and comes back as problems, never as an exception.
        """
        async with self._reloading:
            path = self.options.runbook_path
            # Fingerprint first, so the watcher does not retry a bad file every interval.
            self._file = await asyncio.to_thread(_fingerprint, path)
            try:
                runbook = await asyncio.to_thread(load_runbook, path, dry_run=self.options.dry_run)
            except RunbookInvalid as exc:
                problems = [str(p) for p in exc.problems]
            except OSError as exc:
                problems = [f"{path}: cannot read: {exc.strerror or exc}"]
            except Exception as exc:  # a loader bug must not leave the metric saying 1
                log.exception("runbook loader failed", extra={"runbook": str(path)})
                problems = [f"{path}: the loader failed ({type(exc).__name__}: {exc})"]
            else:
                return self._apply(runbook, trigger)
            return self._failed(problems, trigger)

    def _apply(self, runbook: Runbook, trigger: str) -> list[str]:
        self.pipeline.reload(runbook)
        self.replica.follow(runbook.settings.namespaces)
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock())
        log.info("runbook reloaded", extra={"trigger": trigger, "runbook": str(runbook.source)})
        return []

    def _failed(self, problems: list[str], trigger: str) -> list[str]:
        path = self.options.runbook_path
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
            asyncio.create_task(
                wake_for_deadlines(
                    self._deadlines,
                    self.pipeline.next_due,
                    self.pipeline.deadlines_moved,
                    clock=self.clock,
                    longest=self.options.tick_interval,
                )
            ),
            asyncio.create_task(self._every(self.options.watch_interval, self._watch)),
        ]
        if self.options.handle_sighup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        try:
            yield
        finally:
            if self.options.handle_sighup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            for task in (*self._tasks, *self._signalled):
                task.cancel()
            await asyncio.gather(*self._tasks, *self._signalled, return_exceptions=True)
            await self.pipeline.notifications.drain()
            if self.pipeline.journal is not None:
                self.pipeline.journal.close()

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload("SIGHUP"))
        self._signalled.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._signalled.discard)

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
            await self.pipeline.transitions()
            with self._heap.building(lambda: len(self.pipeline.heartbeats_due)):
                await self.pipeline.expect()

    async def _deadlines(self) -> None:
        if self.replica.leading:
            # A partition silences every pod at once: 100k misses decided in one batch
            # would otherwise meet a full collection (~200 ms) midway.
            with self._declared.building(lambda: self.pipeline.heartbeats_due.missed_total):
                await self.pipeline.deadlines()

    async def _watch(self) -> None:
        if await asyncio.to_thread(_fingerprint, self.options.runbook_path) != self._file:
            await self.reload("file change")

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
    """The file's content hash: a ConfigMap's symlink swap changes it, a `touch` does not.

    At most one byte past the runbook size limit is read: a file that large is
    refused by the loader anyway, and a huge one must not be read whole every few seconds.
    """
    try:
        with path.open("rb") as stream:
            return hashlib.sha256(stream.read(MAX_BYTES + 1)).hexdigest()
    except OSError:
        return ""
