"""Every values set renders, lints strictly and validates against Kubernetes' schemas."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from .cases import VALUE_SETS
from .render import CHART, FULLNAME, NAMESPACE, lint, render, validate, validation_errors

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"}


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_lint_strict_finds_nothing(values: dict[str, Any]) -> None:
    assert lint(values) == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_manifest_is_valid_kubernetes(values: dict[str, Any]) -> None:
    rendered = render(values)
    assert rendered.objects
    assert list(validation_errors(rendered)) == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_objects_are_named_once_and_namespaced_explicitly(values: dict[str, Any]) -> None:
    rendered = render(values)
    seen = set()
    for obj in rendered.objects:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        assert key not in seen, f"{key} rendered twice"
        seen.add(key)
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in meta
            assert meta["name"].startswith(f"{NAMESPACE}-{FULLNAME}-")
        else:
            assert meta.get("namespace"), f"{obj['kind']}/{meta['name']} has no namespace"
        assert meta["labels"]["app.kubernetes.io/instance"] == "rr"


def test_optional_objects_are_off_by_default() -> None:
    kinds = render().kinds()
    assert kinds.isdisjoint(OPERATOR_KINDS | {"NetworkPolicy", *CLUSTER_SCOPED})
    assert render().one("Service")["metadata"]["name"] == FULLNAME


def test_everything_on_renders_every_optional_object() -> None:
    kinds = render(VALUE_SETS["everything-on"]).kinds()
    assert OPERATOR_KINDS | {"NetworkPolicy", "ClusterRole", "PodDisruptionBudget"} <= kinds


def test_pod_disruption_budget_keeps_one_receiver() -> None:
    pdb = render().one("PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1
    assert (
        pdb["selector"]["matchLabels"]
        == render().one("Deployment")["spec"]["selector"]["matchLabels"]
    )
    assert "PodDisruptionBudget" not in render({"podDisruptionBudget": {"enabled": False}}).kinds()


def test_two_replicas_rolled_one_at_a_time() -> None:
    spec = render().one("Deployment")["spec"]
    assert spec["replicas"] == 2
    # Every synced replica is Ready: a rollout may wait for each new pod.
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


# The validator itself: a broken manifest must not slip through.


def test_validator_rejects_an_unknown_field_of_a_builtin_kind() -> None:
    service = dict(render().one("Service"))
    service["spec"] = {**service["spec"], "selectr": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(service)


@pytest.mark.parametrize("kind", sorted(OPERATOR_KINDS))
def test_validator_rejects_an_unknown_field_of_an_operator_kind(kind: str) -> None:
    obj = dict(render(VALUE_SETS["everything-on"]).one(kind))
    obj["spec"] = {**obj["spec"], "unknownField": True}
    with pytest.raises(jsonschema.ValidationError):
        validate(obj)


def test_lint_reports_a_broken_template(tmp_path: Path) -> None:
    """lint() must see a template error, or a clean lint would prove nothing."""
    chart = tmp_path / "remediation-receiver"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nothing.here }}\n"
    )
    assert lint(chart=chart) != []
