"""What followed a disruptive action: a Watch while the outcome is open, a Followup once decided.

A watch belongs to its *target*: the workload of the pod acted on (a
restarted pod's replacement has a new name, and nothing says which pod
replaced which), or the pod itself when it has no controller. Watches are
persisted with the other remembered state, bounded: at most WATCHED_TARGETS
targets and WATCHES_PER_TARGET watches each, and MAX_WATCHES_BYTES of the
state object in all, the oldest dropped first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    size: int = field(default=0, init=False, compare=False, repr=False)
    """At least the bytes it takes in the state object: made once, summed at every opening."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", _watch_bytes(self))


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


def merge_watches(
    watches: Mapping[Target, tuple[Watch, ...]], changes: Mapping[Target, tuple[Watch, ...]]
) -> Mapping[Target, tuple[Watch, ...]]:
    """The open watches after a plan's (or a state update's) changes: a target's () closes
    its last one. The decision's overlay and both clusters' stores merge them alike."""
    if not changes:
        return watches
    merged = {**watches, **changes}
    return {target: kept for target, kept in merged.items() if kept}


_TARGET_OVERHEAD = 48  # {"namespace":,"kind":,"name":,"watches":[]} and a comma: 44
_WATCH_OVERHEAD = 144  # its keys, brackets and comma (72), three floats of at most 24 characters


def watches_bytes(target: Target, watches: tuple[Watch, ...]) -> int:
    """At least what `target`'s watches take in the state object (cluster/codec.py)."""
    if not watches:
        return 0
    return _TARGET_OVERHEAD + _texts(target) + sum(w.size for w in watches)


def _watch_bytes(w: Watch) -> int:
    return _WATCH_OVERHEAD + _texts((w.rule, w.action, w.pod, *w.supervisors))


def _texts(texts: tuple[str, ...]) -> int:
    """The strings as JSON: each quoted, escaped and ASCII, and a comma after each."""
    joined = "".join(texts)
    # Kubernetes' and the runbook's names need no escaping: then the length is the size.
    plain = joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined
    escaped = len(joined) if plain else len(encode_basestring_ascii(joined)) - 2
    return escaped + 3 * len(texts)
