"""The status the API and the status page show: fleets, pods, guards, supervisors."""

from __future__ import annotations

from collections import Counter
from typing import Any

from receiver.decide.tree import chain_for, pod_labels
from receiver.model import PodState
from receiver.report.decisions import iso
from receiver.report.gauges import Reading
from receiver.runbook.quantities import format_duration

PODS_LISTED = 500


def status(reading: Reading, recent: list[dict[str, Any]]) -> dict[str, Any]:
    runbook, snapshot, now = reading.runbook, reading.snapshot, reading.now
    fleets: dict[str, dict[str, Any]] = {}
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
                }
            )
    for fleet in fleets.values():
        fleet["states"] = dict(sorted(fleet["states"].items()))
    return {
        "now": iso(now),
        "runbook": {
            "source": runbook.source,
            "dryRun": runbook.settings.dry_run,
            "namespaces": list(runbook.settings.namespaces),
            "rules": [r.name for r in runbook.rules],
        },
        "leader": reading.leader,
        "heartbeats": {"trackedPods": reading.tracked},
        "fleets": sorted(fleets.values(), key=lambda f: str(f["fleet"])),
        "pods": listed,
        "supervisors": [_supervisor(reading, name) for name in runbook.by_name],
        "recentDecisions": recent,
    }


def _supervisor(reading: Reading, name: str) -> dict[str, Any]:
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
