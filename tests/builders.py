"""Small builders so decision tests read as tables."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from receiver.decide import Plan, decide, fold, observe
from receiver.model import (
    Instant,
    Lifecycle,
    Pod,
    PodKey,
    PodState,
    Signal,
    Snapshot,
    Source,
    Status,
    Workload,
)
from receiver.runbook import Runbook, load_text

T0: Instant = 1_767_225_600.0


def runbook(
    body: str, *, namespaces: str = "[shop]", settings: str = "", settle: str | None = "0s"
) -> Runbook:
    """A runbook from a YAML snippet of supervisors/rules/notifiers.

    Restarts and pauses act at once (`settle: 0s`) unless `settle` says otherwise
    (None: the default window): the tables here are about what follows a step;
    the settle window has its own (test_settle.py).
    """
    head = f"apiVersion: remediation/v1\nkind: Runbook\nsettings:\n  namespaces: {namespaces}\n"
    if settle is not None:
        head += f"  settle: {settle}\n"
    if settings:
        head += textwrap.indent(textwrap.dedent(settings).strip(), "  ") + "\n"
    return load_text(head + textwrap.dedent(body))


def fleet(
    name: str = "checkout",
    replicas: int = 10,
    *,
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
    kind: str = "Deployment",
) -> dict[PodKey, Pod]:
    owner = Workload(namespace, kind, name)
    return {
        PodKey(namespace, f"{name}-{i}"): Pod(
            namespace=namespace,
            name=f"{name}-{i}",
            labels=labels if labels is not None else {"app": name},
            owner=owner,
            uid=f"uid-{name}-{i}",
        )
        for i in range(replicas)
    }


def snapshot(*fleets: dict[PodKey, Pod]) -> Snapshot:
    pods: dict[PodKey, Pod] = {}
    for f in fleets:
        pods.update(f)
    return Snapshot(pods=pods)


def with_pod(snap: Snapshot, name: str, namespace: str = "shop", **changes: object) -> Snapshot:
    key = PodKey(namespace, name)
    lifecycle = changes.pop("lifecycle", None)
    pod = replace(snap.pods[key], **changes)  # type: ignore[arg-type]
    if lifecycle is not None:
        pod = replace(pod, lifecycle=lifecycle)
    return replace(snap, pods={**snap.pods, key: pod})


def in_state(state: PodState, **fields: object) -> Lifecycle:
    return Lifecycle(state=state, **fields)  # type: ignore[arg-type]


def alert(
    pod: str | None = "checkout-0",
    *,
    name: str = "PodErrorRatioOutlier",
    status: Status = Status.FIRING,
    starts_at: Instant = T0,
    namespace: str = "shop",
    **labels: str,
) -> Signal:
    all_labels = {"alertname": name, "namespace": namespace, **labels}
    if pod is not None:
        all_labels["pod"] = pod
    return Signal(
        source=Source.ALERTMANAGER,
        name=name,
        status=status,
        labels=all_labels,
        fingerprint="fp-" + "-".join(f"{k}={v}" for k, v in sorted(all_labels.items())),
        starts_at=starts_at,
        received_at=starts_at,
    )


def run(
    rb: Runbook, snap: Snapshot, signals: list[Signal], now: Instant
) -> tuple[Snapshot, list[Plan]]:
    """Observe a batch, then decide and fold each signal, as the server does."""
    snap = fold(snap, observe(rb, snap, signals, now))
    plans = []
    for signal in signals:
        plan = decide(rb, snap, signal, now)
        snap = fold(snap, plan)
        plans.append(plan)
    return snap, plans


def summary(plan: Plan) -> list[str]:
    """A plan as short strings: 'drain shop/checkout-0', 'blocked cooldown shop/checkout-0'."""
    out = [f"{a.kind} {a.target}" + (" (dry-run)" if a.dry_run else "") for a in plan.actions]
    out += [f"blocked {b.reason} {b.target}".strip() for b in plan.blocked]
    out += [f"escalated {e.supervisor} {e.cause}" for e in plan.escalations]
    return out
