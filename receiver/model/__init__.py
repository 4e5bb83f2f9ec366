"""Plain values shared by every layer: signals, pods, lifecycle state, reasons.

Nothing here does I/O or reads the clock; everything is a frozen dataclass or
an enum so decisions can be compared, hashed and replayed.
"""

from receiver.model.fleet import (
    Lifecycle,
    Pod,
    PodKey,
    PodState,
    Snapshot,
    SupervisorState,
    Workload,
)
from receiver.model.reason import Reason
from receiver.model.signal import Instant, Signal, Source, Status

__all__ = [
    "Instant",
    "Lifecycle",
    "Pod",
    "PodKey",
    "PodState",
    "Reason",
    "Signal",
    "Snapshot",
    "Source",
    "Status",
    "SupervisorState",
    "Workload",
]
