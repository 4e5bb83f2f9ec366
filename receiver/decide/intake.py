"""How signals enter: which pod or workload a signal names, and batch bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, auto

from receiver.decide.draft import Draft
from receiver.decide.plan import Plan
from receiver.model import Instant, Lifecycle, PodKey, Signal, Snapshot, Source, Status, Workload
from receiver.model.fleet import pod_key
from receiver.runbook import Runbook
from receiver.runbook.types import Settings, TargetLabels

HEARTBEAT_TARGET = TargetLabels()
_HEARTBEAT = Source.HEARTBEAT  # read once: an enum member read through its class is slow
_FIRING = Status.FIRING


def resolve_target(settings: Settings, signal: Signal) -> PodKey | Workload | None:
    """The pod (or workload) a signal is about, from the configured target labels.

    Heartbeat signals are made by the receiver itself and always use the
    labels `namespace` and `pod`, whatever settings.targetLabels says.
    """
    labels = signal.labels
    names = HEARTBEAT_TARGET if signal.source is _HEARTBEAT else settings.target_labels
    namespace = labels.get(names.namespace)
    if not namespace:
        return None
    pod = labels.get(names.pod)
    if pod:
        return pod_key(namespace, pod)
    for label, kind in names.workloads.items():
        if labels.get(label):
            return Workload(namespace, kind, labels[label])
    return None


class Unresolved(Enum):
    """A target not yet looked up: decide() resolves it from the signal's labels."""

    TARGET = auto()


Target = PodKey | Workload | None


def observe(
    runbook: Runbook,
    snapshot: Snapshot,
    signals: Sequence[Signal],
    now: Instant,
    targets: Sequence[Target] | None = None,
) -> Plan:
    """Record a batch's signals (one webhook, one heartbeat push) as firing or resolved.

    Callers apply this plan, then decide() each signal in turn, so fleet health
    (maxUnhealthy) sees the whole group Alertmanager delivered at once rather
    than discovering it pod by pod after the first few pods were acted on.
    """
    draft = Draft(snapshot, now)
    settings, pods = runbook.settings, snapshot.pods
    if targets is None:
        targets = [resolve_target(settings, s) for s in signals]
    for signal, target in zip(signals, targets, strict=True):
        if (
            isinstance(target, PodKey)
            and target in pods
            and settings.namespace_allowed(target.namespace)
            and not pods[target].predates(signal.starts_at)
        ):
            current = draft.lifecycle(target)
            tracked = track(current, signal, settings, now)
            if tracked is not current:  # mostly a re-delivery: nothing to write
                draft.set_lifecycle(target, tracked)
    return draft.plan(None)


def track(state: Lifecycle, signal: Signal, settings: Settings, now: Instant) -> Lifecycle:
    """Record the signal as firing (until resolved or its TTL passes) or clear it."""
    if signal.status is not _FIRING:
        return state.with_signal(signal.fingerprint, None, now)
    ends = signal.ends_at
    expires = ends if ends is not None and ends > now else now + settings.signal_ttl
    fingerprint = signal.fingerprint
    for key, current in state.active:
        if key == fingerprint:
            if current - now >= settings.signal_ttl / 2 and current <= expires:
                # Still counted for at least half a TTL: a re-delivery need not be
                # written down again (with Kubernetes, a PATCH per alert per re-send).
                return state
            break
    return state.with_signal(signal.fingerprint, max(expires, now + 1e-3), now)
