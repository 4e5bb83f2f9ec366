"""The state codec and the in-memory cluster: what is written reads back, as Kubernetes would."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.cluster import (
    ClusterUnavailable,
    Event,
    EventType,
    EvictionRefused,
    MemoryCluster,
    PodPatch,
    StateUpdate,
    Traffic,
)
from receiver.cluster.codec import (
    BUDGETS,
    HOLDS_KEY,
    LIFECYCLE_ANNOTATION,
    STATE_ANNOTATION,
    WATCHES_KEY,
    StateCorrupt,
    StoredState,
    decode_lifecycle,
    decode_state,
    encode_lifecycle,
    encode_state,
)
from receiver.cluster.memory import EVENTS_KEPT
from receiver.model import (
    Hold,
    HoldKind,
    Lifecycle,
    Pod,
    PodKey,
    PodState,
    SupervisorState,
    Watch,
    Workload,
)
from receiver.runbook import load_text
from receiver.scenario.spec import load_fleet_file
from receiver.service.serve import memory_cluster

T0 = 1_795_000_000.0
TRAFFIC = "remediation/traffic"
CHECKOUT = Workload("shop", "Deployment", "checkout")
CART = Workload("shop", "Deployment", "cart")
DB = Workload("shop", "StatefulSet", "db")
LABELS = {"app": "checkout", "tier": "web"}
OUTAGE = "the in-memory cluster is in a simulated outage"


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


# -- codec: pod lifecycle -----------------------------------------------------------------------

LIFECYCLES = [
    ("fresh", Lifecycle()),
    (
        "drained",
        Lifecycle(
            state=PodState.DRAINED,
            rule="error-outlier",
            attempts=1,
            until=T0 + 120.5,
            last_action_at=T0,
        ),
    ),
    ("probation", Lifecycle(state=PodState.PROBATION, rule="r", attempts=2, until=T0 + 600)),
    ("restarted", Lifecycle(state=PodState.RESTARTED, rule="r", attempts=3, last_action_at=T0)),
    ("paused", Lifecycle(state=PodState.PAUSED, rule="r", attempts=3)),
    (
        "handled occurrences",
        Lifecycle(handled=("6c1c0b4e3f1a2b3c@1795000000.123", "heartbeat:shop/p:Missed@1.000")),
    ),
    (
        "active signals",
        Lifecycle(active=(("alertmanager:abc", T0 + 300.25), ("heartbeat:x", T0 + 1))),
    ),
    (
        "everything at once",
        Lifecycle(
            state=PodState.DRAINED,
            rule="règle-é",
            attempts=7,
            until=T0 + 0.001,
            last_action_at=T0 - 0.5,
            handled=("a@1.000",),
            active=(("a", T0 + 60),),
        ),
    ),
    ("empty rule name", Lifecycle(rule="")),
]


@pytest.mark.parametrize(
    "lifecycle", [case[1] for case in LIFECYCLES], ids=[case[0] for case in LIFECYCLES]
)
def test_lifecycle_round_trip(lifecycle: Lifecycle) -> None:
    annotations = encode_lifecycle(lifecycle)

    assert decode_lifecycle(annotations) == lifecycle
    assert annotations[STATE_ANNOTATION] == str(lifecycle.state)
    assert set(annotations) == {STATE_ANNOTATION, LIFECYCLE_ANNOTATION}


def test_lifecycle_encoding_is_compact_and_omits_defaults() -> None:
    assert encode_lifecycle(Lifecycle()) == {
        "remediation/state": "serving",
        "remediation/lifecycle": '{"state":"serving","attempts":0}',
    }
    assert encode_lifecycle(
        Lifecycle(state=PodState.DRAINED, rule="r", attempts=1, until=2.5, active=(("k", 3.0),))
    ) == {
        "remediation/state": "drained",
        "remediation/lifecycle": (
            '{"state":"drained","attempts":1,"rule":"r","until":2.5,"active":[["k",3.0]]}'
        ),
    }


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
lifecycles = st.builds(
    Lifecycle,
    state=st.sampled_from(PodState),
    rule=st.none() | st.text(max_size=20),
    attempts=st.integers(min_value=0, max_value=10**9),
    until=st.none() | finite,
    last_action_at=st.none() | finite,
    handled=st.lists(st.text(max_size=30), max_size=5).map(tuple),
    active=st.lists(st.tuples(st.text(max_size=20), finite), max_size=5).map(tuple),
)


@given(lifecycles)
def test_any_lifecycle_round_trips(lifecycle: Lifecycle) -> None:
    assert decode_lifecycle(encode_lifecycle(lifecycle)) == lifecycle


@pytest.mark.parametrize(
    "annotations",
    [{}, {"kubectl.kubernetes.io/restartedAt": "x"}, {STATE_ANNOTATION: "drained"}],
    ids=["none", "unrelated only", "state without lifecycle"],
)
def test_no_lifecycle_annotation_reads_fresh(annotations: dict[str, str]) -> None:
    assert decode_lifecycle(annotations) == Lifecycle()


PREFIX = "annotation remediation/lifecycle: "
CORRUPT = [
    ("not JSON", "nope", "Expecting value: line 1 column 1 (char 0)"),
    ("no state", '{"attempts":1}', "'state'"),
    ("unknown state", '{"state":"bogus"}', "'bogus' is not a valid PodState"),
    ("a list", "[]", "list indices must be integers or slices, not str"),
    ("null", "null", "'NoneType' object is not subscriptable"),
    ("attempts not a number", '{"state":"serving","attempts":"x"}', None),
    ("until not a number", '{"state":"serving","until":"x"}', None),
    ("active pair too short", '{"state":"serving","active":[["a"]]}', None),
    ("handled not a list", '{"state":"serving","handled":5}', None),
    ("attempts infinite", '{"state":"serving","attempts":1e999}', None),
]


@pytest.mark.parametrize(
    ("text", "detail"), [case[1:] for case in CORRUPT], ids=[case[0] for case in CORRUPT]
)
def test_corrupt_lifecycle_annotation(text: str, detail: str | None) -> None:
    with pytest.raises(StateCorrupt) as caught:
        decode_lifecycle({LIFECYCLE_ANNOTATION: text})

    assert str(caught.value).startswith(PREFIX)
    if detail is not None:
        assert str(caught.value) == PREFIX + detail
    assert isinstance(caught.value, ValueError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
mangled_bodies = st.fixed_dictionaries(
    {"state": st.sampled_from([s.value for s in PodState]) | json_values},
    optional={
        "attempts": json_values,
        "until": json_values,
        "lastActionAt": json_values,
        "rule": json_values,
        "handled": json_values,
        "active": json_values,
    },
)


@given(st.text() | json_values.map(json.dumps) | mangled_bodies.map(json.dumps))
def test_any_annotation_reads_as_a_lifecycle_or_state_corrupt(text: str) -> None:
    """Decoding never fails with anything but StateCorrupt, whatever a human wrote."""
    try:
        decoded = decode_lifecycle({LIFECYCLE_ANNOTATION: text})
    except StateCorrupt:
        return
    assert isinstance(decoded, Lifecycle)


# -- codec: the state object --------------------------------------------------------------------


def test_state_object_round_trip() -> None:
    workloads = {
        CHECKOUT: Lifecycle(state=PodState.RESTARTED, rule="stuck", attempts=1, last_action_at=T0),
        DB: Lifecycle(handled=("x@1.000",)),
    }
    supervisors = {
        "shop": SupervisorState(counted=(T0, T0 + 1), actions=(T0,), escalations=2),
        "checkout": SupervisorState(frozen_until=T0 + 1800),
        "idle": SupervisorState(),
    }
    recent = (T0, T0 + 0.5, T0 + 30)

    data = encode_state(StoredState(workloads, supervisors, recent))

    assert set(data) == {"workloads", "supervisors", "recentActions", "watches"}
    assert all(isinstance(value, str) for value in data.values())
    assert decode_state(data) == StoredState(workloads, supervisors, recent)


def test_empty_state_object_reads_empty() -> None:
    assert decode_state({}) == StoredState()
    assert decode_state(encode_state(StoredState())) == StoredState()


CORRUPT_STATE = [
    ("workloads not JSON", {"workloads": "x"}, "Expecting value: line 1 column 1 (char 0)"),
    ("workload without kind", {"workloads": '[{"namespace":"a","name":"b"}]'}, "'kind'"),
    (
        "workload without state",
        {"workloads": '[{"namespace":"a","kind":"Deployment","name":"b"}]'},
        "'state'",
    ),
    ("supervisors a list", {"supervisors": "[]"}, "'list' object has no attribute 'items'"),
    (
        "recent action not a number",
        {"recentActions": '["a"]'},
        "could not convert string to float: 'a'",
    ),
    (
        "escalations infinite",
        {"supervisors": '{"s":{"escalations":1e999}}'},
        "cannot convert float infinity to integer",
    ),
]


@pytest.mark.parametrize(
    ("data", "detail"),
    [case[1:] for case in CORRUPT_STATE],
    ids=[case[0] for case in CORRUPT_STATE],
)
def test_corrupt_state_object(data: dict[str, str], detail: str) -> None:
    with pytest.raises(StateCorrupt) as caught:
        decode_state(data)

    assert str(caught.value) == f"state object: {detail}"


def test_a_corrupt_part_of_the_state_object_told_leaves_the_others_read() -> None:
    """What the Kubernetes adapter does after a restart: each part stands on its own."""
    hold_and_watch = encode_state(
        StoredState(
            holds=(
                Hold(
                    id="h",
                    kind=HoldKind.POD,
                    target="shop/a",
                    reason="why",
                    author="me",
                    created=T0,
                    expires=T0 + 60,
                ),
            ),
            watches={CART: (Watch(rule="r", action="restart", pod="", at=T0, until=T0 + 1),)},
        )
    )
    told: list[StateCorrupt] = []

    state = decode_state({**hold_and_watch, "workloads": "x"}, on_corrupt=told.append)

    assert [exc.part for exc in told] == [BUDGETS]
    assert state == decode_state(hold_and_watch)
    told.clear()
    state = decode_state({"recentActions": "[1.0]", "holds": "{", "watches": "1"}, told.append)
    assert [exc.part for exc in told] == [HOLDS_KEY, WATCHES_KEY]
    assert state == StoredState(recent_actions=(1.0,))


# -- the in-memory cluster ----------------------------------------------------------------------


class World:
    """A cluster on a clock the test moves by hand."""

    def __init__(self) -> None:
        self.now_holder = [T0]
        self.cluster = MemoryCluster(clock=lambda: self.now_holder[0], traffic_label=TRAFFIC)

    def at(self, when: float) -> dict[PodKey, Pod]:
        """The pods as of `when` (never earlier than the clock already is)."""
        assert when >= self.now_holder[0]
        self.now_holder[0] = when
        return dict(self.cluster.snapshot().pods)

    def pods(self) -> dict[PodKey, Pod]:
        return dict(self.cluster.snapshot().pods)

    def of(self, workload: Workload) -> list[Pod]:
        snapshot = self.cluster.snapshot()
        assert snapshot.owners is not None
        return sorted(
            (snapshot.pods[key] for key in snapshot.owners.get(workload, ())),
            key=lambda p: p.name,
        )


def world_with(
    workload: Workload = CHECKOUT,
    *,
    replicas: int = 3,
    max_unavailable: int = 1,
    start_after: float = 2.0,
    stop_after: float = 1.0,
) -> tuple[World, list[PodKey]]:
    world = World()
    keys = world.cluster.add_workload(
        workload,
        replicas=replicas,
        labels=LABELS,
        max_unavailable=max_unavailable,
        start_after=start_after,
        stop_after=stop_after,
    )
    return world, keys


def test_add_deployment_creates_ready_pods_with_shared_labels() -> None:
    world, keys = world_with(CHECKOUT, replicas=3)

    pods = world.pods()

    assert sorted(pods) == sorted(keys)
    assert len(set(keys)) == 3
    for key in keys:
        pod = pods[key]
        assert re.fullmatch(r"checkout-[0-2]", pod.name)  # as the runbook-test format names them
        assert pod.namespace == "shop"
        assert pod.ready
        assert not pod.terminating
        assert pod.started_at == T0
        assert pod.owner == CHECKOUT
        assert pod.uid
        assert dict(pod.labels) == {"app": "checkout", "tier": "web", TRAFFIC: "on"}
        assert pod.lifecycle == Lifecycle()
        assert not pod.out_of_service
    assert len({pods[k].uid for k in keys}) == 3


def test_add_statefulset_names_pods_by_ordinal() -> None:
    world, keys = world_with(DB, replicas=3)

    assert keys == [PodKey("shop", "db-0"), PodKey("shop", "db-1"), PodKey("shop", "db-2")]
    assert all(pod.ready and pod.owner == DB for pod in world.pods().values())


def test_snapshot_indexes_pods_by_owner() -> None:
    world, checkout = world_with(CHECKOUT, replicas=3)
    cart = world.cluster.add_workload(CART, replicas=2, labels={"app": "cart"})

    owners = world.cluster.snapshot().owners

    assert owners is not None
    assert {w: set(keys) for w, keys in owners.items()} == {
        CHECKOUT: set(checkout),
        CART: set(cart),
    }


def test_snapshot_is_read_only() -> None:
    world, keys = world_with()
    snapshot = world.cluster.snapshot()

    with pytest.raises(TypeError):
        snapshot.pods[keys[0]] = snapshot.pods[keys[1]]  # type: ignore[index]


def test_set_ready() -> None:
    world, (key, *_) = world_with()

    world.cluster.set_ready(key, False)
    assert not world.pods()[key].ready
    assert world.pods()[key].out_of_service

    world.cluster.set_ready(key, True)
    assert world.pods()[key].ready


def test_set_ready_cannot_revive_a_terminating_pod() -> None:
    world, (key, *_) = world_with()
    run(world.cluster.evict(key))

    world.cluster.set_ready(key, True)

    assert not world.pods()[key].ready


# -- patch_pod ----------------------------------------------------------------------------------


def test_patch_relabels_and_persists_the_lifecycle() -> None:
    world, (key, sibling, _) = world_with()
    lifecycle = Lifecycle(
        state=PodState.DRAINED,
        rule="error-outlier",
        attempts=1,
        until=T0 + 120,
        last_action_at=T0,
        handled=("f@1.000",),
    )

    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=lifecycle, traffic=Traffic.OFF)))

    pods = world.pods()
    assert pods[key].labels[TRAFFIC] == "off"
    assert pods[key].labels["app"] == "checkout"
    assert pods[key].lifecycle == lifecycle
    assert pods[key].out_of_service
    assert pods[sibling].labels[TRAFFIC] == "on"  # the shared labels were not mutated
    # White box: the annotations are what the Kubernetes adapter would store on the pod; they
    # must decode with the shared codec to the same lifecycle.
    stored = world.cluster._annotations[key]
    assert stored[STATE_ANNOTATION] == "drained"
    assert decode_lifecycle(stored) == lifecycle


@pytest.mark.parametrize(
    ("patch_traffic", "expected"),
    [(None, "on"), (Traffic.ON, "on"), (Traffic.OFF, "off"), (Traffic.PAUSED, "paused")],
    ids=["unchanged", "on again", "off", "paused"],
)
def test_patch_traffic(patch_traffic: Traffic | None, expected: str) -> None:
    world, (key, *_) = world_with()

    run(world.cluster.patch_pod(PodPatch(key=key, traffic=patch_traffic)))

    pod = world.pods()[key]
    assert pod.labels[TRAFFIC] == expected
    assert pod.lifecycle == Lifecycle()


def test_patch_with_another_traffic_label() -> None:
    world, (key, *_) = world_with()

    run(world.cluster.patch_pod(PodPatch(key=key, traffic=Traffic.OFF, traffic_label="lb/in")))

    labels = world.pods()[key].labels
    assert labels["lb/in"] == "off"
    assert labels[TRAFFIC] == "on"


def test_patch_lifecycle_only_keeps_labels() -> None:
    world, (key, *_) = world_with()
    before = world.pods()[key].labels

    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(attempts=2))))

    pod = world.pods()[key]
    assert pod.labels == before
    assert pod.lifecycle == Lifecycle(attempts=2)


def test_later_patch_overwrites_the_lifecycle() -> None:
    world, (key, *_) = world_with()
    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=PodState.DRAINED))))

    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=PodState.PROBATION))))

    assert world.pods()[key].lifecycle == Lifecycle(state=PodState.PROBATION)


def test_patch_of_an_unknown_pod() -> None:
    world, _ = world_with()

    with pytest.raises(LookupError, match=r"^pod shop/nope not found$"):
        run(world.cluster.patch_pod(PodPatch(key=PodKey("shop", "nope"), traffic=Traffic.OFF)))


# -- evict ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_unavailable", "not_ready_before", "refusal"),
    [
        (1, 0, None),
        (1, 1, "(1 of 1 allowed unavailable)"),
        (2, 1, None),
        (2, 2, "(2 of 2 allowed unavailable)"),
        (0, 0, "(0 of 0 allowed unavailable)"),
    ],
    ids=[
        "budget of one, all ready",
        "budget of one spent",
        "budget of two, one spent",
        "budget of two spent",
        "no disruption allowed",
    ],
)
def test_evict_honours_the_budget(
    max_unavailable: int, not_ready_before: int, refusal: str | None
) -> None:
    world, keys = world_with(replicas=4, max_unavailable=max_unavailable)
    for key in keys[1 : 1 + not_ready_before]:
        world.cluster.set_ready(key, False)

    if refusal is None:
        run(world.cluster.evict(keys[0]))
        assert world.pods()[keys[0]].terminating
        assert world.cluster.evictions == [keys[0]]
    else:
        with pytest.raises(EvictionRefused) as caught:
            run(world.cluster.evict(keys[0]))
        assert str(caught.value) == (
            "Cannot evict pod as it would violate the pod's disruption budget " + refusal
        )
        assert not world.pods()[keys[0]].terminating
        assert world.cluster.evictions == []


def test_evicting_consumes_the_budget() -> None:
    world, (a, b, _) = world_with(max_unavailable=1)
    run(world.cluster.evict(a))

    with pytest.raises(EvictionRefused):
        run(world.cluster.evict(b))


def test_a_pod_that_is_not_ready_can_always_be_evicted() -> None:
    world, (a, b, _) = world_with(max_unavailable=1)
    world.cluster.set_ready(a, False)
    world.cluster.set_ready(b, False)

    run(world.cluster.evict(a))

    assert world.pods()[a].terminating


def test_evicting_a_terminating_pod_is_a_no_op() -> None:
    world, (key, *_) = world_with()
    run(world.cluster.evict(key))

    run(world.cluster.evict(key))

    assert world.cluster.evictions == [key]


def test_evict_an_unknown_pod() -> None:
    world, _ = world_with()

    with pytest.raises(LookupError, match=r"^pod shop/nope not found$"):
        run(world.cluster.evict(PodKey("shop", "nope")))


def test_evicted_deployment_pod_is_replaced_under_a_new_name() -> None:
    world, (key, *others) = world_with(start_after=2.0, stop_after=1.0)
    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=PodState.RESTARTED))))

    run(world.cluster.evict(key))

    evicted = world.pods()[key]
    assert evicted.terminating
    assert not evicted.ready
    assert evicted.out_of_service

    still = world.at(T0 + 0.999)
    assert still[key].terminating

    after_stop = world.at(T0 + 1.0)
    assert key not in after_stop
    (new,) = set(after_stop) - set(others)
    replacement = after_stop[new]
    assert re.fullmatch(r"checkout-[0-9a-f]{5}", new.name)
    assert not replacement.ready
    assert replacement.started_at is None
    assert replacement.lifecycle == Lifecycle()
    assert replacement.labels[TRAFFIC] == "on"
    assert replacement.owner == CHECKOUT
    assert {pod.key for pod in world.of(CHECKOUT)} == {new, *others}

    assert not world.at(T0 + 2.999)[new].ready
    ready = world.at(T0 + 3.0)[new]
    assert ready.ready
    assert ready.started_at == T0 + 3.0


def test_evicted_statefulset_pod_comes_back_with_its_name_and_a_fresh_lifecycle() -> None:
    world, (key, *_) = world_with(DB, start_after=2.0, stop_after=1.0)
    old = world.pods()[key]
    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=PodState.RESTARTED))))

    run(world.cluster.evict(key))

    replacement = world.at(T0 + 1.0)[key]
    assert replacement.uid != old.uid
    assert old.created_at is None  # the starting fleet was there before the clock began
    assert replacement.created_at == T0 + 1.0
    assert replacement.lifecycle == Lifecycle()
    assert not replacement.terminating
    assert not replacement.ready
    assert key not in world.cluster._annotations  # white box: no annotation survives the pod
    ready = world.at(T0 + 3.0)[key]
    assert ready.ready
    assert ready.started_at == T0 + 3.0
    assert len(world.of(DB)) == 3


def test_a_pending_transition_of_a_statefulset_pod_does_not_reach_its_successor() -> None:
    """Regression: transitions were keyed by name, which a StatefulSet's replacement reuses.

    The first replacement of db-0 was due Ready at T0 + 3; evicted before that, its own
    replacement (created at T0 + 2.5) must not turn Ready at T0 + 3 in its place.
    """
    world, (key, *_) = world_with(DB, start_after=2.0, stop_after=1.0)
    run(world.cluster.evict(key))
    first = world.at(T0 + 1.0)[key]
    world.at(T0 + 1.5)
    run(world.cluster.evict(key))  # not Ready yet: the budget does not apply

    second = world.at(T0 + 2.5)[key]
    assert second.uid != first.uid

    assert not world.at(T0 + 3.0)[key].ready
    ready = world.at(T0 + 4.5)[key]
    assert ready.ready
    assert ready.started_at == T0 + 4.5
    assert ready.uid == second.uid


# -- rollout_restart ----------------------------------------------------------------------------


def test_rollout_restart_replaces_every_pod_one_by_one() -> None:
    world, keys = world_with(CHECKOUT, replicas=3, start_after=2.0, stop_after=1.0)

    run(world.cluster.rollout_restart(CHECKOUT, T0))

    steps = [T0 + 0.5 * i for i in range(0, 21)]  # 0s to 10s in half seconds
    for when in steps:
        pods = world.at(when)
        unavailable = [p for p in pods.values() if not p.ready]
        assert len(pods) == 3
        assert len(unavailable) <= 1, when  # never more than one pod down at a time
    final = world.pods()
    assert not set(final) & set(keys)
    assert all(pod.ready and pod.owner == CHECKOUT for pod in final.values())
    assert world.cluster.evictions == []  # a rollout is not an eviction


def test_rollout_restart_starts_with_the_first_pod_at_once() -> None:
    world, keys = world_with(CHECKOUT, replicas=3, start_after=2.0, stop_after=1.0)

    run(world.cluster.rollout_restart(CHECKOUT, T0))

    pods = world.pods()
    first, *rest = sorted(keys)
    assert pods[first].terminating
    assert not any(pods[k].terminating for k in rest)
    assert world.at(T0 + 3.0)[rest[0]].terminating  # the next one after the first is Ready


def test_rollout_restart_of_a_statefulset_keeps_names() -> None:
    world, keys = world_with(DB, replicas=3, start_after=2.0, stop_after=1.0)
    before = {key: pod.uid for key, pod in world.pods().items()}

    run(world.cluster.rollout_restart(DB, T0))

    after = world.at(T0 + 10)
    assert sorted(after) == sorted(keys)
    assert all(after[k].ready and after[k].uid != before[k] for k in keys)


def test_rollout_restart_of_an_unknown_workload() -> None:
    world, _ = world_with()

    with pytest.raises(LookupError, match=r"^workload shop/deployment/nope not found$"):
        run(world.cluster.rollout_restart(Workload("shop", "Deployment", "nope"), T0))


# -- save_state ---------------------------------------------------------------------------------


def test_saved_state_shows_in_the_snapshot() -> None:
    world, _ = world_with()
    workloads = {CHECKOUT: Lifecycle(state=PodState.RESTARTED, attempts=1, last_action_at=T0)}
    supervisors = {"checkout": SupervisorState(counted=(T0,), actions=(T0,), escalations=1)}

    run(
        world.cluster.save_state(
            StateUpdate(workloads=workloads, supervisors=supervisors, recent_actions=(T0,))
        )
    )

    snapshot = world.cluster.snapshot()
    assert dict(snapshot.workloads) == workloads
    assert dict(snapshot.supervisors) == supervisors
    assert snapshot.recent_actions == (T0,)
    assert snapshot.workload(CART) == Lifecycle()
    assert snapshot.supervisor("shop") == SupervisorState()


def test_state_updates_merge_and_none_keeps_recent_actions() -> None:
    world, _ = world_with()
    first = SupervisorState(counted=(T0,))
    run(
        world.cluster.save_state(
            StateUpdate(workloads={}, supervisors={"a": first}, recent_actions=(T0,))
        )
    )
    second = SupervisorState(frozen_until=T0 + 60)

    run(
        world.cluster.save_state(
            StateUpdate(
                workloads={CART: Lifecycle(attempts=1)},
                supervisors={"b": second},
                recent_actions=None,
            )
        )
    )

    snapshot = world.cluster.snapshot()
    assert dict(snapshot.supervisors) == {"a": first, "b": second}
    assert dict(snapshot.workloads) == {CART: Lifecycle(attempts=1)}
    assert snapshot.recent_actions == (T0,)
    # White box: the stored state object is what the adapter would read back after a restart.
    assert decode_state(world.cluster._state_data) == StoredState(
        {CART: Lifecycle(attempts=1)},
        {"a": first, "b": second},
        (T0,),
    )


# -- outage -------------------------------------------------------------------------------------


def picture(world: World) -> tuple[object, ...]:
    snapshot = world.cluster.snapshot()
    return (
        dict(snapshot.pods),
        dict(snapshot.workloads),
        dict(snapshot.supervisors),
        snapshot.recent_actions,
        list(world.cluster.evictions),
    )


Write = Callable[[MemoryCluster, PodKey], Coroutine[Any, Any, None]]
WRITES: list[tuple[str, Write]] = [
    ("patch_pod", lambda c, k: c.patch_pod(PodPatch(key=k, traffic=Traffic.OFF))),
    ("evict", lambda c, k: c.evict(k)),
    ("rollout_restart", lambda c, k: c.rollout_restart(CHECKOUT, T0)),
    (
        "save_state",
        lambda c, k: c.save_state(
            StateUpdate(
                workloads={CHECKOUT: Lifecycle(attempts=1)},
                supervisors={"s": SupervisorState(escalations=1)},
                recent_actions=(T0,),
            )
        ),
    ),
]


@pytest.mark.parametrize("write", [w[1] for w in WRITES], ids=[w[0] for w in WRITES])
def test_outage_refuses_every_write_and_changes_nothing(write: Write) -> None:
    world, (key, *_) = world_with()
    before = picture(world)
    world.cluster.outage = True

    with pytest.raises(ClusterUnavailable, match=f"^{OUTAGE}$"):
        run(write(world.cluster, key))

    assert picture(world) == before
    world.at(T0 + 60)  # nothing was scheduled either
    assert picture(world) == before
    world.cluster.outage = False
    run(write(world.cluster, key))
    assert picture(world) != before


def test_reads_work_during_an_outage() -> None:
    world, keys = world_with()
    world.cluster.outage = True

    assert sorted(world.pods()) == sorted(keys)


# -- events -------------------------------------------------------------------------------------


def event(i: int) -> Event:
    return Event(reason="Drained", message=f"event {i}", at=T0 + i, pod=PodKey("shop", "p"))


def test_events_are_recorded_in_order() -> None:
    world, _ = world_with()
    warning = Event(
        reason="RemediationBlocked", message="m", at=T0, type=EventType.WARNING, workload=CHECKOUT
    )

    run(world.cluster.record_event(event(0)))
    run(world.cluster.record_event(warning))

    assert list(world.cluster.events) == [event(0), warning]
    assert [e.subject for e in world.cluster.events] == ["shop/p", "shop/deployment/checkout"]


def test_events_are_bounded_and_keep_the_newest() -> None:
    world, _ = world_with()

    async def flood() -> None:
        for i in range(EVENTS_KEPT + 5):
            await world.cluster.record_event(event(i))

    run(flood())

    assert len(world.cluster.events) == EVENTS_KEPT
    assert world.cluster.events[0] == event(5)
    assert world.cluster.events[-1] == event(EVENTS_KEPT + 4)


# -- indexes the snapshot carries ---------------------------------------------------------------


def timed(world: World) -> set[PodKey]:
    snapshot = world.cluster.snapshot()
    assert snapshot.timed is not None
    return set(snapshot.timed)


def test_timed_index_follows_the_lifecycle_written() -> None:
    world, (a, b, c) = world_with(replicas=3)
    assert timed(world) == set()

    for key, state in ((a, PodState.DRAINED), (b, PodState.PROBATION), (c, PodState.PAUSED)):
        run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=state))))
    assert timed(world) == {a, b}

    run(world.cluster.patch_pod(PodPatch(key=a, lifecycle=Lifecycle(state=PodState.PROBATION))))
    run(world.cluster.patch_pod(PodPatch(key=b, lifecycle=Lifecycle())))
    run(world.cluster.patch_pod(PodPatch(key=c, traffic=Traffic.OFF)))  # labels only
    assert timed(world) == {a}
    assert timed(world) == {
        k
        for k, p in world.pods().items()
        if p.lifecycle.state in (PodState.DRAINED, PodState.PROBATION)
    }


def test_a_replaced_pod_leaves_the_timed_index() -> None:
    world, (key, *_) = world_with(DB, start_after=2.0, stop_after=1.0)
    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=PodState.DRAINED))))
    run(world.cluster.evict(key))

    world.at(T0 + 1.0)  # gone, and back under the same name with a fresh lifecycle

    assert world.pods()[key].lifecycle == Lifecycle()
    assert timed(world) == set()


def test_snapshot_is_one_live_view_until_recent_actions_change() -> None:
    world, (key, *_) = world_with()
    first = world.cluster.snapshot()
    run(world.cluster.patch_pod(PodPatch(key=key, lifecycle=Lifecycle(state=PodState.DRAINED))))

    assert world.cluster.snapshot() is first
    assert first.pods[key].lifecycle.state is PodState.DRAINED

    run(world.cluster.save_state(StateUpdate(workloads={}, supervisors={}, recent_actions=(T0,))))
    second = world.cluster.snapshot()
    assert second is not first
    assert second.recent_actions == (T0,)


def test_state_object_is_encoded_when_read_and_again_after_a_write() -> None:
    world, _ = world_with()
    update = StateUpdate(
        workloads={}, supervisors={"a": SupervisorState(counted=(T0,))}, recent_actions=None
    )
    run(world.cluster.save_state(update))
    data = world.cluster._state_data
    assert world.cluster._state_data is data
    assert data == encode_state(StoredState({}, {"a": SupervisorState(counted=(T0,))}, ()))

    run(world.cluster.save_state(StateUpdate(workloads={}, supervisors={}, recent_actions=(T0,))))
    assert decode_state(world.cluster._state_data).recent_actions == (T0,)


def test_a_fleet_file_seeds_the_pods_the_runbook_test_format_means(tmp_path: Path) -> None:
    """`serve --fleet` and `receiver test` share the format: the same names, notReady honoured."""
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        "fleet:\n"
        "  - {deployment: checkout, namespace: shop, replicas: 4, notReady: 2,"
        " labels: {app: checkout}}\n",
        encoding="utf-8",
    )
    runbook = load_text(
        "apiVersion: remediation/v1\nkind: Runbook\nsettings: {namespaces: [shop]}\n"
    )
    cluster = memory_cluster(runbook, load_fleet_file(fleet_file), clock=lambda: T0)

    ready = {p.name: p.ready for p in cluster.snapshot().pods.values()}
    assert ready == {
        "checkout-0": False,
        "checkout-1": False,
        "checkout-2": True,
        "checkout-3": True,
    }
