# The client's models make every field Optional and kubernetes.watch is unannotated; a None
# where the server must answer a value fails the test anyway, so mypy is not asked to prove it.
# mypy: disable-error-code="union-attr, arg-type, index, misc, no-untyped-call"
"""Objects on the fake, through the official `kubernetes` client over HTTP: selectors,
resourceVersion preconditions, the three patch types, deletion. Eviction, leases and
TokenReview are in test_fake_subresources.py, faults and the request log in
test_fake_faults.py, watches in test_fake_watch.py."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from .fixtures import status_body as status_of
from .harness import FakeKubeApi
from .kinds import DEPLOYMENT, POD

NS = "shop"


@pytest.fixture
def fleet(kube_api: FakeKubeApi) -> None:
    seed = {
        "a": {"app": "web", "tier": "front", "track": "stable"},
        "b": {"app": "web", "tier": "back"},
        "c": {"app": "db"},
        "d": {},
        "e": {"app": "web", "tier": "front", "track": "canary"},
    }
    for name, labels in seed.items():
        kube_api.cluster.add_pod(NS, name, labels=labels)
    kube_api.cluster.add_pod("other", "z", labels={"app": "web"})


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("selector", "names"),
    [
        pytest.param("app=web", "abe", id="equals"),
        pytest.param("app==web", "abe", id="double-equals"),
        pytest.param("app!=web", "cd", id="not-equals-includes-unlabelled"),
        pytest.param("tier in (front,back)", "abe", id="in"),
        pytest.param("tier notin (front)", "bcd", id="notin"),
        pytest.param("track", "ae", id="exists"),
        pytest.param("!track", "bcd", id="not-exists"),
        pytest.param("app=web,tier=front,track!=canary", "a", id="conjunction"),
        pytest.param(None, "abcde", id="none"),
    ],
)
def test_list_label_selectors(core: client.CoreV1Api, selector: str | None, names: str) -> None:
    pods = core.list_namespaced_pod(NS, label_selector=selector)
    assert "".join(p.metadata.name for p in pods.items) == names


@pytest.mark.usefixtures("fleet")
def test_list_all_namespaces_field_selector_and_bad_selector(core: client.CoreV1Api) -> None:
    everywhere = core.list_pod_for_all_namespaces(label_selector="app=web")
    assert [(p.metadata.namespace, p.metadata.name) for p in everywhere.items] == [
        ("other", "z"),
        (NS, "a"),
        (NS, "b"),
        (NS, "e"),
    ]
    named = core.list_pod_for_all_namespaces(field_selector="metadata.name=z")
    assert [p.metadata.name for p in named.items] == ["z"]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod(NS, label_selector="app in web")
    assert caught.value.status == 400
    assert status_of(caught)["reason"] == "BadRequest"


def test_resource_version_is_global_and_only_writes_bump_it(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    first = kube_api.cluster.add_pod(NS, "a")
    listed = core.list_namespaced_pod(NS)
    assert listed.metadata.resource_version == first["metadata"]["resourceVersion"]
    patched = core.patch_namespaced_pod("a", NS, {"metadata": {"labels": {"x": "1"}}})
    assert int(patched.metadata.resource_version) > int(first["metadata"]["resourceVersion"])
    again = core.patch_namespaced_pod("a", NS, {"metadata": {"labels": {"x": "1"}}})
    assert again.metadata.resource_version == patched.metadata.resource_version  # no-op write
    kube_api.cluster.add_pod("other", "b")
    assert int(core.list_namespaced_pod(NS).metadata.resource_version) > int(
        again.metadata.resource_version
    )


def test_create_generate_name_conflict_and_not_found(core: client.CoreV1Api) -> None:
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="web-1."),
        involved_object=client.V1ObjectReference(kind="Pod", name="web-1", namespace=NS),
        reason="Restarted",
        message="evicted by remediation",
        type="Normal",
    )
    made = core.create_namespaced_event(NS, body)
    assert made.metadata.name.startswith("web-1.")
    assert len(made.metadata.name) == 11
    assert made.metadata.uid
    assert made.metadata.creation_timestamp
    core.create_namespaced_event(NS, body)
    listed = core.list_namespaced_event(NS, field_selector="involvedObject.name=web-1")
    assert len(listed.items) == 2
    body.metadata = client.V1ObjectMeta(name=made.metadata.name)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event(NS, body)
    assert caught.value.status == 409
    assert status_of(caught)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("missing", NS)
    assert status_of(caught)["message"] == 'pods "missing" not found'


def test_replace_with_stale_resource_version_is_409(
    kube_api: FakeKubeApi, kube_client: client.ApiClient
) -> None:
    apps = client.AppsV1Api(kube_client)
    kube_api.cluster.add_workload(DEPLOYMENT, NS, "web", labels={"app": "web"}, replicas=2)
    current = apps.read_namespaced_deployment("web", NS)
    assert current.metadata.generation == 1
    current.spec.replicas = 3
    updated = apps.replace_namespaced_deployment("web", NS, current)
    assert updated.metadata.generation == 2
    relabelled = apps.patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"x": "y"}}})
    assert relabelled.metadata.generation == 2  # metadata is not spec
    with pytest.raises(ApiException) as caught:
        apps.replace_namespaced_deployment("web", NS, current)  # still carries the old RV
    body = status_of(caught)
    assert caught.value.status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


@pytest.mark.parametrize(
    "content_type",
    ["application/strategic-merge-patch+json", "application/merge-patch+json"],
)
def test_resource_version_in_a_patch_is_a_precondition(
    kube_api: FakeKubeApi, core: client.CoreV1Api, content_type: str
) -> None:
    rv = kube_api.cluster.add_pod(NS, "a")["metadata"]["resourceVersion"]
    kube_api.cluster.set_ready(NS, "a", False)
    patch = {"metadata": {"resourceVersion": rv, "annotations": {"remediation/state": "x"}}}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("a", NS, patch, _content_type=content_type)
    assert caught.value.status == 409
    current = kube_api.cluster.get(POD, NS, "a")["metadata"]["resourceVersion"]
    patch["metadata"]["resourceVersion"] = current
    done = core.patch_namespaced_pod("a", NS, patch, _content_type=content_type)
    assert done.metadata.annotations == {"remediation/state": "x"}


def test_strategic_merge_merges_containers_by_name(
    kube_api: FakeKubeApi, kube_client: client.ApiClient
) -> None:
    apps = client.AppsV1Api(kube_client)
    kube_api.cluster.add_workload(DEPLOYMENT, NS, "web")
    containers = [
        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "proxy:1"},
    ]
    apps.patch_namespaced_deployment(
        "web", NS, {"spec": {"template": {"spec": {"containers": containers}}}}
    )
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}
            }
        }
    }
    got = apps.patch_namespaced_deployment("web", NS, patch).spec.template.spec.containers
    assert [(c.name, c.image) for c in got] == [("app", "app:1"), ("sidecar", "proxy:1")]
    assert [(e.name, e.value) for e in got[0].env] == [("A", "1"), ("B", "2")]
    merged = apps.patch_namespaced_deployment(
        "web", NS, patch, _content_type="application/merge-patch+json"
    ).spec.template.spec.containers
    assert [c.name for c in merged] == ["app"]  # RFC 7386 replaces lists wholesale


def test_merge_patch_null_deletes(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    kube_api.cluster.add_pod(NS, "a", labels={"app": "web", "remediation/traffic": "on"})
    patch = {"metadata": {"labels": {"remediation/traffic": None}}}
    got = core.patch_namespaced_pod("a", NS, patch, _content_type="application/merge-patch+json")
    assert got.metadata.labels == {"app": "web"}


def test_json_patch_escaping_and_failed_test_op(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    kube_api.cluster.add_pod(NS, "a", annotations={"remediation/state": "healthy"})
    path = "/metadata/annotations/remediation~1state"
    ops = [
        {"op": "test", "path": path, "value": "healthy"},
        {"op": "replace", "path": path, "value": "draining"},
    ]
    assert core.patch_namespaced_pod("a", NS, ops).metadata.annotations == {
        "remediation/state": "draining"
    }
    before = kube_api.cluster.pod(NS, "a")
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("a", NS, ops)  # the test op now fails
    assert caught.value.status == 422
    assert status_of(caught)["reason"] == "Invalid"
    assert status_of(caught)["message"] == f"testing value {path} failed: test failed"
    assert kube_api.cluster.pod(NS, "a") == before


def test_unknown_patch_type_is_415(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    kube_api.cluster.add_pod(NS, "a")
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod(
            "a", NS, {"metadata": {}}, _content_type="application/x-patch+json"
        )
    assert caught.value.status == 415
    assert status_of(caught)["reason"] == "UnsupportedMediaType"


def test_pod_status_and_spec_are_not_writable_through_the_pod(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    kube_api.cluster.add_pod(NS, "a", ready=True)
    core.patch_namespaced_pod("a", NS, {"status": {"phase": "Failed"}})
    assert kube_api.cluster.get(POD, NS, "a")["status"]["phase"] == "Running"
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("a", NS, {"spec": {"nodeName": "elsewhere"}})
    assert caught.value.status == 422


def test_delete_preconditions(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    pod = kube_api.cluster.add_pod(NS, "a")
    kube_api.cluster.set_ready(NS, "a", False)
    stale = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=pod["metadata"]["resourceVersion"])
    )
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_pod("a", NS, body=stale)
    assert caught.value.status == 409
    assert "Precondition failed" in status_of(caught)["message"]
    wrong_uid = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="nope"))
    with pytest.raises(ApiException):
        core.delete_namespaced_pod("a", NS, body=wrong_uid)
    gone = core.delete_namespaced_pod("a", NS, grace_period_seconds=0)
    assert gone.metadata.name == "a"
    assert kube_api.cluster.pod(NS, "a") is None
