"""The receiver's pod runs non-root, read-only, without privileges, in every values set."""

from __future__ import annotations

from typing import Any

import pytest

from .cases import VALUE_SETS
from .render import Rendered, render

SETS = pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())


def _pod_and_container(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rendered: Rendered = render(values)
    return rendered.pod, rendered.container


@SETS
def test_pod_security_context(values: dict[str, Any]) -> None:
    pod, _ = _pod_and_container(values)
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] >= 1000
    assert context["runAsGroup"] >= 1000
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host), host


@SETS
def test_container_security_context(values: dict[str, Any]) -> None:
    pod, container = _pod_and_container(values)
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == pod["securityContext"]["runAsUser"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


@SETS
def test_read_only_root_filesystem_has_what_python_needs(values: dict[str, Any]) -> None:
    pod, container = _pod_and_container(values)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@SETS
def test_resources_are_set(values: dict[str, Any]) -> None:
    _, container = _pod_and_container(values)
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]


def test_run_as_user_is_configurable_but_never_root() -> None:
    pod, container = _pod_and_container(
        {"securityContext": {"runAsUser": 2000, "runAsGroup": 3000}}
    )
    assert pod["securityContext"]["runAsUser"] == container["securityContext"]["runAsUser"] == 2000
    assert pod["securityContext"]["fsGroup"] == 3000


def test_probes_on_the_http_port() -> None:
    _, container = _pod_and_container({})
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_service_routes_http_to_the_receiver() -> None:
    rendered = render()
    service = rendered.one("Service")["spec"]
    assert service["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    pod_labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    # The pods' own labels, plus the one only the leader puts on its pod at run time:
    # every synced replica is Ready, and the Service routes to the leader alone.
    selector = dict(service["selector"])
    assert selector.pop("remediation/leader") == "true"
    assert "remediation/leader" not in pod_labels
    assert selector.items() <= pod_labels.items()
    assert not service.get("publishNotReadyAddresses")


def test_the_budget_selects_the_pods_not_the_leader_label() -> None:
    rendered = render()
    pdb = rendered.one("PodDisruptionBudget")["spec"]
    assert rendered.one("Deployment")["spec"]["replicas"] == 2
    assert pdb["minAvailable"] == 1  # satisfiable: both replicas are Ready when synced
    assert "remediation/leader" not in pdb["selector"]["matchLabels"]
