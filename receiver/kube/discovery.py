"""Which API version the server serves Eviction in, found the way `kubectl drain` finds it.

Kubernetes serves `policy/v1` Eviction from 1.22 and only `policy/v1beta1` before; a server
that does not serve the version in the body refuses the eviction. The core group's resource
list names the subresource's group and version (`pods/eviction`); a server too old to say
falls back to the policy group's preferred version. Asked once, on the first eviction, and
kept: a server's versions change only with an upgrade, which restarts nothing here but the
next try (a refused version clears the answer so it is asked again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver.cluster import ClusterUnavailable
from receiver.kube.api import Api, status_message

DEFAULT = "policy/v1"


class EvictionVersion:
    def __init__(self, api: Api) -> None:
        self._api = api
        self._policy = client.PolicyApi(api.client)
        self._known: str | None = None

    async def get(self) -> str:
        """`policy/v1` or `policy/v1beta1`: the apiVersion of an Eviction body."""
        if self._known is None:
            self._known = await self._discover()
        return self._known

    def forget(self) -> None:
        """The server refused the version: ask again next time (it may have been upgraded)."""
        self._known = None

    async def _discover(self) -> str:
        try:
            core = await self._api.call("get", self._api.core.get_api_resources)
            found = from_resources(core)
            if found is not None:
                return found
            group = await self._api.call("get", self._policy.get_api_group)
        except ApiException as exc:
            if exc.status == 404:
                return DEFAULT
            raise ClusterUnavailable(
                f"discovery of the Eviction version: HTTP {exc.status} {status_message(exc)}"
            ) from exc
        return from_group(group)


def from_resources(resources: Mapping[str, Any]) -> str | None:
    """The group/version the core API lists for `pods/eviction`, when it says."""
    for resource in resources.get("resources") or []:
        if resource.get("name") == "pods/eviction" and resource.get("kind") == "Eviction":
            group, version = resource.get("group"), resource.get("version")
            if group and version:
                return f"{group}/{version}"
    return None


def from_group(group: Mapping[str, Any]) -> str:
    """The policy group's preferred version."""
    preferred = (group.get("preferredVersion") or {}).get("groupVersion")
    return str(preferred) if preferred else DEFAULT
