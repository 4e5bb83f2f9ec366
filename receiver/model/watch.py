"""What followed a disruptive action: a Watch while the outcome is open, a Followup once decided.

A watch belongs to its *target*: the workload of the pod acted on (a
restarted pod's replacement has a new name, and nothing says which pod
replaced which), or the pod itself when it has no controller. Watches are
persisted with the other remembered state, bounded: at most WATCHED_TARGETS
targets and WATCHES_PER_TARGET watches each, and MAX_WATCHES_BYTES of the
state object in all, the oldest dropped first.
"""

from __future__ import annotations

from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

from receiver.model.fleet import PodKey, Workload
from receiver.model.reason import ActionOutcome
from receiver.model.signal import Instant

WATCHED_TARGETS = 256
"""How many targets have open watches at once; a new one drops the one acted on longest ago."""
WATCHES_PER_TARGET = 8
"""How many open watches one target keeps (the newest)."""
MAX_WATCHES_BYTES = 512 * 1024
"""The encoded watches' share of the state object (a ConfigMap holds at most 1 MiB): past
it the targets acted on longest ago are dropped, as past WATCHED_TARGETS. At Kubernetes'
name limits 2,048 watches would take over 1 MiB; with everyday names this never binds."""

Target = PodKey | Workload


@dataclass(frozen=True, slots=True, kw_only=True)
class Watch:
    """One disruptive action whose outcome is open until `until` (the end of its probation).

    `supervisors` is the acted pod's chain (nearest first), so an escalation or
    a reset of any of them supersedes it; `healthy_at` the first tick at which
    the target was whole again (every pod in service, none signalling).
    """

    rule: str
    action: str  # an ActionKind value: drain, restart, rolloutRestart
    pod: str  # the pod acted on; "" for a workload's rollout restart
    at: Instant
    until: Instant
    supervisors: tuple[str, ...] = ()
    healthy_at: Instant | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Followup:
    """A watch decided: its outcome, `after` seconds after the action.

    `after` is the time until the signal came back (recurred), until the
    probation ended (recovered), or until the intervention (superseded);
    `recovery` the time until the target was whole again, for a recovered
    action whose target was seen whole (None otherwise).
    """

    target: Target
    watch: Watch
    outcome: ActionOutcome
    after: float
    recovery: float | None = None
    detail: str = ""


_TARGET_OVERHEAD = 64  # {"namespace":,"kind":,"name":,"watches":[]}, and a comma
_WATCH_OVERHEAD = 200  # the keys, three floats of at most 24 characters, and a comma


def _text(value: str) -> int:
    return len(encode_basestring_ascii(value))  # as JSON: quoted, escaped, ASCII


def watches_bytes(target: Target, watches: tuple[Watch, ...]) -> int:
    """At least what `target`'s watches take in the state object (cluster/codec.py)."""
    if not watches:
        return 0
    size = _TARGET_OVERHEAD + _text(target.namespace) + _text(target.name)
    if isinstance(target, Workload):
        size += _text(target.kind)
    for w in watches:
        size += _WATCH_OVERHEAD + _text(w.rule) + _text(w.action) + _text(w.pod)
        size += sum(_text(s) + 1 for s in w.supervisors)
    return size
