"""Invariants over any sequence of signals (hypothesis).

1. No plan takes a fleet past its availability guard.
2. No pod's lifecycle advances twice on the same alert occurrence.
3. No action is planned in a subtree that was frozen when the decision began.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from builders import T0, alert, fleet, runbook, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.decide import ActionKind, Plan, decide, fold, observe, tick
from receiver.decide.draft import Draft
from receiver.decide.tree import Tree, chain_for, pod_labels
from receiver.model import PodKey, Snapshot, Status
from receiver.runbook import Runbook

APPS = ("db", "api", "web")
REPLICAS = 5
DISRUPTIVE = {ActionKind.DRAIN, ActionKind.RESTART, ActionKind.PAUSE}


def make_runbook(
    strategy: str,
    max_unavailable: str,
    min_available: str,
    max_unhealthy: str,
    leaf_max: int,
    group_max: int,
    dry_run: bool,
    settle: str = "0s",
) -> Runbook:
    guards = (
        f"{{maxUnavailable: {max_unavailable}, minAvailable: {min_available}, "
        f"maxUnhealthy: {max_unhealthy}}}"
    )
    leaves = "\n".join(
        f"""      - name: {app}
        match: {{app: {app}}}
        intensity: {{max: {leaf_max}, period: 10m}}
        guards: {guards}
        onEscalate: [{{rolloutRestart: {{}}}}]"""
        for app in APPS
    )
    return runbook(
        f"""
supervisors:
  - name: group
    match: {{namespace: shop}}
    strategy: {strategy}
    intensity: {{max: {group_max}, period: 30m}}
    onEscalate: [{{rolloutRestart: {{}}}}, {{notify: oncall}}]
    children:
{leaves}
rules:
  - name: outlier
    match: {{alertname: PodErrorRatioOutlier}}
    steps: [{{drain: {{for: 2m}}}}, {{drain: {{for: 5m}}}}, {{restart: {{}}}}]
    probation: 10m
  - name: heartbeat
    match: {{alertname: HeartbeatFailing}}
    steps: [{{pause: {{}}}}]
notifiers:
  oncall: {{log: {{}}}}
""",
        settings=f"dryRun: {'true' if dry_run else 'false'}",
        settle=settle,
    )


runbooks = st.builds(
    make_runbook,
    strategy=st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"]),
    max_unavailable=st.sampled_from(["0", "1", "2", "40%", "100%"]),
    min_available=st.sampled_from(["0", "3", "60%"]),
    max_unhealthy=st.sampled_from(["1", "50%", "100%"]),
    leaf_max=st.integers(0, 4),
    group_max=st.integers(0, 6),
    settle=st.sampled_from(["0s", "10s", "1m"]),
    dry_run=st.booleans(),
)


@dataclass(frozen=True)
class Event:
    advance: float  # seconds since the previous event
    pods: tuple[int, ...]  # one batch: indexes into the fleet
    occurrence: int  # small pool, so re-deliveries are common
    name: str
    resolved: bool


events = st.lists(
    st.builds(
        Event,
        advance=st.sampled_from([0.0, 5.0, 30.0, 90.0, 300.0, 900.0]),
        pods=st.lists(st.integers(0, len(APPS) * REPLICAS - 1), min_size=1, max_size=6).map(tuple),
        occurrence=st.integers(0, 2),
        name=st.sampled_from(["PodErrorRatioOutlier", "HeartbeatFailing", "Unrelated"]),
        resolved=st.booleans(),
    ),
    min_size=1,
    max_size=25,
)
not_ready = st.sets(st.integers(0, len(APPS) * REPLICAS - 1), max_size=4)


def start(unready: set[int]) -> Snapshot:
    snap = snapshot(*(fleet(app, REPLICAS, labels={"app": app}) for app in APPS))
    keys = sorted(snap.pods)
    pods = dict(snap.pods)
    for i in unready:
        pods[keys[i]] = replace(pods[keys[i]], ready=False)
    return replace(snap, pods=pods)


def check_guards(rb: Runbook, after: Snapshot, plan: Plan) -> None:
    """Every disruptive action leaves its fleet within maxUnavailable and minAvailable."""
    tree = Tree(rb, Draft(after, plan.at))
    for action in plan.actions:
        if action.kind not in DISRUPTIVE or action.pod is None:
            continue
        pod = after.pods[action.pod]
        for supervisor in tree.chain(pod):
            guards = supervisor.guards
            if guards is None:
                continue
            members = tree.fleet(supervisor, pod)
            size, out = len(members), sum(1 for p in members if p.out_of_service)
            if guards.max_unavailable is not None:
                assert out <= guards.max_unavailable.of(size, round_up=False), action
            if guards.min_available is not None:
                assert size - out >= guards.min_available.of(size, round_up=True), action


def check_frozen(rb: Runbook, before: Snapshot, plan: Plan) -> None:
    """Nothing is done to a pod or workload whose chain was frozen when the decision began."""
    for action in plan.actions:
        if action.kind is ActionKind.NOTIFY or action.kind is ActionKind.RESTORE:
            continue
        pods = (
            [before.pods[action.pod]]
            if action.pod
            else [p for p in before.pods.values() if p.owner == action.workload]
        )
        for pod in pods:
            for supervisor in chain_for(rb, pod_labels(pod)):
                assert not before.supervisor(supervisor.name).frozen(plan.at), (
                    action,
                    supervisor.name,
                )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=runbooks, timeline=events, unready=not_ready)
def test_invariants_hold_for_any_signal_sequence(
    rb: Runbook, timeline: list[Event], unready: set[int]
) -> None:
    snap = start(unready)
    keys: list[PodKey] = sorted(snap.pods)
    now = T0
    advanced: set[tuple[PodKey, str]] = set()
    for event in timeline:
        now += event.advance
        plan = tick(rb, snap, now)
        check_frozen(rb, snap, plan)
        snap = fold(snap, plan)
        signals = [
            alert(
                keys[i].name,
                name=event.name,
                status=Status.RESOLVED if event.resolved else Status.FIRING,
                starts_at=T0 + event.occurrence,
            )
            for i in event.pods
        ]
        snap = fold(snap, observe(rb, snap, signals, now))
        for signal in signals:
            before = snap
            plan = decide(rb, snap, signal, now)
            snap = fold(snap, plan)
            check_guards(rb, snap, plan)
            check_frozen(rb, before, plan)
            key = PodKey("shop", signal.labels["pod"])
            stepped = any(
                a.pod == key and a.kind is not ActionKind.RESTORE for a in plan.actions
            ) or any(b.pod == key and b.reason == "escalated" for b in plan.blocked)
            if stepped:
                occurrence = (key, signal.occurrence)
                assert occurrence not in advanced, f"{occurrence} advanced twice"
                advanced.add(occurrence)
