"""The one vocabulary for why something was or was not done.

The same string appears in the decision log, as a metric label value, in
Kubernetes Events and in HTTP responses, so it is an enum of stable values.
"""

from enum import StrEnum


class Reason(StrEnum):
    # Non-actions that are not guards: the signal simply leads nowhere.
    NO_RULE = "no_rule"
    NO_TARGET = "no_target"
    UNKNOWN_TARGET = "unknown_target"
    UNSUPERVISED = "unsupervised"
    DUPLICATE = "duplicate"
    PREDATES_POD = "predates_pod"
    RESOLVED = "resolved"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    EXHAUSTED = "exhausted"
    INVALID_TARGET = "invalid_target"
    # Deferred: an irreversible step waits for its settle window, then is decided again.
    SETTLING = "settling"
    # Guards: the action was wanted and something made it unsafe.
    NAMESPACE_NOT_ALLOWED = "namespace_not_allowed"
    PROTECTED = "protected"
    FROZEN = "frozen"
    COOLDOWN = "cooldown"
    SYSTEMIC = "systemic"
    MAX_UNAVAILABLE = "max_unavailable"
    MIN_AVAILABLE = "min_available"
    RATE_LIMITED = "rate_limited"
    ESCALATED = "escalated"
    # Reported by the cluster edge when applying a plan.
    PDB = "pdb"  # a disruption budget refused an eviction: retried from the tick
    API_ERROR = "api_error"  # the API failed or timed out: retried from the tick
    EVICTION_FAILED = "eviction_failed"  # refused for good (400, 403, 422, two PDBs)
    # Why a supervisor escalated (SYSTEMIC above is the other cause).
    INTENSITY = "intensity"
    # An operator holds automation off the pod, its workload or a supervisor above it.
    HELD = "held"
    # A guard and an escalation cause: the fleet's signalling pods are on its newest revision.
    BAD_ROLLOUT = "bad_rollout"

    @property
    def is_guard(self) -> bool:
        return self in _GUARDS


class Outcome(StrEnum):
    """What became of an action when it was applied."""

    APPLIED = "applied"
    DRY_RUN = "dry_run"
    FAILED = "failed"
    BLOCKED = "blocked"  # the cluster refused it (a PDB); retried later


class ActionOutcome(StrEnum):
    """What followed a disruptive action, decided within its rule's probation window."""

    RECOVERED = "recovered"  # the rule's signal did not come back for the target in the window
    RECURRED = "recurred"  # it did: the action treated a symptom
    SUPERSEDED = "superseded"  # an escalation or a human intervened before either was known


_GUARDS = frozenset(
    {
        Reason.NAMESPACE_NOT_ALLOWED,
        Reason.PROTECTED,
        Reason.FROZEN,
        Reason.COOLDOWN,
        Reason.SYSTEMIC,
        Reason.MAX_UNAVAILABLE,
        Reason.MIN_AVAILABLE,
        Reason.RATE_LIMITED,
        Reason.ESCALATED,
        Reason.PDB,
        Reason.HELD,
        Reason.BAD_ROLLOUT,
    }
)
