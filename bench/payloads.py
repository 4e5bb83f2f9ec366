"""Request bodies for the benchmark: Alertmanager v4 webhooks and pod heartbeats.

Every body is one line of compact JSON (wrk's Lua script reads one body per
line). Pods are named as the server's ready file lists them, so every alert
and every heartbeat is about a pod that exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

FRESH = "@@S@@"  # replaced per request by wrk/post.lua in "fresh" mode
ALERT = "PodErrorRatioOutlier"
EXTERNAL = "http://alertmanager.monitoring.svc:9093"
RUNBOOK_URL = "https://runbooks.example.com/remediation/PodErrorRatioOutlier"
EXPR = "pod%3Aerror_ratio%3Arate5m+%3E+3+%2A+on%28namespace%29+group_left+fleet%3Aerror_ratio5m"


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _fingerprint(labels: dict[str, str]) -> str:
    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert_webhook(namespace: str, pods: Sequence[str], starts_at: str) -> str:
    """One Alertmanager v4 notification: a group of firing PodErrorRatioOutlier alerts."""
    alerts = []
    for i, pod in enumerate(pods):
        workload = pod.rsplit("-", 1)[0]
        labels = {
            "alertname": ALERT,
            "instance": f"10.42.{i % 250}.{(i * 7) % 250 + 2}:8080",
            "job": workload,
            "namespace": namespace,
            "pod": pod,
            "severity": "warning",
        }
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "description": f"{pod}: 7.3% errors, 5.1x fleet median",
                    "summary": "Error ratio outlier in its fleet",
                },
                "startsAt": starts_at,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus:9090/graph?g0.expr={EXPR}&g0.tab=1",
                "fingerprint": _fingerprint(labels),
            }
        )
    body = {
        "receiver": "remediation",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": ALERT, "namespace": namespace},
        "commonLabels": {
            "alertname": ALERT,
            "container": "app",
            "namespace": namespace,
            "severity": "warning",
        },
        "commonAnnotations": {
            "runbook_url": RUNBOOK_URL,
            "summary": "Error ratio outlier in its fleet",
        },
        "externalURL": EXTERNAL,
        "version": "4",
        "groupKey": (
            f'{{}}/{{namespace="{namespace}"}}:{{alertname="{ALERT}", namespace="{namespace}"}}'
        ),
        "truncatedAlerts": 0,
    }
    return _compact(body)


def alert_windows(by_workload: dict[str, list[str]], size: int = 10) -> list[list[str]]:
    """Groups of `size` pods, one from each of `size` workloads, covering the fleet in turn."""
    workloads = sorted(by_workload)
    longest = max(len(v) for v in by_workload.values())
    windows = []
    for index in range(longest):
        for start in range(0, len(workloads), size):
            group = [
                by_workload[w][index % len(by_workload[w])] for w in workloads[start : start + size]
            ]
            if len(group) == size:
                windows.append(group)
    return windows


def heartbeat(namespace: str, pod: str, status: str = "ok", reason: str = "") -> dict[str, object]:
    return {
        "namespace": namespace,
        "pod": pod,
        "status": status,
        "interval": 300,
        "reason": reason
        or "all checks passed: http 200 in 3ms, postgres ping 1ms, redis ping 1ms, queue depth 12, "
        "disk 41% used, 2 of 2 workers up",
    }


def heartbeat_lines(namespace: str, pods: Sequence[str]) -> list[str]:
    return [_compact(heartbeat(namespace, pod)) for pod in pods]


def heartbeat_batches(namespace: str, pods: Sequence[str], size: int) -> list[str]:
    return [
        _compact([heartbeat(namespace, pod) for pod in pods[i : i + size]])
        for i in range(0, len(pods) - size + 1, size)
    ]
