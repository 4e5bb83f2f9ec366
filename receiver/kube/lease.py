"""Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it.

Every `retry_period` each replica reads the Lease. The holder renews it
(renewTime); another replica takes it only after it has seen the same
record unchanged for a whole `leaseDurationSeconds` on its own monotonic
clock, so clock skew between nodes does not matter. Writes carry the
resourceVersion they read, so two candidates cannot both win one round.

The leader steps down when it has not renewed for `renew_deadline`, which
is shorter than the lease duration: by the time another replica may take
over, the old leader has stopped acting. A split brain is thereby bounded
by the lease duration even across a network partition, and every action
is additionally guarded by resourceVersion preconditions. On shutdown the
leader releases the Lease, so the standby takes over within one retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from receiver.cluster import ClusterUnavailable
from receiver.kube.api import Api, RetryPolicy
from receiver.kube.cluster import ObjectName
from receiver.model import rfc3339

log = logging.getLogger(__name__)

LEASE_RETRY = RetryPolicy(attempts=2, budget=2.0)


def micro_time(at: float) -> str:
    """A MicroTime as the API server writes it."""
    return rfc3339(at, "microseconds")


class LeaderElector:
    def __init__(
        self,
        api: Api,
        *,
        lease: ObjectName,
        identity: str,
        duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not retry_period < renew_deadline < duration:
            raise ValueError("leader election needs retry period < renew deadline < lease duration")
        self.api = api
        self.lease = lease
        self.identity = identity
        self.duration = duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.leading = False
        self.holder: str | None = None
        self._monotonic = monotonic
        self._wall = wall
        self._renewed_at = float("-inf")
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = float("-inf")

    async def run(self, on_change: Callable[[bool], Awaitable[None]]) -> None:
        """Campaign and renew until cancelled; `on_change(leading)` on every change."""
        try:
            while True:
                was = self.leading
                await self.step()
                if self.leading != was:
                    await on_change(self.leading)
                await asyncio.sleep(self.retry_period)
        finally:
            if self.leading:
                await self.release()

    async def step(self) -> None:
        """One round: take or renew the Lease, or notice it is lost."""
        now = self._monotonic()
        try:
            held = await self._acquire_or_renew(now)
        except (ClusterUnavailable, ApiException) as exc:
            log.warning("lease %s/%s: %s", self.lease.namespace, self.lease.name, exc)
            held = None
        if held:
            self._renewed_at = now
            if not self.leading:
                log.info("leading: this replica acts", extra={"identity": self.identity})
            self.leading = True
        elif self.leading and (held is False or now - self._renewed_at > self.renew_deadline):
            log.warning(
                "lost the lease; standing by",
                extra={"identity": self.identity, "holder": self.holder},
            )
            self.leading = False

    async def release(self) -> None:
        """Give the Lease up (on shutdown), so a standby takes over at once."""
        self.leading = False
        try:
            lease = await self._get()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = lease["spec"]
            spec.update(
                holderIdentity=None, leaseDurationSeconds=1, renewTime=micro_time(self._wall())
            )
            await self._update(lease)
        except (ClusterUnavailable, ApiException) as exc:
            log.warning("could not release the lease: %s", exc)

    async def _acquire_or_renew(self, now: float) -> bool | None:
        """True: held by us now; False: held by another; None: could not tell."""
        lease = await self._get()
        wall = micro_time(self._wall())
        if lease is None:
            return await self._create(wall)
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity") or None
        self.holder = holder
        record = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
        if record != self._observed:
            self._observed, self._observed_at = record, now
        duration = float(spec.get("leaseDurationSeconds") or self.duration)
        if holder not in (None, self.identity) and now < self._observed_at + duration:
            return False
        if holder != self.identity:
            spec["acquireTime"] = wall
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(
            holderIdentity=self.identity, leaseDurationSeconds=int(self.duration), renewTime=wall
        )
        try:
            await self._update(lease)
        except ApiException as exc:
            if exc.status == 409:  # another replica wrote it first this round
                return False
            raise
        self.holder = self.identity
        return True

    async def _get(self) -> dict[str, Any] | None:
        try:
            return await self.api.call(
                "get",
                self.api.coordination.read_namespaced_lease,
                self.lease.name,
                self.lease.namespace,
                retry=LEASE_RETRY,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def _create(self, wall: str) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.lease.name, "namespace": self.lease.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.duration),
                "acquireTime": wall,
                "renewTime": wall,
                "leaseTransitions": 0,
            },
        }
        try:
            await self.api.call(
                "create",
                self.api.coordination.create_namespaced_lease,
                self.lease.namespace,
                body,
                retry=LEASE_RETRY,
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        self.holder = self.identity
        return True

    async def _update(self, lease: dict[str, Any]) -> None:
        await self.api.call(
            "update",
            self.api.coordination.replace_namespaced_lease,
            self.lease.name,
            self.lease.namespace,
            lease,
            retry=LEASE_RETRY,
        )
