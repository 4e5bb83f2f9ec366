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
from receiver.model.reason import ActionOutcome, Outcome, Reason
from receiver.model.signal import (
    HEARTBEAT_SIGNALS,
    HeartbeatStatus,
    Instant,
    Signal,
    Source,
    Status,
    alert_fingerprint,
    heartbeat_signal,
)
from receiver.model.watch import Followup, Target, Watch

__all__ = [
    "HEARTBEAT_SIGNALS",
    "ActionOutcome",
    "Followup",
    "HeartbeatStatus",
    "Instant",
    "Lifecycle",
    "Outcome",
    "Pod",
    "PodKey",
    "PodState",
    "Reason",
    "Signal",
    "Snapshot",
    "Source",
    "Status",
    "SupervisorState",
    "Target",
    "Watch",
    "Workload",
    "alert_fingerprint",
    "heartbeat_signal",
]
