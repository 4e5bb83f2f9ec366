"""The chart's ServiceAccount and RBAC, rendered by Helm's engine and applied to a real server,
and a token for that account: the receiver then runs with exactly the chart's permissions."""

from __future__ import annotations

from chart.render import FULLNAME, render
from kubernetes import client

from .processes import ISSUER
from .rest import JSON, rest

RBAC = "/apis/rbac.authorization.k8s.io/v1"
PATHS = {
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Role": RBAC + "/namespaces/{ns}/roles",
    "RoleBinding": RBAC + "/namespaces/{ns}/rolebindings",
    "ClusterRole": RBAC + "/clusterroles",
    "ClusterRoleBinding": RBAC + "/clusterrolebindings",
}
LEASE = FULLNAME
STATE = f"{FULLNAME}-state"


def apply_chart_rbac(
    admin: client.ApiClient, *, namespace: str, watched: str, audience: str, runbook: str
) -> str:
    """Create the chart's RBAC objects (cluster-scoped ones replaced); the account's name."""
    rendered = render(
        {
            "rbac": {"namespaces": [watched]},
            "runbook": {"content": runbook},
            "receiver": {"heartbeatAudience": audience},
        },
        namespace=namespace,
    )
    for obj in rendered.objects:
        path = PATHS.get(obj["kind"])
        if path is None:
            continue
        ns = obj["metadata"].get("namespace") or namespace
        _create_or_replace(admin, path.format(ns=ns), obj)
    account: str = rendered.one("ServiceAccount")["metadata"]["name"]
    return account


def account_token(admin: client.ApiClient, namespace: str, account: str) -> str:
    """A TokenRequest token for the account, for the API server's own audience."""
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [ISSUER], "expirationSeconds": 3600},
    }
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
    token: str = rest(admin, "POST", path, body)["status"]["token"]
    return token


def pod_token(admin: client.ApiClient, pod: JSON, account: str, audience: str) -> str:
    """A token bound to `pod` (what a projected service-account volume holds)."""
    meta = pod["metadata"]
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "audiences": [audience],
            "expirationSeconds": 3600,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }
    path = f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token"
    token: str = rest(admin, "POST", path, body)["status"]["token"]
    return token


def _create_or_replace(admin: client.ApiClient, path: str, obj: JSON) -> None:
    try:
        rest(admin, "POST", path, obj)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
        rest(admin, "PUT", f"{path}/{obj['metadata']['name']}", obj)
