"""What the runbook would do with one alert, offline: `receiver explain`.

As `amtool config routes test` walks Alertmanager's routes for a label set,
this walks the runbook for one: the rules that match (the first one acts),
the pod's supervisor chain, the fleet its guards count, each guard's
standing, and the decision the engine makes now. The decision is the real
one: the signal is observed and decided by the decision core on a snapshot
of the given fleet (or of the one pod the labels name), on a fresh state.
"""

from __future__ import annotations

from collections.abc import Mapping

from receiver.decide import decide, fold, observe
from receiver.decide.index import index
from receiver.decide.tree import pod_labels
from receiver.model import Instant, Pod, PodKey, Signal, Snapshot, Workload
from receiver.model.signal import Source, Status
from receiver.report.text import guard_line
from receiver.report.usage import Usage
from receiver.runbook import Runbook
from receiver.runbook.quantities import format_duration

PSEUDO = ("alertname", "namespace", "pod", "severity", "workload", "workload_kind")


def assumed_fleet(labels: Mapping[str, str], replicas: int) -> Snapshot:
    """Without a fleet file: the pod the labels name and healthy peers of one Deployment.

    The pod's labels are the alert's labels other than the pseudo ones; the
    Deployment is the `workload` label, else the pod's name without the
    ReplicaSet hash and pod suffix (checkout-7f9c4-x2v7p: checkout).
    """
    own = {k: v for k, v in labels.items() if k not in PSEUDO}
    name = labels["pod"]
    workload = Workload(
        labels["namespace"],
        "Deployment",
        labels.get("workload") or name.rsplit("-", 2 if name.count("-") >= 2 else 1)[0],
    )
    names = [name, *(f"{workload.name}-peer-{i}" for i in range(1, replicas))]
    pods = [Pod(namespace=workload.namespace, name=n, labels=own, owner=workload) for n in names]
    return Snapshot(pods={p.key: p for p in pods})


def explain(
    runbook: Runbook, snapshot: Snapshot, labels: Mapping[str, str], now: Instant
) -> list[str]:
    """The explanation, one line each; labels need alertname, namespace and pod."""
    lines = [f"alert: {_labels(labels)}"]
    rules = index(runbook).rules_matching(labels)
    if rules:
        first = rules[0]
        steps = ", ".join(
            s.kind + (f" {format_duration(s.duration)}" if s.duration else "") for s in first.steps
        )
        lines.append(f"rule: {first.name} (steps: {steps}; then {first.exhausted})")
        lines.extend(f"  also matches, not used: {r.name}" for r in rules[1:])
    else:
        names = ", ".join(r.name for r in runbook.rules) or "none"
        lines.append(f"rule: none matches (rules: {names})")
    key = PodKey(labels["namespace"], labels["pod"])
    pod = snapshot.pods.get(key)
    if pod is None:
        known = ", ".join(sorted(str(k) for k in snapshot.pods)[:5])
        lines.append(f"pod: {key} is not in the fleet (its pods include {known})")
    else:
        lines.extend(_pod(runbook, snapshot, pod, now))
    lines.extend(_decision(runbook, snapshot, labels, now))
    return lines


def _pod(runbook: Runbook, snapshot: Snapshot, pod: Pod, now: Instant) -> list[str]:
    usage = Usage(runbook, snapshot, now)
    chain = usage.tree.chain(pod)
    names = " <- ".join(s.name for s in chain) or "none (unsupervised: nothing acts on it)"
    lines = [f"pod: {pod.key} (labels {_labels(pod_labels(pod))})", f"supervisors: {names}"]
    for guard in usage.fleet_guards(pod):
        lines.append(
            f"guards of {guard_line(guard)}, fleet {guard['fleet']} ({guard['size']} pods)"
        )
    for supervisor in chain:
        state = snapshot.supervisor(supervisor.name)
        used = sum(1 for t in state.counted if t > now - supervisor.intensity.period)
        lines.append(
            f"intensity of {supervisor.name}: {used} of {supervisor.intensity.max}"
            + (", frozen" if state.frozen(now) else "")
        )
    return lines


def _decision(
    runbook: Runbook, snapshot: Snapshot, labels: Mapping[str, str], now: Instant
) -> list[str]:
    signal = Signal(
        source=Source.ALERTMANAGER,
        name=labels["alertname"],
        status=Status.FIRING,
        labels=dict(labels),
        fingerprint="explain",
        starts_at=now,
        received_at=now,
    )
    seen = fold(snapshot, observe(runbook, snapshot, [signal], now))
    plan = decide(runbook, seen, signal, now)
    lines = ["decision now:"]
    dry = " (dry-run: changes nothing)" if runbook.settings.dry_run else ""
    lines.extend(f"  {a.kind} {a.target}: {a.detail}{dry}" for a in plan.actions)
    lines.extend(f"  not acted ({b.reason}) {b.target}: {b.detail}" for b in plan.blocked)
    lines.extend(
        f"  escalation of {e.supervisor} ({e.cause}): {e.detail}" for e in plan.escalations
    )
    if len(lines) == 1:
        lines.append("  nothing")
    return lines


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
