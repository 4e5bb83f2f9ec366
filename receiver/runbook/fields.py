"""Every runbook field, section by section, with what its value must look like.

The loader reads with these tables (unknown fields are reported with the list
of known ones) and tests/test_schema.py compares them with the JSON Schema,
so the two cannot drift apart.
"""

from receiver.runbook.reader import NAME_HINT
from receiver.runbook.types import DrainBy, Exhausted, Strategy

API_VERSION = "remediation/v1"
KIND = "Runbook"

# Each section's fields with what a value must look like; the JSON Schema
# test compares these tables with receiver/runbook/runbook.schema.json.
TOP = {
    "apiVersion": f'"{API_VERSION}"',
    "kind": f'"{KIND}"',
    "settings": "a mapping of settings",
    "heartbeats": "a list of heartbeat expectations",
    "supervisors": "a list of supervisors",
    "rules": "a list of rules",
    "notifiers": "a mapping of notifier name to notifier",
}
SETTINGS = {
    "namespaces": 'a list of namespaces the receiver may act in, or ["*"]',
    "dryRun": "true or false",
    "trafficLabel": "a label name",
    "targetLabels": "a mapping with namespace, pod and workloads",
    "rateLimit": "a mapping {max, per}",
    "protect": "a list of label selectors",
    "signalTTL": "a duration",
    "settle": "a duration (0s: irreversible steps act at once)",
    "restartTime": "a duration: how long a dry-run restart counts its pod unavailable",
    "externalURL": "the receiver's http(s) URL as people reach it (links in notifications)",
    "drainBy": "one of: " + ", ".join(DrainBy),
}
TARGET_LABELS = {
    "namespace": "a label name",
    "pod": "a label name",
    "workloads": "a mapping of label name to workload kind",
}
HEARTBEAT = {
    "match": "a label selector",
    "interval": "a duration",
    "missAfter": "a whole number of missed intervals",
}
SUPERVISOR = {
    "name": NAME_HINT,
    "match": "a label selector",
    "strategy": "one of: " + ", ".join(Strategy),
    "intensity": "a mapping {max: N, period: DURATION}",
    "guards": "a mapping of guards",
    "onEscalate": "a list of escalation actions",
    "freezeFor": "a duration",
    "fleetBy": "a list of label names",
    "children": "a list of supervisors",
    "drainBy": "one of: " + ", ".join(DrainBy),
}
INTENSITY = {"max": "a whole number", "period": "a duration"}
RATE_LIMIT = {"max": "a whole number", "per": "a duration"}
GUARDS = {
    "maxUnavailable": "a count or percentage",
    "minAvailable": "a count or percentage",
    "maxUnhealthy": "a count or percentage",
    "cooldown": "a duration",
    "rateLimit": "a mapping {max, per}",
    "settle": "a duration (0s: irreversible steps act at once)",
    "badRollout": "a mapping {minShare, minSignalling, window, remedy}",
}
BAD_ROLLOUT = {
    "minShare": "a percentage like 80%",
    "minSignalling": "a whole number",
    "window": "a duration (0s: the guard is off)",
    "remedy": "a list of remedies",
}
REMEDY = {"pauseRollout": "an empty mapping {}", "notify": "a notifier name"}
ESCALATION = {"rolloutRestart": "an empty mapping {}", "notify": "a notifier name"}
RULE = {
    "name": NAME_HINT,
    "match": "a label selector",
    "supervisor": "a supervisor name",
    "steps": "a list of steps",
    "exhausted": "one of: " + ", ".join(Exhausted),
    "probation": "a duration",
    "dryRun": "true or false",
}
STEP = {
    "drain": "a mapping {for: DURATION}",
    "restart": "an empty mapping {}",
    "pause": "an empty mapping {}",
    "rolloutRestart": "an empty mapping {}",
    "notify": "a notifier name",
}
DRAIN = {"for": "a duration"}
NOTIFIER = {
    "alertmanager": "a mapping {url}",
    "webhook": "a mapping {url or urlFile or urlEnv, body, headers}",
    "log": "an empty mapping {}",
    "message": "a Jinja2 template",
    "slack": "a mapping {url or urlFile or urlEnv, blocks}",
    "pagerduty": "a mapping {routingKey or routingKeyFile or routingKeyEnv, url, severity}",
}
NOTIFIER_TARGET = {"url": "an http(s) URL"}
_SECRET_URL = (
    ("url", "an http(s) URL"),
    ("urlFile", "the path of a file holding the URL (a mounted Secret)"),
    ("urlEnv", "the name of an environment variable holding the URL"),
)
SLACK = {
    **dict(_SECRET_URL),
    "blocks": "a Jinja2 template rendering a JSON list of Slack blocks",
}
WEBHOOK = {
    **dict(_SECRET_URL),
    "body": "a Jinja2 template of the request body",
    "headers": "a mapping of header name to Jinja2 template",
}
PAGERDUTY = {
    "routingKey": "the routing key of an Events API v2 integration",
    "routingKeyFile": "the path of a file holding the routing key (a mounted Secret)",
    "routingKeyEnv": "the name of an environment variable holding the routing key",
    "url": "an http(s) URL (default https://events.pagerduty.com/v2/enqueue)",
    "severity": "one of: critical, error, warning, info",
}
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
"""Kinds a signal may name through settings.targetLabels.workloads."""
