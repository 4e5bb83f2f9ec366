"""The leader's label on its own pod: how the chart's Service finds the one replica that acts.

Every replica whose pod cache is synced is Ready, so a two-replica Deployment
is Available (`helm install --wait`, `kubectl rollout status`, Argo CD health
and PodDisruptionBudgets count both). Webhooks and heartbeats must still
reach the leader: the chart's Service also selects `remediation/leader: "true"`,
and only the leader's pod carries it.

A replica that starts to lead labels its own pod first, then takes the label
from every other pod in its namespace that still has it, a predecessor that
died with it on included (found by label selector, so its name need not be
known). It drops its own label when it stops leading and on shutdown. While
the label moves, the Service may still route to a standby for a moment: a
standby answers webhooks and heartbeats 503 with Retry-After (service/app.py),
and Alertmanager and heartbeat senders retry.
"""

from __future__ import annotations

import logging

from kubernetes.client.exceptions import ApiException

from receiver.cluster import ClusterUnavailable
from receiver.kube.api import Api, RetryPolicy, status_message
from receiver.kube.cluster import STRATEGIC, ObjectName

log = logging.getLogger(__name__)

LEADER_LABEL = "remediation/leader"
LEADER = "true"
LABEL_RETRY = RetryPolicy(attempts=2, budget=2.0)


class LeaderLabel:
    """Puts LEADER_LABEL on `pod` (this replica's own) and takes it from its namespace's others."""

    def __init__(self, api: Api, *, pod: ObjectName) -> None:
        self.api = api
        self.pod = pod

    async def claim(self) -> None:
        """Label this pod, then unlabel every other one; ClusterUnavailable if a write failed."""
        await self._label(self.pod.name, LEADER)
        listed = await self.api.call(
            "list",
            self.api.core.list_namespaced_pod,
            self.pod.namespace,
            label_selector=f"{LEADER_LABEL}={LEADER}",
            retry=LABEL_RETRY,
        )
        for item in listed.get("items") or ():
            name = str((item.get("metadata") or {}).get("name", ""))
            if name and name != self.pod.name:
                log.info("taking the leader label from pod %s/%s", self.pod.namespace, name)
                await self._label(name, None)

    async def drop(self) -> None:
        """Best effort (stepping down, shutting down): the next leader takes it anyway."""
        try:
            await self._label(self.pod.name, None)
        except ClusterUnavailable as exc:
            log.warning("could not drop the leader label: %s", exc)

    async def _label(self, name: str, value: str | None) -> None:
        body = {"metadata": {"labels": {LEADER_LABEL: value}}}
        try:
            await self.api.call(
                "patch",
                self.api.core.patch_namespaced_pod,
                name,
                self.pod.namespace,
                body,
                _content_type=STRATEGIC,
                retry=LABEL_RETRY,
            )
        except ApiException as exc:
            if exc.status == 404 and value is None:
                return  # a gone pod carries no label
            hint = " (check the receiver's RBAC: patch pods in its namespace)"
            raise ClusterUnavailable(
                f"label pod {self.pod.namespace}/{name} {LEADER_LABEL}={value}: HTTP {exc.status} "
                f"{status_message(exc)}{hint if exc.status == 403 else ''}"
            ) from exc
