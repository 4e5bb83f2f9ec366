"""The values sets the chart is rendered with, by readable id."""

from __future__ import annotations

from typing import Any

SHOP_RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop, payments]
rules:
  - name: error-outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}, {restart: {}}]
"""

EVERYWHERE_RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: ["*"]
"""

EXTRA_GROUP = {
    "name": "site-extra",
    "rules": [{"alert": "SiteExtra", "expr": "vector(1) == 0", "for": "5m"}],
}

DEFAULTS: dict[str, Any] = {}

CLUSTER_WIDE: dict[str, Any] = {
    "rbac": {"clusterWide": True},
    "runbook": {"content": EVERYWHERE_RUNBOOK},
}

EXISTING: dict[str, Any] = {
    "runbook": {"existingConfigMap": "team-runbook", "existingConfigMapKey": "shop.yaml"},
    "token": {"existingSecret": "alertmanager-webhook", "existingSecretKey": "bearer"},
    "rbac": {"namespaces": ["shop", "payments"]},
}

EVERYTHING: dict[str, Any] = {
    "runbook": {"content": SHOP_RUNBOOK},
    "receiver": {
        "dryRun": True,
        "logLevel": "debug",
        "heartbeatAudience": "remediation-receiver",
        "evictFallbackDelete": True,
        "extraArgs": ["--max-body", "2097152"],
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
        "extraVolumes": [{"name": "notifiers", "secret": {"secretName": "remediation-notifiers"}}],
        "extraVolumeMounts": [
            {"name": "notifiers", "mountPath": "/etc/remediation/notifiers", "readOnly": True}
        ],
    },
    "networkPolicy": {
        "enabled": True,
        "from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}},
        ],
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {
        "enabled": True,
        "labels": {"release": "kube-prometheus-stack"},
        "additionalGroups": [EXTRA_GROUP],
    },
    "alertmanagerConfig": {
        "enabled": True,
        "labels": {"alertmanagerConfig": "main"},
        "repeatInterval": "1h",
    },
    "dashboard": {
        "enabled": True,
        "namespace": "grafana",
        "annotations": {"grafana_folder": "Remediation"},
    },
    "relay": {
        "enabled": True,
        "flush": "1s",
        "maxBatch": 100,
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "podLabels": {"team": "sre"},
    "podAnnotations": {"example.com/owner": "sre"},
    "imagePullSecrets": ["registry"],
    "priorityClassName": "system-cluster-critical",
    "image": {"digest": "sha256:" + "0" * 64},
    "service": {"annotations": {"example.com/x": "y"}},
    "serviceAccount": {"annotations": {"example.com/role": "receiver"}},
}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": DEFAULTS,
    "cluster-wide": CLUSTER_WIDE,
    "existing-configmap-and-secret": EXISTING,
    "everything-on": EVERYTHING,
}
