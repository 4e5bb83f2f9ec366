"""A new leader acts only once it has read the state object again.

Until then it would decide from what it read when it started, perhaps hours
before: supervisors the last leader froze, holds set and budgets spent since.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

from receiver.cluster import ClusterUnavailable
from receiver.kube.cluster import KubernetesCluster
from receiver.kube.lease import LeaderElector
from receiver.kube.replica import KubernetesReplica


class StubCluster:
    """Synced at once; load_state answers as the test says."""

    def __init__(self) -> None:
        self.synced = True
        self.reads = 0
        self.answers: asyncio.Queue[Exception | None] = asyncio.Queue()

    async def start(self, namespaces: Any) -> None:
        return None

    async def load_state(self) -> None:
        self.reads += 1
        answer = await self.answers.get()
        if answer is not None:
            raise answer

    async def reconcile_gates(self) -> None:
        return None

    def stop(self) -> None:
        return None


class StubElector:
    def __init__(self) -> None:
        self.leading = False
        self.holder: str | None = None
        self.on_change: Callable[[bool], Awaitable[None]] | None = None

    async def run(self, on_change: Callable[[bool], Awaitable[None]]) -> None:
        self.on_change = on_change
        await asyncio.Event().wait()

    async def become(self, leading: bool) -> None:
        self.leading = leading
        assert self.on_change is not None
        await self.on_change(leading)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_a_new_leader_leads_only_after_reading_the_state_object_again() -> None:
    async def scenario() -> None:
        cluster, elector = StubCluster(), StubElector()
        replica = KubernetesReplica(
            cast(KubernetesCluster, cluster), cast(LeaderElector, elector), ("shop",)
        )
        led: list[bool] = []

        async def on_lead() -> None:
            led.append(replica.leading)

        running = asyncio.create_task(replica.run(on_lead))
        await settle()
        await elector.become(True)
        await settle()
        assert cluster.reads == 1
        assert not replica.leading  # elected and synced, the state not read yet
        await cluster.answers.put(ClusterUnavailable("state object: HTTP 500"))
        await asyncio.sleep(1.1)  # the take-over tries again after a second
        assert cluster.reads == 2
        assert not replica.leading
        await cluster.answers.put(None)
        await settle()
        assert replica.leading
        assert led == [True]  # the pipeline takes over with the state read
        await elector.become(False)
        assert not replica.leading
        await elector.become(True)  # leads again: reads again before acting
        await settle()
        assert not replica.leading
        await cluster.answers.put(None)
        await settle()
        assert replica.leading
        running.cancel()

    asyncio.run(scenario())
