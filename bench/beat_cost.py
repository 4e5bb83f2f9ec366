"""The cost of one heartbeat inside the receiver, by fleet size: does it grow with the fleet?

In process, without HTTP (whose cost per request does not depend on the
fleet): the receiver's pipeline as `receiver serve` builds it on the
in-memory cluster, every pod watched and beating, then ok beats for pods
spread over the fleet, alone and in batches of 100. Prints microseconds of
CPU time per beat (the machine is shared: wall time would measure the
neighbours), the median of `--repeats` runs of `--beats` beats each.

    .venv/bin/python bench/beat_cost.py
    .venv/bin/python bench/beat_cost.py --sizes 1000,100000 --repeats 7
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from pathlib import Path

from server import fleet

from receiver.ingest import Beat
from receiver.model import HeartbeatStatus, PodKey
from receiver.runbook import load_file
from receiver.service.auth import Tokens
from receiver.service.pipeline import Pipeline
from receiver.service.runtime import Options
from receiver.service.serve import build, memory_cluster

HERE = Path(__file__).resolve().parent
RUNBOOK = HERE / "detection.yaml"
PER_WORKLOAD = 100


def pipeline(size: int) -> tuple[Pipeline, list[PodKey]]:
    runbook = load_file(RUNBOOK)
    cluster = memory_cluster(runbook, fleet(size, max(1, size // PER_WORKLOAD)))
    options = Options(runbook_path=RUNBOOK, tokens=Tokens(()), heartbeat_tokens=Tokens(()))
    service = build(options, runbook, cluster)
    return service.pipeline, sorted(cluster.snapshot().pods)


async def measure(size: int, *, batch: int, beats: int, repeats: int) -> float:
    p, keys = pipeline(size)
    # (tick() on code before the sliced comparison, for measuring what it changed)
    await (p.expect() if hasattr(p, "expect") else p.tick())
    for i in range(0, size, 100):  # everyone beats once: each pod has its entry
        await p.heartbeats([Beat(k, HeartbeatStatus.OK, "", 5.0) for k in keys[i : i + 100]], 0)
    # As the service does once the expected pods are compared (receiver/service/heap.py):
    # the long-lived heap frozen, so collections do not scan 100k pods' objects.
    gc.collect()
    gc.freeze()
    runs = []
    for run in range(repeats):
        chosen = [keys[(i * 7919 + run) % size] for i in range(beats)]  # spread over the fleet
        batches = [
            [Beat(k, HeartbeatStatus.OK, "", 5.0) for k in chosen[i : i + batch]]
            for i in range(0, beats, batch)
        ]
        began = time.thread_time()  # CPU time: the machine is shared, wall time is not ours
        for group in batches:
            await p.heartbeats(group, p.clock())
        runs.append((time.thread_time() - began) / beats * 1e6)
    gc.unfreeze()
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--beats", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out = {}
    for size in (int(s) for s in args.sizes.split(",")):
        for batch in (1, 100):
            us = asyncio.run(measure(size, batch=batch, beats=args.beats, repeats=args.repeats))
            out[f"{size}_{batch}"] = round(us, 2)
            print(f"{size:>7} pods, {batch:>3} beats a call: {us:6.2f} us per beat")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
