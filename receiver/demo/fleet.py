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
    """One part of the story: from `start` to `end` (seconds), what whom reports.

    `expect` tells the audience, as the act starts, what the runbook should
    make of it and why.
    """

    start: float
    end: float
    role: str  # "bad", "hang", "flapper", "checkout" (every checkout pod)
    status: str  # degraded, failing, or silent
    reason: str
    title: str
    expect: str


SCENES = (
    Scene(
        5, 11, "bad", "degraded", "p99 latency 4x the fleet", "one bad checkout pod",
        "It reports degraded. Rule `degraded` drains it at once (a drain is reversible,"
        " so it needs no wait); after 8s it goes back into traffic on probation.",
    ),
    Scene(
        15, 17, "flapper", "degraded", "cache thrashing", "a web pod starts flapping",
        "Degraded for 2s: drained for 8s, then 20s of probation.",
    ),
    Scene(
        27, 29, "flapper", "degraded", "cache thrashing", "the web pod flaps again",
        "A recurrence during probation takes the rule's next step: a longer drain (12s).",
    ),
    Scene(
        32, 40, "hang", "silent", "", "a checkout pod hangs and stops pushing",
        "After 3 silent seconds the receiver declares HeartbeatMissed itself. Rule"
        " `silent-or-failing` wants a restart, which cannot be undone: the pod leaves traffic"
        " at once and the restart waits a 10s settle window. The pod recovers at 40s, so when"
        " the window ends it goes back into traffic, not restarted.",
    ),
    Scene(
        46, 48, "flapper", "degraded", "cache thrashing", "the web pod flaps a third time",
        "A third occurrence within probation: the rule's last step, a restart. It waits its"
        " settle window out of traffic; the pod is healthy again when the window ends, so it"
        " is not restarted.",
    ),
    Scene(
        55, 68, "checkout", "failing", "payments API unreachable", "payments outage: systemic",
        "Every checkout pod reports failing, one push at a time. The first leaves traffic to"
        " settle; by the second, more than maxUnhealthy 30% of the fleet signals, so the cause"
        " is not the pods: they are held as `systemic`, the checkout supervisor escalates once"
        " (notify oncall) and freezes automation below it, and the settling pod goes back into"
        " traffic. No pod is restarted.",
    ),
)  # fmt: skip
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

    async def run(self, clock: Callable[[], Instant], until: float, *, story: bool = True) -> None:
        """Every second each running pod pushes what its role says, until `until`.

        Without the story every pod reports ok: the fleet after the demo, kept
        healthy, so the console shows the story's end instead of an outage.
        """
        while (elapsed := clock() - self.started) < until:
            pods = self.cluster.snapshot().pods
            pushes = []
            for key, pod in pods.items():
                if pod.terminating or not pod.ready:
                    continue
                said = report(self.roles.get(key, ""), pod.owner, elapsed) if story else ("ok", "")
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
