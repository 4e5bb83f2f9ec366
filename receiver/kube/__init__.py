"""The Kubernetes adapter: the cluster interface on the official client, leader election
on a Lease, and pod-bound heartbeat tokens checked by TokenReview."""

from receiver.kube.api import Api, RetryPolicy
from receiver.kube.cluster import KubernetesCluster, ObjectName
from receiver.kube.lease import LeaderElector
from receiver.kube.replica import KubernetesReplica
from receiver.kube.tokens import PodTokens

__all__ = [
    "Api",
    "KubernetesCluster",
    "KubernetesReplica",
    "LeaderElector",
    "ObjectName",
    "PodTokens",
    "RetryPolicy",
]
