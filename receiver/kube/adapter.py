"""The Kubernetes adapter put together from the command line's choices: options, connect()."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from receiver.kube.api import Api
from receiver.kube.cluster import KubernetesCluster, ObjectName
from receiver.kube.connect import api_client, own_identity, own_namespace, own_pod
from receiver.kube.leader_label import LeaderLabel
from receiver.kube.lease import LeaderElector
from receiver.kube.replica import KubernetesReplica
from receiver.kube.tokens import PodTokens
from receiver.metrics import Metrics

DEFAULT_NAME = "remediation-receiver"


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeOptions:
    kubeconfig: Path | None = None  # None: the in-cluster service account
    namespace: str | None = None  # the receiver's own: Lease and state ConfigMap
    identity: str | None = None
    pod_name: str | None = None  # this replica's pod, labelled while it leads; None: $POD_NAME
    lease_name: str = DEFAULT_NAME
    state_name: str = f"{DEFAULT_NAME}-state"
    leader_election: bool = True
    heartbeat_audience: str | None = None
    evict_fallback_after: float | None = None
    lease_timing: tuple[float, float, float] = (15.0, 10.0, 2.0)  # duration, renew, retry


@dataclass(frozen=True, slots=True)
class Adapter:
    api: Api
    cluster: KubernetesCluster
    replica: KubernetesReplica
    pod_tokens: PodTokens | None


def connect(
    options: KubeOptions,
    namespaces: Collection[str],
    *,
    api: Api | None = None,
    metrics: Metrics | None = None,
) -> Adapter:
    """The adapter for `namespaces` (the runbook's); nothing is contacted until it runs.

    Its API requests are counted in `metrics` (the service's).
    """
    api = api or Api(api_client(options.kubeconfig), metrics=metrics)
    namespace = own_namespace(options.namespace)
    identity = own_identity(options.identity)
    cluster = KubernetesCluster(
        api,
        state=ObjectName(namespace, options.state_name),
        identity=identity,
        evict_fallback_after=options.evict_fallback_after,
    )
    duration, renew_deadline, retry_period = options.lease_timing
    elector = (
        LeaderElector(
            api,
            lease=ObjectName(namespace, options.lease_name),
            identity=identity,
            duration=duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )
        if options.leader_election
        else None
    )
    tokens = PodTokens(api, options.heartbeat_audience) if options.heartbeat_audience else None
    pod = own_pod(options.pod_name)
    label = LeaderLabel(api, pod=ObjectName(namespace, pod)) if pod else None
    replica = KubernetesReplica(cluster, elector, namespaces, label)
    return Adapter(api, cluster, replica, tokens)
