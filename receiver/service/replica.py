"""This replica's place among its peers: whether it acts, and whether it is ready.

The in-memory cluster has one replica that always acts (Standalone). The
Kubernetes adapter elects one leader on a Lease; the others stand by. Every
replica that can serve is Ready (the Deployment is Available); traffic finds
the leader by the label it puts on its own pod, and a standby that still gets
a webhook or heartbeat refuses it with 503 and Retry-After, so it is sent
again and reaches the leader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol


class Replica(Protocol):
    @property
    def leading(self) -> bool:
        """Whether this replica decides and acts now."""
        ...

    def ready(self) -> tuple[bool, str]:
        """Ready for traffic, and why (not)."""
        ...

    def follow(self, namespaces: Collection[str]) -> None:
        """A reloaded runbook allows these namespaces."""
        ...

    async def run(self, on_lead: Callable[[], Awaitable[None]]) -> None:
        """Until cancelled; calls `on_lead` every time this replica starts to lead."""
        ...


class Standalone:
    """The only replica: it leads from the start."""

    leading = True

    def ready(self) -> tuple[bool, str]:
        return True, "in-memory cluster; this replica acts"

    def follow(self, namespaces: Collection[str]) -> None:
        pass

    async def run(self, on_lead: Callable[[], Awaitable[None]]) -> None:
        await asyncio.Event().wait()
