"""What needs a human, first on the console: one line each, most urgent first.

Frozen supervisors (automation below them is off until the freeze ends or a
human resets them), fleets held as systemic or as a bad rollout, holds set
by operators, paused pods, pods held back by guards, rules whose actions
mostly recur, and dry-run mode, which makes every other line mean "would
have".
"""

from __future__ import annotations

from typing import Any

NOT_HELPING_DECIDED = 4
"""Decided outcomes (recovered + recurred) a rule needs before the console calls it
not helping; the alert RemediationRuleNotHelping asks for the same share and count."""


def banner(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Lines of {level, text, href}; `level` is bad, warn or info."""
    lines: list[dict[str, Any]] = []
    for supervisor in status["supervisors"]:
        if supervisor["frozenUntil"]:
            froze = supervisor.get("frozenBy")
            cause = f" after {froze['detail']}" if froze else ""
            lines.append(
                {
                    "level": "bad",
                    "text": f"supervisor {supervisor['name']} is frozen for another "
                    f"{supervisor['frozenLeft']}{cause}: automation below it is off "
                    "until then or until reset",
                    "href": f"/supervisors/{supervisor['name']}",
                }
            )
    for fleet in status["fleets"]:
        for guard in fleet.get("guards", ()):
            unhealthy = guard.get("maxUnhealthy")
            if unhealthy and unhealthy["used"] > unhealthy["limit"]:
                lines.append(
                    {
                        "level": "bad",
                        "text": f"fleet {guard['fleet']} is held as systemic: "
                        f"{unhealthy['used']} of {guard['size']} pods signalling, more than "
                        f"maxUnhealthy {unhealthy['setting']} ({unhealthy['limit']}); "
                        "no pod is acted on, the supervisor escalates",
                        "href": f"/supervisors/{guard['supervisor']}",
                    }
                )
    lines.extend(_bad_rollouts(status))
    for hold in status.get("holds", ()):
        lines.append(
            {
                "level": "warn",
                "text": f"{hold['kind']} {hold['target']} is held by {hold['author']} for "
                f"another {hold['left']}: {hold['reason']}; automation is off there "
                f"until then or until `receiver unhold {hold['id']}`",
                "href": hold["href"],
            }
        )
    for pod in status["pods"]:
        if pod["state"] == "paused":
            lines.append(
                {
                    "level": "warn",
                    "text": f"pod {pod['pod']} is paused for investigation "
                    f"(rule {pod['rule']}): resume it when done",
                    "href": f"/pods/{pod['pod']}",
                }
            )
    for rule in status.get("ruleOutcomes", ()):
        decided = rule["recovered"] + rule["recurred"]
        if decided >= NOT_HELPING_DECIDED and rule["recurred"] * 2 > decided:
            lines.append(
                {
                    "level": "warn",
                    "text": f"rule {rule['rule']} is not helping: {rule['recurred']} of its "
                    f"{decided} decided actions recurred within probation; the runbook may "
                    "be treating a symptom",
                    "href": f"/decisions?rule={rule['rule']}",
                }
            )
    if status["runbook"]["dryRun"]:
        lines.append(
            {
                "level": "info",
                "text": "dry-run: every decision is made and reported, nothing is changed",
                "href": None,
            }
        )
    trials = status["runbook"].get("dryRunRules") or []
    if trials and not status["runbook"]["dryRun"]:
        lines.append(
            {
                "level": "info",
                "text": "rules on dry-run trial (decide, change nothing): " + ", ".join(trials),
                "href": None,
            }
        )
    return lines


def _bad_rollouts(status: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per fleet whose next per-pod action badRollout would hold."""
    lines: list[dict[str, Any]] = []
    told: set[str] = set()
    for pod in status["pods"]:
        meets = pod.get("wouldMeet") or {}
        if meets.get("reason") != "bad_rollout" or pod["fleet"] in told:
            continue
        told.add(pod["fleet"])
        lines.append(
            {
                "level": "bad",
                "text": f"fleet {pod['fleet']} is held as a bad rollout: {meets['detail']}; "
                "no pod of the newest revision is acted on, the supervisor escalates",
                "href": f"/supervisors/{meets['supervisor']}",
            }
        )
    return lines
