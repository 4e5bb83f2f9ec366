"""Evictions not done yet, tried again from the tick until they pass: no pod is stranded.

A restart writes the pod's state (`restarted`, out of traffic) before it
evicts, so a refused eviction (a PodDisruptionBudget's 429) or a failed one
(the API down or slow) must be tried again, or the pod would stay out of
traffic for good: the decision stands, only the cluster said "not yet".
Each pod is tried again with jittered exponential back-off until the
eviction passes, the pod is gone, or a human resumes it; the budgets were
charged once, when the restart was decided. An eviction the cluster will
always refuse (EvictionFailed: 400, 403, 422, two PodDisruptionBudgets) is
not retried: the restart is reported failed and the pod waits for a human.

A replica that takes over adopts the pods its predecessor left restarted
but running, at its first tick (its pod cache is synced by then).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from receiver.cluster import (
    Cluster,
    ClusterUnavailable,
    Event,
    EventType,
    EvictionFailed,
    EvictionRefused,
)
from receiver.metrics import Metrics
from receiver.model import Instant, PodKey, PodState, Reason, Snapshot

log = logging.getLogger(__name__)
BACKOFF = (1.0, 60.0)  # seconds: after the first refusal, and at most


class Evictions:
    def __init__(
        self, cluster: Cluster, metrics: Metrics, *, rng: Callable[[], float] = random.random
    ) -> None:
        self._cluster = cluster
        self._metrics = metrics
        self._rng = rng
        self.pending: dict[PodKey, tuple[int, Instant]] = {}  # pod -> (refusals, next try)
        self._adopt = False

    def refused(self, key: PodKey, now: Instant, refusals: int = 0) -> None:
        """Not done yet (refused, or the API failed): try again after a back-off."""
        first, longest = BACKOFF
        wait = min(longest, first * 2**refusals) * (0.5 + self._rng() / 2)
        self.pending[key] = (refusals + 1, now + wait)
        self._metrics.evictions_pending.set(len(self.pending))

    async def retry(self, snapshot: Snapshot, now: Instant) -> None:
        """Try again the evictions that are due; a pod gone or resumed meanwhile is done."""
        if self._adopt:
            self._adopt = False
            for running in snapshot.pods.values():
                if running.lifecycle.state is PodState.RESTARTED and not running.terminating:
                    self.pending.setdefault(running.key, (0, now))
        for key, (refusals, due) in sorted(self.pending.items()):
            pod = snapshot.pods.get(key)
            if pod is not None and pod.lifecycle.state is not PodState.RESTARTED:
                del self.pending[key]  # a human resumed it: not ours to evict any more
                continue
            if due > now:
                continue
            try:
                await self._cluster.evict(key)
            except (EvictionRefused, ClusterUnavailable) as exc:
                log.info("eviction of %s not done yet (%s); trying again later", key, exc)
                self.refused(key, now, refusals)
                continue
            except EvictionFailed as exc:
                log.error("eviction of %s failed for good; a human must act: %s", key, exc)
                await self._failed(key, pod.lifecycle.rule if pod else None, exc, now)
            except LookupError:
                pass
            del self.pending[key]
        self._metrics.evictions_pending.set(len(self.pending))

    async def _failed(
        self, key: PodKey, rule: str | None, exc: EvictionFailed, now: Instant
    ) -> None:
        """A retry the API refused for good: counted and told on the pod like a first try."""
        self._metrics.count(self._metrics.actions, "restart", rule or "", "failed")
        event = Event(
            reason="Restarted",
            message=f"failed ({Reason.EVICTION_FAILED}): {exc}; the pod stays out of "
            "traffic until a human resumes or deletes it",
            at=now,
            type=EventType.WARNING,
            pod=key,
        )
        try:
            await self._cluster.record_event(event)
        except Exception:  # Events are best effort
            log.warning("could not record event %s on %s", event.reason, event.subject)

    def adopt(self) -> None:
        """This replica leads from now: at the next retry, the pods left restarted but
        running (by this replica or the last leader) are evicted."""
        self._adopt = True
