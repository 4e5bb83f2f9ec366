"""Structural schemas for the prometheus-operator kinds the chart renders.

kubernetes-validate only knows built-in kinds. These schemas follow the
prometheus-operator CRDs (monitoring.coreos.com v1 ServiceMonitor and
PrometheusRule, v1alpha1 AlertmanagerConfig) for the fields the chart sets,
field names and types included, and reject every field they do not list: a
misspelt field fails here as the API server's structural pruning would drop
it silently.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _object(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(required),
    }


_STRING: Schema = {"type": "string"}
_STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_NAME: Schema = {
    "type": "string",
    "maxLength": 253,
    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
}
# monitoringv1.Duration / NonEmptyDuration.
_DURATION: Schema = {
    "type": "string",
    "minLength": 1,
    "pattern": (
        r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?"
        r"(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
    ),
}
_METADATA = _object(
    {"name": _NAME, "namespace": _NAME, "labels": _STRING_MAP, "annotations": _STRING_MAP},
    required=("name", "namespace"),
)
_SELECTOR = _object(
    {
        "matchLabels": _STRING_MAP,
        "matchExpressions": {"type": "array", "items": {"type": "object"}},
    }
)
_SECRET_KEY = _object(
    {"name": _NAME, "key": {"type": "string", "minLength": 1}, "optional": {"type": "boolean"}},
    required=("name", "key"),
)


def _kind(api_version: str, kind: str, spec: Schema) -> Schema:
    return _object(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        required=("apiVersion", "kind", "metadata", "spec"),
    )


SERVICE_MONITOR = _kind(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    _object(
        {
            "jobLabel": _STRING,
            "selector": _SELECTOR,
            "namespaceSelector": _object(
                {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": _NAME}}
            ),
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "port": _STRING,
                        "path": _STRING,
                        "scheme": {"enum": ["http", "https"]},
                        "interval": _DURATION,
                        "scrapeTimeout": _DURATION,
                        "honorLabels": {"type": "boolean"},
                    }
                ),
            },
        },
        required=("selector", "endpoints"),
    ),
)

_RULE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "alert": _STRING,
        "record": _STRING,
        "expr": {"type": ["string", "integer"], "minLength": 1},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
}

PROMETHEUS_RULE = _kind(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    _object(
        {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "name": {"type": "string", "minLength": 1},
                        "interval": _DURATION,
                        "query_offset": _DURATION,
                        "limit": {"type": "integer", "minimum": 0},
                        "partial_response_strategy": _STRING,
                        "labels": _STRING_MAP,
                        "rules": {"type": "array", "items": _RULE},
                    },
                    required=("name",),
                ),
            }
        },
        required=("groups",),
    ),
)

_MATCHER = _object(
    {
        "name": {"type": "string", "minLength": 1},
        "value": _STRING,
        "matchType": {"enum": ["!=", "=", "=~", "!~"]},
    },
    required=("name",),
)

ALERTMANAGER_CONFIG = _kind(
    "monitoring.coreos.com/v1alpha1",
    "AlertmanagerConfig",
    _object(
        {
            "route": _object(
                {
                    "receiver": _STRING,
                    "groupBy": {"type": "array", "items": _STRING, "uniqueItems": True},
                    "groupWait": _DURATION,
                    "groupInterval": _DURATION,
                    "repeatInterval": _DURATION,
                    "matchers": {"type": "array", "items": _MATCHER},
                    "continue": {"type": "boolean"},
                }
            ),
            "receivers": {
                "type": "array",
                "items": _object(
                    {
                        "name": {"type": "string", "minLength": 1},
                        "webhookConfigs": {
                            "type": "array",
                            "items": _object(
                                {
                                    "url": _STRING,
                                    "sendResolved": {"type": "boolean"},
                                    "maxAlerts": {"type": "integer", "minimum": 0},
                                    "httpConfig": _object(
                                        {
                                            "authorization": _object(
                                                {"type": _STRING, "credentials": _SECRET_KEY}
                                            )
                                        }
                                    ),
                                }
                            ),
                        },
                    },
                    required=("name",),
                ),
            },
        }
    ),
)

CRD_SCHEMAS: dict[tuple[str, str], Schema] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): ALERTMANAGER_CONFIG,
}
