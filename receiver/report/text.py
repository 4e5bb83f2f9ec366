"""The status and decision-log entries as plain text, for the CLI client.

Works on the JSON the API answers (not on live objects), so what the CLI
prints is exactly what the API said. One line per action, hold and
escalation, each led by the entry's id, time and kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.report.query import kind, line_kind


def decision_lines(entry: Mapping[str, Any]) -> list[str]:
    head = f"#{entry['id']:<5} {entry['at']}  {kind(entry).replace('_', '-'):<9}"
    signal = entry.get("signal")
    cause = f"  <- {signal['name']} {signal['status']}" if signal else ""
    by = f" (by {entry['by']})" if entry.get("by") else ""
    lines = []
    for action in entry.get("actions", ()):
        would = "would " if action["dryRun"] else ""
        outcome = action["outcome"] + (f": {action['reason']}" if action["reason"] else "")
        lines.append(
            f"{head} {would}{action['action']} {action['target']} [{outcome}] "
            f"{action['detail']}{cause}{by}"
        )
    for blocked in entry.get("blocked", ()):
        word = (
            "held"
            if line_kind(blocked) == "held"
            else "pending"
            if blocked["reason"] == "settling"
            else "nothing"
        )
        lines.append(
            f"{head} {word} {blocked['target']} [{blocked['reason']}] {blocked['detail']}{cause}"
        )
    for escalation in entry.get("escalations", ()):
        lines.append(
            f"{head} escalation {escalation['supervisor']} [{escalation['cause']}] "
            f"{escalation['detail']}"
        )
    for followed in entry.get("outcomes", ()):
        lines.append(f"{head} outcome [{followed['outcome']}] {followed['detail']}")
    operator = entry.get("operator")
    if operator and not lines:
        lines.append(f"{head} {operator}{by}")
    if not lines:
        target = f" {signal['target']}" if signal else ""
        lines.append(f"{head}{target} state changed{cause}")
    return lines


def status_lines(status: Mapping[str, Any]) -> list[str]:
    runbook = status["runbook"]
    mode = ", dry-run" if runbook["dryRun"] else ""
    lines = [
        f"receiver at {status['now']}: {'leader' if status['leader'] else 'standby'}{mode}, "
        f"runbook {runbook['source']}"
    ]
    banner = status.get("banner") or []
    lines.extend(f"! {line['text']}" for line in banner)
    if not banner:
        lines.append("nothing needs a human")
    lines.append("fleets:")
    for fleet in status["fleets"]:
        lines.append(
            f"  {fleet['fleet']}: {fleet['size']} pods, {fleet['ready']} ready, "
            f"{fleet['unavailable']} unavailable, {fleet['signalling']} signalling"
        )
        lines.extend(f"    {guard_line(g)}" for g in fleet.get("guards", ()))
    if status["pods"]:
        lines.append("pods not simply serving:")
    for pod in status["pods"]:
        why = pod.get("why") or {}
        last = why.get("last")
        said = (
            f"; last: {last['kind']} {last['what']} ({last['reason']}) {last['detail']}"
            if last
            else ""
        )
        revision = pod.get("revision")
        on = f", revision {revision}{' (newest)' if pod.get('newestRevision') else ''}"
        lines.append(
            f"  {pod['pod']}: {pod['state']}{' (signalling)' if pod['signalling'] else ''}"
            f"{on if revision else ''}{said}"
        )
    rules = [
        r for r in status.get("ruleOutcomes", ()) if r["recovered"] + r["recurred"] + r["open"]
    ]
    if rules:
        lines.append("rules (what followed their drains, restarts, rollout restarts):")
    for rule in rules:
        ratio = rule["successRatio"]
        success = "none decided yet" if ratio is None else f"{ratio:.0%} success"
        lines.append(
            f"  {rule['rule']}: {success}; {rule['recovered']} recovered, "
            f"{rule['recurred']} recurred, {rule['superseded']} superseded, {rule['open']} open"
        )
    lines.append("supervisors:")
    for sup in status["supervisors"]:
        frozen = f", frozen for {sup['frozenLeft']}" if sup.get("frozenUntil") else ""
        used = sup["intensity"]
        lines.append(
            f"  {sup['name']}: intensity {used['used']} of {used['max']} per {used['period']}"
            f"{frozen}, {sup['escalations']} escalations"
        )
    holds = status.get("holds") or []
    if holds:
        lines.append("holds (receiver unhold ID to lift one):")
    lines.extend(
        f"  {h['id']}  {h['kind']} {h['target']} by {h['author']}, another {h['left']} "
        f"(until {h['expires']}): {h['reason']}"
        for h in holds
    )
    return lines


def guard_line(guard: Mapping[str, Any]) -> str:
    parts = []
    if "maxUnavailable" in guard:
        g = guard["maxUnavailable"]
        parts.append(f"unavailable {g['used']} of {g['limit']} (maxUnavailable {g['setting']})")
    if "minAvailable" in guard:
        g = guard["minAvailable"]
        parts.append(f"available {g['available']}, needs {g['needed']}")
    if "maxUnhealthy" in guard:
        g = guard["maxUnhealthy"]
        parts.append(f"signalling {g['used']}, systemic above {g['limit']}")
    if "rateLimit" in guard:
        g = guard["rateLimit"]
        parts.append(f"rate {g['used']} of {g['limit']} per {g['per']}")
    if "cooldown" in guard:
        parts.append(f"cooldown {guard['cooldown']}")
    return f"{guard['supervisor']}: " + "; ".join(parts)
