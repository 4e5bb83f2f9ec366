"""Discovery documents: what `GET /api/v1` and `GET /apis/policy` answer, as clients read them.

Only what a client of the fake looks at is modelled: the core group's resource list, where
`pods/eviction` names the group and version its Eviction body must have (`policy/v1` from
Kubernetes 1.22, `policy/v1beta1` before: the fake plays either), and the policy group with
its preferred version. The real server refuses an Eviction in a version it does not serve;
`eviction_refused` is its answer.
"""

from __future__ import annotations

from .kinds import JSON, KINDS, ApiError

SERVED = ("policy/v1", "policy/v1beta1")


def core_resources(eviction_version: str) -> JSON:
    group, _, version = eviction_version.partition("/")
    resources: list[JSON] = [
        {
            "name": kind.resource,
            "singularName": "",
            "namespaced": kind.namespaced,
            "kind": kind.kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        }
        for kind in KINDS
        if kind.group == ""
    ]
    resources.append(
        {
            "name": "pods/eviction",
            "singularName": "",
            "namespaced": True,
            "group": group,
            "version": version,
            "kind": "Eviction",
            "verbs": ["create"],
        }
    )
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources}


def policy_group(eviction_version: str) -> JSON:
    versions = [v for v in SERVED if v == eviction_version or eviction_version == "policy/v1"]
    listed = [{"groupVersion": v, "version": v.partition("/")[2]} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "policy",
        "versions": listed,
        "preferredVersion": listed[0],
    }


def check_eviction_version(body: JSON, eviction_version: str) -> None:
    """Refuse an Eviction in a version the server does not serve, as the real one does."""
    version = body.get("apiVersion")
    if version in (None, "", eviction_version):
        return
    if eviction_version == "policy/v1" and version == "policy/v1beta1":
        return  # 1.22+ serves both
    short = str(version).partition("/")[2]
    raise ApiError(
        400,
        f'Eviction in version "{short}" cannot be handled as a Eviction: no kind "Eviction" is '
        f'registered for version "{version}" in scheme '
        '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"',
    )
