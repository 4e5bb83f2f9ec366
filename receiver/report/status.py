"""The status the API and the console show: fleets, pods, guards, supervisors, and
whether each rule's actions help (report/outcomes.py).

Besides counts it says how much of each guard a fleet has used
(report/usage.py), why each listed pod is where it is (report/why.py,
from the decision log), the operators' holds in force (report/holds.py) and
what needs a human (report/banner.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from receiver.decide.tree import chain_for, pod_labels
from receiver.model import Pod, PodState, Snapshot
from receiver.report.banner import banner
from receiver.report.decisions import iso
from receiver.report.gauges import Reading
from receiver.report.holds import holds_json
from receiver.report.outcomes import rule_outcomes
from receiver.report.usage import Usage, frozen_left
from receiver.report.why import History, pod_why
from receiver.runbook.quantities import format_duration

PODS_LISTED = 500


def status(
    reading: Reading,
    recent: list[dict[str, Any]],
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The status; `history` (the decision log, oldest first) explains pods and freezes."""
    runbook, snapshot, now = reading.runbook, reading.snapshot, reading.now
    usage = Usage(runbook, snapshot, now)
    told = History(recent if history is None else history)
    fleets: dict[str, dict[str, Any]] = {}
    first: dict[str, Pod] = {}
    listed: list[dict[str, Any]] = []
    for pod in sorted(snapshot.pods.values(), key=lambda p: (p.namespace, p.name)):
        name = str(pod.owner) if pod.owner else f"{pod.namespace}/pod/{pod.name}"
        fleet = fleets.setdefault(
            name,
            {
                "fleet": name,
                "size": 0,
                "ready": 0,
                "unavailable": 0,
                "signalling": 0,
                "states": Counter(),
            },
        )
        first.setdefault(name, pod)
        fleet["size"] += 1
        fleet["ready"] += pod.ready
        fleet["unavailable"] += pod.out_of_service
        signalling = pod.lifecycle.signalling(now)
        fleet["signalling"] += signalling
        fleet["states"][str(pod.lifecycle.state)] += 1
        noteworthy = pod.lifecycle.state is not PodState.SERVING or signalling or not pod.ready
        if noteworthy and len(listed) < PODS_LISTED:
            chain = chain_for(runbook, pod_labels(pod))
            listed.append(
                {
                    "pod": str(pod.key),
                    "fleet": name,
                    "state": str(pod.lifecycle.state),
                    "ready": pod.ready,
                    "terminating": pod.terminating,
                    "signalling": signalling,
                    "rule": pod.lifecycle.rule,
                    "attempts": pod.lifecycle.attempts,
                    "until": iso(pod.lifecycle.until),
                    "supervisor": chain[0].name if chain else None,
                    "revision": pod.revision or None,
                    "newestRevision": _on_newest(snapshot, pod),
                    "why": pod_why(pod, told, now),
                    "wouldMeet": usage.next_action(pod) if signalling else None,
                }
            )
    for name, fleet in fleets.items():
        fleet["states"] = dict(sorted(fleet["states"].items()))
        fleet["guards"] = usage.fleet_guards(first[name])
        fleet["supervisors"] = [s.name for s in usage.tree.chain(first[name])]
    out = {
        "now": iso(now),
        "runbook": {
            "source": runbook.source,
            "dryRun": runbook.settings.dry_run,
            "dryRunRules": [r.name for r in runbook.rules if r.dry_run],
            "namespaces": list(runbook.settings.namespaces),
            "rules": [r.name for r in runbook.rules],
            "rateLimit": usage.global_rate(),
        },
        "leader": reading.leader,
        "heartbeats": {"trackedPods": reading.tracked},
        "fleets": sorted(fleets.values(), key=lambda f: str(f["fleet"])),
        "pods": listed,
        "supervisors": [_supervisor(reading, name, told) for name in runbook.by_name],
        "recentDecisions": recent,
        "holds": holds_json(snapshot, now),
        "ruleOutcomes": rule_outcomes(runbook, snapshot, reading.outcomes),
    }
    out["banner"] = banner(out)
    return out


def _on_newest(snapshot: Snapshot, pod: Pod) -> bool:
    """Whether the pod runs its workload's newest revision (what badRollout compares)."""
    rollout = snapshot.rollouts.get(pod.owner) if pod.owner else None
    return rollout is not None and bool(pod.revision) and pod.revision == rollout.revision


def _supervisor(reading: Reading, name: str, told: History) -> dict[str, Any]:
    supervisor = reading.runbook.by_name[name]
    state = reading.snapshot.supervisor(name)
    since = reading.now - supervisor.intensity.period
    guards = supervisor.guards
    return {
        "name": name,
        "parent": reading.runbook.parent.get(name),
        "strategy": str(supervisor.strategy),
        "intensity": {
            "used": sum(1 for t in state.counted if t > since),
            "max": supervisor.intensity.max,
            "period": format_duration(supervisor.intensity.period),
        },
        "frozenUntil": iso(state.frozen_until) if state.frozen(reading.now) else None,
        "frozenLeft": frozen_left(state.frozen_until, reading.now),
        "frozenBy": told.froze.get(name) if state.frozen(reading.now) else None,
        "escalations": state.escalations,
        "guards": None
        if guards is None
        else {
            "maxUnavailable": str(guards.max_unavailable) if guards.max_unavailable else None,
            "minAvailable": str(guards.min_available) if guards.min_available else None,
            "maxUnhealthy": str(guards.max_unhealthy) if guards.max_unhealthy else None,
            "cooldown": format_duration(guards.cooldown),
            "rateLimit": f"{guards.rate_limit.max} per {format_duration(guards.rate_limit.per)}"
            if guards.rate_limit
            else None,
        },
    }
