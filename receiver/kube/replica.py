"""One receiver replica on Kubernetes: its pod cache, its Lease, and whether it acts.

A replica acts only while it holds the Lease *and* its pod cache is synced:
a guard that counted a half-listed fleet would let too much of it go. Every
synced replica is Ready, leader or standby, so the Deployment is Available;
the leader labels its own pod (leader_label.py) and the Service selects that
label, so webhooks and heartbeats go to the leader. On becoming leader the
replica waits for its pod cache to be synced, reads the state object again
(the previous leader wrote it), lets the service take over (which adopts the
evictions the last leader left pending, found in the cache, so a half-listed
cache would adopt too few), and only then takes the label: traffic arrives
when the replica can act on it. The wait runs beside the elector, which keeps
renewing the Lease. Stepping down or shutting down drops the label. While it
leads, the replica also opens the readiness gate of pods that declare it and
are in traffic, and writes again a gate a decision could not
(KubernetesCluster.reconcile_gates).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from receiver.cluster import ClusterUnavailable
from receiver.kube.cluster import KubernetesCluster
from receiver.kube.leader_label import LeaderLabel
from receiver.kube.lease import LeaderElector

log = logging.getLogger(__name__)

SYNC_POLL = 0.05  # seconds between looks at the cache while a new leader waits for it
KEEP_UP = 1.0  # seconds between a leader's looks at its label and the pods' readiness gates


class KubernetesReplica:
    def __init__(
        self,
        cluster: KubernetesCluster,
        elector: LeaderElector | None,
        namespaces: Collection[str],
        label: LeaderLabel | None = None,
    ) -> None:
        self.cluster = cluster
        self.elector = elector
        self.label = label  # None: not in a pod (no $POD_NAME), nothing to label
        self._namespaces = tuple(namespaces)
        self._taking_over: asyncio.Task[None] | None = None
        self._labelled = False
        self._state_read = False  # the state object read since this replica last became leader

    @property
    def leading(self) -> bool:
        """Elected, the pods synced, and the state object read since: until then a new
        leader would decide from what it read long ago (frozen supervisors, holds and
        budgets the last leader wrote since), so it answers as a standby."""
        elected = self.elector is None or self.elector.leading
        return elected and self.cluster.synced and self._state_read

    def ready(self) -> tuple[bool, str]:
        if not self.cluster.synced:
            return False, self.cluster.describe()
        if self.elector is not None and not self.elector.leading:
            holder = self.elector.holder or "nobody yet"
            return True, f"standby (the lease is held by {holder}); pod cache synced"
        return True, "leader; pod cache synced"

    def follow(self, namespaces: Collection[str]) -> None:
        self.cluster.watch(namespaces)

    async def run(self, on_lead: Callable[[], Awaitable[None]]) -> None:
        """Watch pods, campaign for the Lease, and call `on_lead` each time this replica leads."""
        await self.cluster.start(self._namespaces)

        async def changed(leading: bool) -> None:
            self._state_read = False
            if self._taking_over is not None:
                self._taking_over.cancel()
                self._taking_over = None
            if leading:
                self._taking_over = asyncio.create_task(self._take_over(on_lead))
            elif self.label is not None:
                self._labelled = False
                await self.label.drop()

        try:
            if self.elector is None:
                await self._take_over(on_lead)
                await asyncio.Event().wait()
            else:
                await self.elector.run(changed)
        finally:
            if self._taking_over is not None:
                self._taking_over.cancel()
            if self.label is not None and self._labelled:
                await self.label.drop()
            self.cluster.stop()

    async def _take_over(self, on_lead: Callable[[], Awaitable[None]]) -> None:
        while not self.cluster.synced:
            await asyncio.sleep(SYNC_POLL)
        while True:
            try:
                await self.cluster.load_state()
                self._state_read = True
                break
            except ClusterUnavailable as exc:
                log.warning("taking over: cannot read the state object (%s); again in 1s", exc)
                await asyncio.sleep(1.0)
        await on_lead()
        while True:  # until this replica stops leading (the task is cancelled)
            await self._claim_label()
            await self.cluster.reconcile_gates()
            await asyncio.sleep(KEEP_UP)

    async def _claim_label(self) -> None:
        """Until it is ours alone: while a standby holds it, the Service sends it everything."""
        if self.label is None or self._labelled:
            return
        try:
            await self.label.claim()
            self._labelled = True
        except ClusterUnavailable as exc:
            log.warning("cannot take the leader label (%s); again in %ss", exc, KEEP_UP)
