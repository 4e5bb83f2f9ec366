"""The cluster edge: the interface decisions are applied through, and its in-memory default."""

from receiver.cluster.memory import MemoryCluster
from receiver.cluster.protocol import (
    Cluster,
    ClusterUnavailable,
    Event,
    EventType,
    EvictionRefused,
    PodPatch,
    StateUpdate,
    Traffic,
)

__all__ = [
    "Cluster",
    "ClusterUnavailable",
    "Event",
    "EventType",
    "EvictionRefused",
    "MemoryCluster",
    "PodPatch",
    "StateUpdate",
    "Traffic",
]
