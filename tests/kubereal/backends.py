"""One seeding interface over two API servers: the project's fake and a real kube-apiserver.

The contract tests take a `Backend` and never ask which one it is. The fake seeds through its
in-process helpers; the real server through its API, doing by hand what the missing parts of
a cluster would do: the kubelet (a pod with `nodeName` is made Running and Ready through the
status subresource, and a terminating pod is removed with a zero grace period) and the
disruption controller (a budget's status is computed from the pods it selects).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from kube.driver import EXISTING
from kubeapi import DEPLOYMENT, REPLICASET, FakeKubeApi
from kubeapi.kinds import JSON
from kubernetes import client

from .processes import RealApiServer
from .rest import MERGE, rest

POD_PATH = "/api/v1/namespaces/{ns}/pods"
PDB_PATH = "/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets"
NODE = "node-1"


class Backend(Protocol):
    name: str

    def api_client(self, *, token: str | None = None) -> client.ApiClient: ...

    def namespace(self, name: str) -> None: ...

    def deployment(
        self, ns: str, name: str, *, replicas: int, not_ready: int = 0
    ) -> list[JSON]: ...

    def set_ready(self, ns: str, name: str, ready: bool) -> None: ...

    def finish_termination(self, ns: str, name: str) -> None: ...

    def pod(self, ns: str, name: str) -> JSON | None: ...

    def budget(
        self, ns: str, labels: Mapping[str, str], max_unavailable: int, *, processed: bool = True
    ) -> None: ...

    def pod_token(self, pod: JSON, audience: str) -> str: ...

    def pod_again(self, like: JSON) -> JSON:
        """A new pod with the name, labels and owner of `like` (deleted): another uid."""
        ...


class FakeBackend:
    name = "fake"

    def __init__(self, fake: FakeKubeApi) -> None:
        self.fake = fake

    def api_client(self, *, token: str | None = None) -> client.ApiClient:
        return self.fake.api_client(token=token)

    def namespace(self, name: str) -> None:
        pass  # the fake has every namespace

    def deployment(self, ns: str, name: str, *, replicas: int, not_ready: int = 0) -> list[JSON]:
        labels = {"app": name}
        cluster = self.fake.cluster
        owner = cluster.add_workload(DEPLOYMENT, ns, name, labels=labels, replicas=replicas)
        rs = cluster.add_workload(
            REPLICASET, ns, f"{name}-5d8f", labels=labels, owner=owner, replicas=replicas
        )
        return [
            cluster.add_pod(
                ns,
                f"{name}-{i}",
                labels={**labels, "pod-template-hash": "5d8f"},
                ready=i >= not_ready,
                owner=rs,
                created=EXISTING,
            )
            for i in range(replicas)
        ]

    def set_ready(self, ns: str, name: str, ready: bool) -> None:
        self.fake.cluster.set_ready(ns, name, ready)

    def finish_termination(self, ns: str, name: str) -> None:
        self.fake.cluster.finish_termination(ns, name)

    def pod(self, ns: str, name: str) -> JSON | None:
        return self.fake.cluster.pod(ns, name)

    def budget(
        self, ns: str, labels: Mapping[str, str], max_unavailable: int, *, processed: bool = True
    ) -> None:
        name = f"{next(iter(labels.values()))}-budget"
        self.fake.cluster.add_budget(ns, labels, max_unavailable, name=name, processed=processed)

    def pod_again(self, like: JSON) -> JSON:
        meta = like["metadata"]
        return self.fake.cluster.add_pod(
            meta["namespace"], meta["name"], labels=meta["labels"], owner=_owner_of(meta)
        )

    def pod_token(self, pod: JSON, audience: str) -> str:
        meta, token = pod["metadata"], secrets.token_hex(16)
        self.fake.tokens.add(
            token,
            namespace=meta["namespace"],
            service_account="default",
            pod_name=meta["name"],
            pod_uid=meta["uid"],
            audiences=[audience],
        )
        return token


class RealBackend:
    name = "real"

    def __init__(self, server: RealApiServer) -> None:
        self.server = server
        self.admin = self.api_client()

    def api_client(self, *, token: str | None = None) -> client.ApiClient:
        config = client.Configuration(host=self.server.url)
        config.ssl_ca_cert = str(self.server.ca_file)
        config.api_key = {"BearerToken": token or self.server.token}
        config.api_key_prefix = {"BearerToken": "Bearer"}
        return client.ApiClient(config)

    def namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            rest(self.admin, "POST", "/api/v1/namespaces", body)
        except client.ApiException as exc:
            if exc.status != 409:
                raise

    def deployment(
        self,
        ns: str,
        name: str,
        *,
        replicas: int,
        not_ready: int = 0,
        service_account: str | None = None,
    ) -> list[JSON]:
        labels = {"app": name}
        pod_spec: JSON = {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
        if service_account is not None:
            pod_spec["serviceAccountName"] = service_account
        template = {"metadata": {"labels": labels}, "spec": pod_spec}
        spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}
        owner = self.create(ns, "Deployment", name, labels, spec)
        rs_labels = {**labels, "pod-template-hash": "5d8f"}
        rs_spec = {**spec, "template": {**template, "metadata": {"labels": rs_labels}}}
        rs = self.create(ns, "ReplicaSet", f"{name}-5d8f", rs_labels, rs_spec, owner=owner)
        return [
            self.add_pod(
                ns,
                f"{name}-{i}",
                labels=rs_labels,
                owner=rs,
                ready=i >= not_ready,
                service_account=service_account,
            )
            for i in range(replicas)
        ]

    def service_account(self, ns: str, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
        rest(self.admin, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts", body)

    def create(
        self,
        ns: str,
        kind: str,
        name: str,
        labels: Mapping[str, str],
        spec: JSON,
        *,
        owner: JSON | None = None,
    ) -> JSON:
        meta: JSON = {"name": name, "labels": dict(labels)}
        if owner is not None:
            meta["ownerReferences"] = [controller_of(owner)]
        body = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}
        return rest(self.admin, "POST", f"/apis/apps/v1/namespaces/{ns}/{kind.lower()}s", body)

    def add_pod(
        self,
        ns: str,
        name: str,
        *,
        labels: Mapping[str, str],
        owner: JSON | None = None,
        ready: bool = True,
        service_account: str | None = None,
    ) -> JSON:
        """A pod on a node that does not exist, then made Running as its kubelet would."""
        meta: JSON = {"name": name, "labels": dict(labels)}
        if owner is not None:
            meta["ownerReferences"] = [controller_of(owner)]
        spec: JSON = {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "registry.example/app:1"}],
            # What the ServiceAccount admission plugin (off here) would fill in.
            "serviceAccountName": service_account or "default",
        }
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        rest(self.admin, "POST", POD_PATH.format(ns=ns), body)
        return self.run_pod(ns, name, ready=ready)

    def run_pod(self, ns: str, name: str, *, ready: bool) -> JSON:
        now = _now()
        flag = "True" if ready else "False"
        status = {
            "phase": "Running",
            "startTime": now,
            "podIP": "10.1.0.1",
            "conditions": [
                {"type": t, "status": s, "lastTransitionTime": now}
                for t, s in (
                    ("PodScheduled", "True"),
                    ("Initialized", "True"),
                    ("ContainersReady", flag),
                    ("Ready", flag),
                )
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": ready,
                    "restartCount": 0,
                    "image": "registry.example/app:1",
                    "imageID": "",
                    "started": True,
                    "state": {"running": {"startedAt": now}},
                }
            ],
        }
        path = f"{POD_PATH.format(ns=ns)}/{name}/status"
        return rest(self.admin, "PATCH", path, {"status": status}, content_type=MERGE)

    def set_ready(self, ns: str, name: str, ready: bool) -> None:
        self.run_pod(ns, name, ready=ready)

    def finish_termination(self, ns: str, name: str) -> None:
        path = f"{POD_PATH.format(ns=ns)}/{name}"
        rest(self.admin, "DELETE", path, {"gracePeriodSeconds": 0})

    def pod(self, ns: str, name: str) -> JSON | None:
        try:
            return rest(self.admin, "GET", f"{POD_PATH.format(ns=ns)}/{name}")
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def budget(
        self, ns: str, labels: Mapping[str, str], max_unavailable: int, *, processed: bool = True
    ) -> None:
        body = {
            "apiVersion": "policy/v1beta1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": f"{next(iter(labels.values()))}-budget"},
            "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": labels}},
        }
        pdb = rest(self.admin, "POST", PDB_PATH.format(ns=ns), body)
        if processed:
            self.sync_budget(ns, pdb)

    def pod_again(self, like: JSON) -> JSON:
        meta = like["metadata"]
        return self.add_pod(
            meta["namespace"], meta["name"], labels=meta["labels"], owner=_owner_of(meta)
        )

    def pod_token(self, pod: JSON, audience: str) -> str:
        """A token bound to the pod, for its service account (`default` unless it names one)."""
        meta = pod["metadata"]
        account = pod["spec"].get("serviceAccountName") or "default"
        if account == "default":
            self.namespace_account(meta["namespace"])
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience],
                "boundObjectRef": {
                    "kind": "Pod", "apiVersion": "v1", "name": meta["name"], "uid": meta["uid"],
                },
            },
        }  # fmt: skip
        path = f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token"
        token: str = rest(self.admin, "POST", path, body)["status"]["token"]
        return token

    def namespace_account(self, ns: str) -> None:
        """The `default` account the controller-manager would make (it does not run here)."""
        try:
            self.service_account(ns, "default")
        except client.ApiException as exc:
            if exc.status != 409:
                raise

    def sync_budget(self, ns: str, pdb: JSON) -> JSON:
        """What the disruption controller writes: the budget's status from its pods now."""
        selector = ",".join(f"{k}={v}" for k, v in pdb["spec"]["selector"]["matchLabels"].items())
        pods = rest(self.admin, "GET", POD_PATH.format(ns=ns), query={"labelSelector": selector})
        items: list[JSON] = pods["items"]
        expected = len(items)
        healthy = sum(1 for p in items if _ready(p) and not p["metadata"].get("deletionTimestamp"))
        desired = expected - _scaled(pdb["spec"]["maxUnavailable"], expected)
        pdb["status"] = {
            "observedGeneration": pdb["metadata"]["generation"],
            "disruptionsAllowed": max(0, healthy - desired),
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
        }
        path = f"{PDB_PATH.format(ns=ns)}/{pdb['metadata']['name']}/status"
        return rest(self.admin, "PUT", path, pdb)

    def close(self) -> None:
        self.admin.close()  # type: ignore[no-untyped-call]


def controller_of(owner: JSON) -> JSON:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owner_of(meta: Mapping[str, Any]) -> JSON:
    """The owner object an ownerReference names, in the shape the seeding helpers take."""
    ref = meta["ownerReferences"][0]
    owner = {"name": ref["name"], "uid": ref["uid"]}
    return {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": owner}


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _scaled(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * int(value[:-1]) / 100)
    return int(value)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
