"""RBAC grants exactly the rules of files/rbac-rules.yaml, each where it belongs, nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import helm_python as helm
import pytest
import yaml

from .cases import EVERYTHING, EXISTING, SHOP_RUNBOOK, VALUE_SETS
from .render import CHART, FULLNAME, NAMESPACE, Rendered, args_by_flag, render

RULES = yaml.safe_load((CHART / "files" / "rbac-rules.yaml").read_text(encoding="utf-8"))
Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


def _grants(rules: Iterable[dict[str, Any]]) -> set[Grant]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _roles(rendered: Rendered) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    return {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in rendered.objects
        if o["kind"] in ("Role", "ClusterRole")
    }


def _expected(
    values: dict[str, Any], namespaces: list[str]
) -> dict[tuple[str, str | None, str], set[Grant]]:
    """Which role grants what, derived from files/rbac-rules.yaml and the values alone."""
    receiver = values.get("receiver", {})
    watched = _grants(RULES["watched"])
    if receiver.get("evictFallbackDelete"):
        watched |= _grants(RULES["deleteFallback"])
    if values.get("rbac", {}).get("readinessGates", True):
        watched |= _grants(RULES["readinessGate"])
    cluster = f"{NAMESPACE}-{FULLNAME}"
    expected: dict[tuple[str, str | None, str], set[Grant]] = {}
    if values.get("rbac", {}).get("clusterWide"):
        expected[("ClusterRole", None, f"{cluster}-watched")] = watched
    else:
        for namespace in namespaces:
            expected[("Role", namespace, f"{FULLNAME}-watched")] = watched
    expected[("Role", NAMESPACE, f"{FULLNAME}-own")] = _grants(RULES["own"]) | _grants(
        RULES["leaderLabel"]
    )
    if receiver.get("heartbeatAudience"):
        expected[("ClusterRole", None, f"{cluster}-tokenreview")] = _grants(RULES["tokenReview"])
    return expected


WATCHED_NAMESPACES = {
    "defaults": ["default"],
    "cluster-wide": [],
    "existing-configmap-and-secret": ["shop", "payments"],
    "everything-on": ["shop", "payments"],
}


@pytest.mark.parametrize("case", VALUE_SETS.keys())
def test_each_role_grants_exactly_its_rules(case: str) -> None:
    values = VALUE_SETS[case]
    roles = _roles(render(values))
    expected = _expected(values, WATCHED_NAMESPACES[case])
    assert set(roles) == set(expected)
    for key, grants in expected.items():
        assert _grants(roles[key]["rules"]) == grants, key


@pytest.mark.parametrize("case", VALUE_SETS.keys())
def test_nothing_beyond_the_rules_file(case: str) -> None:
    granted = set().union(*(_grants(r["rules"]) for r in _roles(render(VALUE_SETS[case])).values()))
    allowed = set().union(*(_grants(section) for section in RULES.values()))
    assert granted <= allowed
    assert not any("*" in grant for grant in granted)


def test_delete_fallback_and_token_review_only_when_asked() -> None:
    default = set().union(*(_grants(r["rules"]) for r in _roles(render()).values()))
    assert not default & _grants(RULES["deleteFallback"])
    assert not default & _grants(RULES["tokenReview"])
    everything = set().union(*(_grants(r["rules"]) for r in _roles(render(EVERYTHING)).values()))
    assert _grants(RULES["deleteFallback"]) | _grants(RULES["tokenReview"]) <= everything


def test_readiness_gate_status_patches_can_be_left_out() -> None:
    watched = render().one("Role", f"{FULLNAME}-watched")["rules"]
    assert _grants(RULES["readinessGate"]) <= _grants(watched)
    off = render({"rbac": {"readinessGates": False}}).one("Role", f"{FULLNAME}-watched")
    assert not _grants(off["rules"]) & _grants(RULES["readinessGate"])


def test_the_leader_may_label_pods_in_its_own_namespace_only() -> None:
    own = render().one("Role", f"{FULLNAME}-own")
    assert own["metadata"]["namespace"] == NAMESPACE
    assert _grants(RULES["leaderLabel"]) <= _grants(own["rules"])


def test_own_rules_name_the_lease_and_the_state_configmap() -> None:
    rules = render().one("Role", f"{FULLNAME}-own")["rules"]
    names = {"leases": [FULLNAME], "configmaps": [f"{FULLNAME}-state"]}
    leader_label = RULES["leaderLabel"]
    rules = [r for r in rules if r not in leader_label]  # pods: names unknown, list by label
    for rule in rules:
        (resource,) = rule["resources"]
        if rule["verbs"] == ["create"]:
            # Kubernetes ignores resourceNames on create: it must be a rule of its own.
            assert "resourceNames" not in rule
        else:
            assert "create" not in rule["verbs"]
            assert rule["resourceNames"] == names[resource]
    flags = args_by_flag(render().container["args"])
    assert (flags["--lease-name"], flags["--state-name"]) == (FULLNAME, f"{FULLNAME}-state")


@pytest.mark.parametrize("case", VALUE_SETS.keys())
def test_bindings_give_each_role_to_the_receiver_service_account(case: str) -> None:
    rendered = render(VALUE_SETS[case])
    account = rendered.pod["serviceAccountName"]
    assert rendered.one("ServiceAccount", account)
    roles = _roles(rendered)
    bindings = [o for o in rendered.objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert len(bindings) == len(roles)
    for binding in bindings:
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], namespace, ref["name"]) in roles
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]


def test_rbac_can_be_left_to_the_user() -> None:
    rendered = render({"rbac": {"create": False}})
    assert rendered.kinds().isdisjoint({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})


def test_rbac_namespaces_may_cover_more_than_the_runbook() -> None:
    values = {
        "runbook": {"content": SHOP_RUNBOOK},
        "rbac": {"namespaces": ["shop", "payments", "extra"]},
    }
    namespaces = {k[1] for k in _roles(render(values)) if k[2].endswith("-watched")}
    assert namespaces == {"shop", "payments", "extra"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            {"runbook": {"content": SHOP_RUNBOOK}, "rbac": {"namespaces": ["shop"]}},
            'runbook.content: settings.namespaces lists "payments" but rbac.namespaces does not',
            id="runbook-acts-where-rbac-grants-nothing",
        ),
        pytest.param(
            {
                "runbook": {
                    "content": "apiVersion: remediation/v1\nsettings:\n  namespaces: ['*']\n"
                }
            },
            'settings.namespaces allows every namespace ("*"), but rbac.clusterWide is false',
            id="everywhere-without-cluster-wide",
        ),
        pytest.param(
            {"runbook": {"existingConfigMap": "mine"}},
            "rbac.namespaces is required with runbook.existingConfigMap",
            id="existing-configmap-without-namespaces",
        ),
        pytest.param(
            {"runbook": {"content": "apiVersion: remediation/v1\nkind: Runbook\n"}},
            "runbook.content: settings.namespaces is required",
            id="runbook-without-namespaces",
        ),
    ],
)
def test_rbac_that_cannot_work_fails_the_install(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError) as caught:
        render(values)
    assert message in str(caught.value)


def test_existing_configmap_uses_the_listed_namespaces() -> None:
    namespaces = {k[1] for k in _roles(render(EXISTING)) if k[2].endswith("-watched")}
    assert namespaces == set(EXISTING["rbac"]["namespaces"])
