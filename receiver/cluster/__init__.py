"""The cluster edge: the interface decisions are applied through, and its in-memory default."""

from receiver.cluster.memory import MemoryCluster
from receiver.cluster.protocol import (
    READINESS_GATE,
    Cluster,
    ClusterUnavailable,
    Conflict,
    Event,
    EventType,
    EvictionFailed,
    EvictionRefused,
    PodIdentity,
    PodPatch,
    PodTokenReview,
    StateUpdate,
    Traffic,
)

__all__ = [
    "READINESS_GATE",
    "Cluster",
    "ClusterUnavailable",
    "Conflict",
    "Event",
    "EventType",
    "EvictionFailed",
    "EvictionRefused",
    "MemoryCluster",
    "PodIdentity",
    "PodPatch",
    "PodTokenReview",
    "StateUpdate",
    "Traffic",
]
