"""Evictions a disruption budget refused, tried again from the tick until they pass.

A refused eviction (429) leaves its pod out of traffic in state `restarted`:
the decision stands, only the cluster said "not yet". Each pod is tried
again with jittered exponential back-off; a pod gone meanwhile is done. A
replica that takes over adopts the pods its predecessor left in that state.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from receiver.cluster import Cluster, EvictionRefused
from receiver.model import Instant, PodKey, PodState, Snapshot

BACKOFF = (1.0, 60.0)  # seconds: after the first refusal, and at most


class Evictions:
    def __init__(self, cluster: Cluster, *, rng: Callable[[], float] = random.random) -> None:
        self._cluster = cluster
        self._rng = rng
        self.pending: dict[PodKey, tuple[int, Instant]] = {}  # pod -> (refusals, next try)

    def refused(self, key: PodKey, now: Instant, refusals: int = 0) -> None:
        first, longest = BACKOFF
        wait = min(longest, first * 2**refusals) * (0.5 + self._rng() / 2)
        self.pending[key] = (refusals + 1, now + wait)

    async def retry(self, now: Instant) -> None:
        """Try again the refused evictions that are due; a pod gone meanwhile is done."""
        for key, (refusals, due) in sorted(self.pending.items()):
            if due > now:
                continue
            try:
                await self._cluster.evict(key)
            except EvictionRefused:
                self.refused(key, now, refusals)
                continue
            except LookupError:
                pass
            del self.pending[key]

    def adopt(self, snapshot: Snapshot, now: Instant) -> None:
        """Pods left restarted but running (by this replica or the last leader): evict them."""
        for pod in snapshot.pods.values():
            if pod.lifecycle.state is PodState.RESTARTED and not pod.terminating:
                self.pending.setdefault(pod.key, (0, now))
