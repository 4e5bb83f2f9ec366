"""The longest the receiver holds its event loop, in process, at each heavy moment at 100k pods.

The detection benchmark (detection.py) measures from outside, where a
shared machine's neighbours add their share; this one counts only the
receiver's own CPU time (thread time) between two pauses of the pipeline,
i.e. the longest any request could wait behind the receiver's own work:

- start-up: every pod compared with the expected heartbeats and watched;
- the first deadlines: every pod's start-up deadline falls at once (all
  stale, the pods having beaten);
- a mass silence: `--silent` pods past their deadline together, gathered,
  observed and decided (a drain each) as one batch;
- a full comparison of the pods with the expected heartbeats (every 10 s).

- a tick (drains that end, probations): with `--journal`, the fleet
  compared with the journal's last line.

The pipeline is the one `receiver serve` builds, on the in-memory cluster,
on a simulated clock, with its pauses instrumented. Collections of the
garbage collector that fall inside a spell count in it. `wall` is the same
spell in wall-clock time: with the journal on, its thread (which makes the
lines) can hold the interpreter lock, which thread time does not show.

    .venv/bin/python bench/slices.py                    # 100k pods, 1,000 silent
    .venv/bin/python bench/slices.py --pods 10000 --silent 100
    .venv/bin/python bench/slices.py --journal /tmp/j   # as the chart runs it: journal on
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from server import fleet

from receiver.ingest import Beat
from receiver.model import HeartbeatStatus, PodKey
from receiver.runbook import load_file
from receiver.service import pipeline as stages
from receiver.service.auth import Tokens
from receiver.service.heap import Heap
from receiver.service.journal import JournalOptions
from receiver.service.pipeline import Pipeline
from receiver.service.runtime import Options
from receiver.service.serve import build, memory_cluster

HERE = Path(__file__).resolve().parent
RUNBOOK = HERE / "detection.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Spells:
    """CPU time of this thread between the pipeline's pauses, and the longest collection."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_wall = 0.0
        self._since_wall = time.perf_counter()
        self.count = 0
        self.collection = 0.0
        self._since = time.thread_time()
        self._pause = stages._pause
        self._collecting = 0.0
        gc.callbacks.append(self._collected)

    def _collected(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting = time.thread_time()
        else:
            self.collection = max(self.collection, time.thread_time() - self._collecting)

    def install(self) -> None:
        async def pause() -> None:
            self._close()
            await self._pause()
            self._since, self._since_wall = time.thread_time(), time.perf_counter()

        stages._pause = pause

    async def measure(self, work: Callable[[], Awaitable[None]]) -> dict[str, float]:
        self.longest, self.longest_wall, self.count, self.collection = 0.0, 0.0, 0, 0.0
        began_wall, began_cpu = time.perf_counter(), time.thread_time()
        self._since, self._since_wall = began_cpu, began_wall
        await work()
        self._close()
        return {
            "longest_ms": round(self.longest * 1000, 1),
            "longest_wall_ms": round(self.longest_wall * 1000, 1),
            "longest_collection_ms": round(self.collection * 1000, 1),
            "slices": self.count,
            "cpu_ms": round((time.thread_time() - began_cpu) * 1000),
            "wall_ms": round((time.perf_counter() - began_wall) * 1000),
        }

    def _close(self) -> None:
        self.longest = max(self.longest, time.thread_time() - self._since)
        self.longest_wall = max(self.longest_wall, time.perf_counter() - self._since_wall)
        self.count += 1


async def run(
    pods: int, silent: int, per_workload: int, journal: Path | None = None
) -> dict[str, dict[str, float]]:
    clock = Clock()
    runbook = load_file(RUNBOOK)
    cluster = memory_cluster(runbook, fleet(pods, max(1, pods // per_workload)), clock=clock)
    options = Options(
        runbook_path=RUNBOOK,
        tokens=Tokens(()),
        heartbeat_tokens=Tokens(()),
        journal=None if journal is None else JournalOptions(path=journal / "journal.jsonl"),
    )
    p = build(options, runbook, cluster, clock=clock).pipeline
    keys = sorted(cluster.snapshot().pods)
    spells = Spells()
    spells.install()
    heap, declared = Heap(), Heap()
    out: dict[str, dict[str, float]] = {}

    async def expect() -> None:
        with heap.building(lambda: len(p.heartbeats_due)):  # as runtime.py does
            await p.expect()

    async def deadlines() -> None:
        with declared.building(lambda: p.heartbeats_due.missed_total):  # as runtime.py does
            await p.deadlines()

    out["start-up comparison"] = await spells.measure(expect)
    clock.now += 10
    await beat_all(p, keys, clock.now, skip=set())  # every deadline moves on, its item stays
    clock.now += 6
    out["first deadlines (all stale)"] = await spells.measure(deadlines)
    quiet = set(keys[:: max(1, pods // silent)][:silent])
    for _ in range(3):  # 15 s of beats from the others
        await beat_all(p, keys, clock.now, skip=quiet)
        clock.now += 5
    clock.now += 1
    out[f"mass silence of {len(quiet)}"] = await spells.measure(deadlines)
    clock.now += 11
    out["full comparison"] = await spells.measure(expect)
    clock.now += 1
    out["a tick"] = await spells.measure(p.transitions)
    if p.journal is not None:
        p.journal.close()
    return out


async def beat_all(p: Pipeline, keys: list[PodKey], now: float, *, skip: set[PodKey]) -> None:
    for i in range(0, len(keys), 100):
        group = [Beat(k, HeartbeatStatus.OK, "", 5.0) for k in keys[i : i + 100] if k not in skip]
        await p.heartbeats(group, now)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--silent", type=int, default=1_000)
    parser.add_argument("--per-workload", type=int, default=100)
    parser.add_argument(
        "--all-silent", action="store_true", help="the mass silence is every pod (a partition)"
    )
    parser.add_argument("--journal", type=Path, help="keep the signal journal in this directory")
    args = parser.parse_args()
    silent = args.pods if args.all_silent else args.silent
    out = asyncio.run(run(args.pods, silent, args.per_workload, args.journal))
    for moment, figures in out.items():
        print(f"{moment:30} longest {figures['longest_ms']:6.1f} ms of CPU between pauses "
              f"({figures['longest_wall_ms']:.1f} wall) "
              f"({figures['slices']} slices, {figures['cpu_ms']} ms CPU in all; longest "
              f"collection {figures['longest_collection_ms']} ms)")  # fmt: skip
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
