"""One receiver replica on Kubernetes: its pod cache, its Lease, and whether it acts.

A replica acts only while it holds the Lease *and* its pod cache is synced:
a guard that counted a half-listed fleet would let too much of it go. A
standby answers /readyz 503, so the Service sends webhooks and heartbeats
to the leader. On becoming leader the replica reads the state object again
(the previous leader wrote it) before the service takes over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection

from receiver.kube.cluster import KubernetesCluster
from receiver.kube.lease import LeaderElector


class KubernetesReplica:
    def __init__(
        self,
        cluster: KubernetesCluster,
        elector: LeaderElector | None,
        namespaces: Collection[str],
    ) -> None:
        self.cluster = cluster
        self.elector = elector
        self._namespaces = tuple(namespaces)

    @property
    def leading(self) -> bool:
        elected = self.elector is None or self.elector.leading
        return elected and self.cluster.synced

    def ready(self) -> tuple[bool, str]:
        if not self.cluster.synced:
            return False, self.cluster.describe()
        if self.elector is not None and not self.elector.leading:
            holder = self.elector.holder or "nobody yet"
            return False, f"standby: the lease is held by {holder}"
        return True, "leader; pod cache synced"

    def follow(self, namespaces: Collection[str]) -> None:
        self.cluster.watch(namespaces)

    async def run(self, on_lead: Callable[[], Awaitable[None]]) -> None:
        """Watch pods, campaign for the Lease, and call `on_lead` each time this replica leads."""
        await self.cluster.start(self._namespaces)

        async def changed(leading: bool) -> None:
            if leading:
                await self.cluster.load_state()
                await on_lead()

        try:
            if self.elector is None:
                await changed(True)
                await asyncio.Event().wait()
            else:
                await self.elector.run(changed)
        finally:
            self.cluster.stop()
