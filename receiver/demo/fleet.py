"""Simulated pods that push real heartbeats over HTTP and fall sick on a schedule.

Roles are given to pods by position when the demo starts; a replacement pod
(after a restart) is healthy unless the whole fleet is in an outage. Pushes
go through the same client an app would use (receiver.agent.Heartbeat), in
worker threads so the server on this event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from receiver.agent import Heartbeat, HeartbeatError
from receiver.cluster import MemoryCluster
from receiver.model import Instant, PodKey, Workload

log = logging.getLogger(__name__)

SHOP = "shop"
CHECKOUT = Workload(SHOP, "Deployment", "checkout")
WEB = Workload(SHOP, "Deployment", "web")


@dataclass(frozen=True, slots=True)
class Scene:
    """One part of the story: from `start` to `end` (seconds), what whom reports."""

    start: float
    end: float
    role: str  # "bad", "hang", "flapper", "checkout" (every checkout pod)
    status: str  # degraded, failing, or silent
    reason: str
    title: str


SCENES = (
    Scene(5, 11, "bad", "degraded", "p99 latency 4x the fleet", "one bad checkout pod"),
    Scene(15, 17, "flapper", "degraded", "cache thrashing", "a web pod starts flapping"),
    Scene(27, 29, "flapper", "degraded", "cache thrashing", "the web pod flaps again"),
    Scene(32, 40, "hang", "silent", "", "a checkout pod hangs and stops pushing"),
    Scene(46, 48, "flapper", "degraded", "cache thrashing", "the web pod flaps a third time"),
    Scene(55, 68, "checkout", "failing", "payments API unreachable", "payments outage: systemic"),
)
LENGTH = 75.0


def seed(cluster: MemoryCluster) -> None:
    cluster.add_workload(CHECKOUT, replicas=6, labels={"app": "checkout"}, max_unavailable=2)
    cluster.add_workload(WEB, replicas=3, labels={"app": "web"}, max_unavailable=1)


def cast(cluster: MemoryCluster) -> dict[PodKey, str]:
    """Roles by position among the first pods of each workload."""
    pods = cluster.snapshot().pods
    checkout = sorted(k for k, p in pods.items() if p.owner == CHECKOUT)
    web = sorted(k for k, p in pods.items() if p.owner == WEB)
    return {checkout[0]: "bad", checkout[1]: "hang", web[0]: "flapper"}


def report(role: str, workload: Workload | None, elapsed: float) -> tuple[str, str] | None:
    """What a pod with `role` reports at `elapsed`; None for silence."""
    for scene in SCENES:
        if not scene.start <= elapsed < scene.end:
            continue
        if scene.role == role or (scene.role == "checkout" and workload == CHECKOUT):
            return None if scene.status == "silent" else (scene.status, scene.reason)
    return ("ok", "")


class Fleet:
    def __init__(self, cluster: MemoryCluster, *, url: str, token: str, started: Instant) -> None:
        self.cluster = cluster
        self.url = url
        self.token = token
        self.started = started
        self.roles = cast(cluster)
        self._clients: dict[PodKey, Heartbeat] = {}

    async def run(self, clock: Callable[[], Instant], until: float) -> None:
        """Every second each running pod pushes what its role says, until `until`."""
        while (elapsed := clock() - self.started) < until:
            pods = self.cluster.snapshot().pods
            pushes = []
            for key, pod in pods.items():
                if pod.terminating or not pod.ready:
                    continue
                said = report(self.roles.get(key, ""), pod.owner, elapsed)
                if said is not None:
                    pushes.append(asyncio.to_thread(self._push, key, *said))
            await asyncio.gather(*pushes)
            await asyncio.sleep(1.0 - (clock() - self.started) % 1.0)

    def _push(self, key: PodKey, status: str, reason: str) -> None:
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = Heartbeat(
                url=self.url, token=self.token, namespace=key.namespace, pod=key.name, interval=1.0
            )
        try:
            client.push(status, reason=reason)
        except HeartbeatError as exc:
            log.warning("heartbeat from %s not taken: %s", key, exc)
