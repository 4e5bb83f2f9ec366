"""Plain values shared by every layer: signals, pods, lifecycle state, reasons.

Nothing here does I/O or reads the clock; everything is a frozen dataclass or
an enum so decisions can be compared, hashed and replayed.
"""

from receiver.model.fleet import (
    Lifecycle,
    Pod,
    PodKey,
    PodState,
    Rollout,
    Snapshot,
    SupervisorState,
    Workload,
    parse_pod_key,
)
from receiver.model.hold import (
    MAX_HOLD,
    MAX_HOLDS_BYTES,
    Hold,
    HoldKind,
    active_holds,
    encode_holds,
    holds_bytes,
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
from receiver.model.times import rfc3339
from receiver.model.watch import Followup, Target, Watch, merge_watches

__all__ = [
    "HEARTBEAT_SIGNALS",
    "MAX_HOLD",
    "MAX_HOLDS_BYTES",
    "ActionOutcome",
    "Followup",
    "HeartbeatStatus",
    "Hold",
    "HoldKind",
    "Instant",
    "Lifecycle",
    "Outcome",
    "Pod",
    "PodKey",
    "PodState",
    "Reason",
    "Rollout",
    "Signal",
    "Snapshot",
    "Source",
    "Status",
    "SupervisorState",
    "Target",
    "Watch",
    "Workload",
    "active_holds",
    "alert_fingerprint",
    "encode_holds",
    "heartbeat_signal",
    "holds_bytes",
    "merge_watches",
    "parse_pod_key",
    "rfc3339",
]
