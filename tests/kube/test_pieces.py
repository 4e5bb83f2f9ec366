"""The adapter's pure pieces: pod JSON to the model, owners, the cache, back-off, token reviews."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from receiver.cluster.codec import encode_lifecycle
from receiver.kube.api import RetryPolicy
from receiver.kube.informer import ALL, PodCache, newer
from receiver.kube.pods import Owners, parse_time, to_pod
from receiver.kube.revisions import Revisions, pod_revision
from receiver.kube.tokens import identity_of
from receiver.model import Lifecycle, Pod, PodKey, PodState, Rollout, Workload, rfc3339

T0 = "2026-11-21T10:00:00Z"


def raw_pod(
    name: str = "cart-1",
    *,
    ready: bool = True,
    phase: str = "Running",
    owner: tuple[str, str] | None = ("ReplicaSet", "cart-7f9c"),
    **metadata: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "uid": f"uid-{name}",
        "resourceVersion": "7",
        "labels": {"app": "cart", "pod-template-hash": "7f9c"},
        **metadata,
    }
    if owner:
        meta["ownerReferences"] = [
            {"kind": owner[0], "name": owner[1], "uid": "rs-uid", "controller": True}
        ]
    return {
        "metadata": meta,
        "status": {
            "phase": phase,
            "startTime": T0,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {"state": {"running": {"startedAt": "2026-11-21T10:00:05Z"}}},
                {"state": {"running": {"startedAt": "2026-11-21T10:00:09Z"}}},
            ],
        },
    }


def test_a_running_ready_pod_reads_with_its_lifecycle() -> None:
    lifecycle = Lifecycle(state=PodState.DRAINED, rule="errors", attempts=1, until=99.0)
    raw = raw_pod(annotations=encode_lifecycle(lifecycle), creationTimestamp="2026-11-21T09:59:58Z")
    pod = to_pod(raw, Workload("shop", "D", "cart"))
    assert pod.key == PodKey("shop", "cart-1")
    assert (pod.ready, pod.terminating, pod.uid) == (True, False, "uid-cart-1")
    assert pod.started_at == parse_time("2026-11-21T10:00:09Z")  # the last container
    assert pod.created_at == parse_time("2026-11-21T09:59:58Z")  # the object, not a container
    assert pod.lifecycle == lifecycle


def test_pending_terminating_and_finished_pods() -> None:
    assert to_pod(raw_pod(phase="Pending", ready=False), None).started_at is None
    deleting = to_pod(raw_pod(deletionTimestamp=T0), None)
    assert deleting.terminating
    assert to_pod(raw_pod(phase="Succeeded"), None).terminating


def test_a_mangled_lifecycle_annotation_reads_as_fresh() -> None:
    pod = to_pod(raw_pod(annotations={"remediation/lifecycle": "{not json"}), None)
    assert pod.lifecycle == Lifecycle()


def test_times_round_trip_in_the_api_format() -> None:
    at = parse_time(T0)
    assert at is not None
    assert rfc3339(at, "seconds") == T0
    assert parse_time("yesterday") is None
    assert parse_time(None) is None


class Reader:
    def __init__(self, replicasets: Mapping[str, dict[str, Any] | None]) -> None:
        self.replicasets = replicasets
        self.calls: list[str] = []

    def __call__(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(name)
        found = self.replicasets[name]
        if isinstance(found, Exception):
            raise found
        return found


def test_a_replicaset_is_followed_to_its_deployment_once() -> None:
    reader = Reader(
        {"cart-7f9c": {"metadata": {"ownerReferences": [{"kind": "Deployment", "name": "cart"}]}}}
    )
    owners = Owners(reader)
    metadata = raw_pod()["metadata"]
    assert owners.workload("shop", metadata) == Workload("shop", "Deployment", "cart")
    assert owners.workload("shop", metadata) == Workload("shop", "Deployment", "cart")
    assert reader.calls == ["cart-7f9c"]


def test_owners_of_other_controllers_and_orphans() -> None:
    owners = Owners(Reader({"lonely": None}))
    sts = raw_pod("db-0", owner=("StatefulSet", "db"))["metadata"]
    assert owners.workload("shop", sts) == Workload("shop", "StatefulSet", "db")
    assert owners.workload("shop", raw_pod(owner=None)["metadata"]) is None
    bare_rs = raw_pod(owner=("ReplicaSet", "lonely"))["metadata"]
    assert owners.workload("shop", bare_rs) == Workload("shop", "ReplicaSet", "lonely")


def test_a_failed_replicaset_read_guesses_from_the_template_hash_without_caching() -> None:
    reader = Reader({"cart-7f9c": RuntimeError("503")})  # type: ignore[dict-item]
    owners = Owners(reader)
    metadata = raw_pod()["metadata"]
    assert owners.workload("shop", metadata) == Workload("shop", "Deployment", "cart")
    owners.workload("shop", metadata)
    assert len(reader.calls) == 2
    assert len(owners) == 0


def replicaset(revision: str, number: str | None, created: str) -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": number} if number else {}
    return {
        "metadata": {
            "labels": {"pod-template-hash": revision},
            "annotations": annotations,
            "creationTimestamp": created,
        }
    }


CART = Workload("shop", "Deployment", "cart")
DB = Workload("shop", "StatefulSet", "db")


def test_the_newest_revision_is_the_highest_number_whatever_order_they_are_seen_in() -> None:
    revisions = Revisions(Reader({}), parse_time)
    revisions.note_replicaset(CART, replicaset("bbb", "2", "2026-01-01T00:10:00Z"))
    revisions.note_replicaset(CART, replicaset("aaa", "1", "2026-01-01T00:00:00Z"))
    revisions.note_replicaset(CART, replicaset("ccc", None, "2026-01-01T00:20:00Z"))  # unnumbered
    revisions.note_replicaset(Workload("shop", "ReplicaSet", "x"), replicaset("d", "9", ""))
    assert dict(revisions.rollouts) == {
        CART: Rollout(revision="bbb", since=parse_time("2026-01-01T00:10:00Z"))
    }


def test_a_controller_revision_is_read_once_and_a_failed_read_is_tried_again() -> None:
    reader = Reader(
        {
            "db-1a": RuntimeError("503"),  # type: ignore[dict-item]
            "db-2b": {"revision": 2, "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}},
        }
    )
    revisions = Revisions(reader, parse_time)
    on = {
        r: Pod(namespace="shop", name=f"db-{r}", owner=DB, revision=r) for r in ("db-1a", "db-2b")
    }
    revisions.observe(on["db-1a"])
    revisions.observe(on["db-1a"])  # failed: read again
    revisions.observe(on["db-2b"])
    revisions.observe(on["db-2b"])  # known: not read again
    revisions.observe(Pod(namespace="shop", name="web-0", owner=CART, revision="7f"))  # its RS
    assert reader.calls == ["db-1a", "db-1a", "db-2b"]
    assert revisions.rollouts[DB] == Rollout(
        revision="db-2b", since=parse_time("2026-01-01T00:00:00Z")
    )
    agent = Workload("shop", "DaemonSet", "agent")
    reader.replicasets = {"agent-9c": None}  # a DaemonSet's pods carry the hash alone
    revisions.observe(Pod(namespace="shop", name="agent-x", owner=agent, revision="9c"))
    assert reader.calls[-1] == "agent-9c"
    assert agent not in revisions.rollouts


def test_a_pod_carries_the_revision_its_labels_name() -> None:
    assert pod_revision({"pod-template-hash": "7f9c"}) == "7f9c"
    assert pod_revision({"controller-revision-hash": "db-5d"}) == "db-5d"
    assert pod_revision({"app": "x"}) == ""


def pod(name: str, owner: Workload | None = None, uid: str = "") -> Pod:
    return Pod(namespace="shop", name=name, owner=owner, uid=uid or f"uid-{name}")


def test_the_cache_keeps_the_newest_version_and_the_owner_index() -> None:
    cart = Workload("shop", "Deployment", "cart")
    cache = PodCache()
    cache.put(pod("a", cart), "10")
    cache.put(pod("a", None), "9")  # an older watch event after our own write
    assert cache.pods[PodKey("shop", "a")].owner == cart
    assert cache.owners == {cart: {PodKey("shop", "a")}}
    cache.remove(PodKey("shop", "a"), "uid-a", "8")  # older than what we hold
    assert PodKey("shop", "a") in cache.pods
    cache.remove(PodKey("shop", "a"), "other-uid")  # a StatefulSet successor's name
    assert PodKey("shop", "a") in cache.pods
    cache.remove(PodKey("shop", "a"), "uid-a", "11")
    assert cache.pods == {}
    assert cache.owners == {}


def test_a_relist_drops_the_pods_of_its_scope_that_are_gone() -> None:
    cache = PodCache()
    cache.put(pod("a"), "1")
    cache.put(pod("b"), "1")
    cache.put(Pod(namespace="other", name="c", uid="c"), "1")
    cache.replace("shop", [(pod("b"), "5")])
    assert sorted(str(k) for k in cache.pods) == ["other/c", "shop/b"]
    cache.replace(ALL, [])
    assert cache.pods == {}


def test_resource_versions_compare_as_numbers_when_they_are() -> None:
    assert newer("10", "9")
    assert not newer("9", "10")
    assert newer("10", None)
    assert newer("opaque", "10")  # not a number: trust the newest event


@pytest.mark.parametrize(
    ("attempt", "low", "high"), [(1, 0.1, 0.2), (2, 0.2, 0.4), (3, 0.4, 0.8), (9, 1.0, 2.0)]
)
def test_back_off_doubles_with_jitter_up_to_the_cap(attempt: int, low: float, high: float) -> None:
    policy = RetryPolicy()
    assert policy.delay(attempt, None, lambda: 0.0) == pytest.approx(low)
    assert policy.delay(attempt, None, lambda: 1.0) == pytest.approx(high)


def test_retry_after_is_honoured_within_the_cap() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, 1.5, lambda: 0.0) == 1.5
    assert policy.delay(1, 60.0, lambda: 0.0) == policy.cap


def review(**status: Any) -> dict[str, Any]:
    return {
        "authenticated": True,
        "audiences": ["remediation"],
        "user": {
            "username": "system:serviceaccount:shop:cart",
            "extra": {
                "authentication.kubernetes.io/pod-name": ["cart-1"],
                "authentication.kubernetes.io/pod-uid": ["uid-1"],
            },
        },
        **status,
    }


def test_a_pod_bound_token_review_names_the_pod() -> None:
    identity = identity_of(review(), "remediation")
    assert identity is not None
    assert (identity.key, identity.uid) == (PodKey("shop", "cart-1"), "uid-1")


@pytest.mark.parametrize(
    "status",
    [
        {"authenticated": False},
        {"audiences": ["someone-else"]},
        {"audiences": None},
        {"user": {"username": "alice", "extra": {}}},  # a person, not a pod
        {"user": {"username": "system:serviceaccount:shop:cart", "extra": {}}},  # not pod-bound
        {"user": "nonsense"},
    ],
)
def test_anything_but_a_pod_bound_token_for_our_audience_is_no_identity(
    status: dict[str, Any],
) -> None:
    assert identity_of(review(**status), "remediation") is None
