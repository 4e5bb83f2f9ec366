"""Leader election on a Lease, and pod-bound heartbeat tokens, over HTTP against the fake."""

from __future__ import annotations

import asyncio

import pytest
from kubeapi import LEASE, FakeKubeApi

from kube.driver import Clock, Driver
from receiver.cluster import ClusterUnavailable, PodIdentity
from receiver.kube import LeaderElector, ObjectName, PodTokens

NAME = ObjectName("remediation", "remediation-receiver")


def elector(driver: Driver, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(
        driver.api,
        lease=NAME,
        identity=identity,
        monotonic=clock,
        wall=lambda: 1_800_000_000.0 + clock.now,
    )


def lease(fake: FakeKubeApi) -> dict[str, object]:
    spec: dict[str, object] = fake.cluster.get(LEASE, NAME.namespace, NAME.name)["spec"]
    return spec


def test_one_replica_leads_and_the_other_waits_a_whole_lease_duration(
    fake: FakeKubeApi, driver: Driver
) -> None:
    clock_a, clock_b = Clock(0.0), Clock(0.0)
    a, b = elector(driver, "a", clock_a), elector(driver, "b", clock_b)
    driver.run(a.step())
    driver.run(b.step())
    assert (a.leading, b.leading, b.holder) == (True, False, "a")
    assert lease(fake)["holderIdentity"] == "a"
    clock_a.now = clock_b.now = 10.0
    driver.run(a.step())  # renewed: b's wait starts again from what it sees now
    driver.run(b.step())
    clock_b.now = 24.0  # 14 s without a renewal: not yet
    driver.run(b.step())
    assert not b.leading
    clock_b.now = 25.5
    driver.run(b.step())
    assert b.leading
    spec = lease(fake)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    clock_a.now = 26.0
    driver.run(a.step())  # a comes back and sees b: it stands down at once
    assert not a.leading


def test_a_leader_that_cannot_renew_stands_down_before_anyone_may_take_over(
    fake: FakeKubeApi, driver: Driver
) -> None:
    clock = Clock(0.0)
    a = elector(driver, "a", clock)
    driver.run(a.step())
    fake.faults.fail("*", r"/leases/", status=500, times=100)
    clock.now = 9.0
    driver.run(a.step())
    assert a.leading  # within the renew deadline (10 s)
    clock.now = 10.5
    driver.run(a.step())
    assert not a.leading  # well before the 15 s another replica waits


def test_two_candidates_in_one_round_cannot_both_win(fake: FakeKubeApi, driver: Driver) -> None:
    a, b = elector(driver, "a", Clock()), elector(driver, "b", Clock())

    async def both() -> None:
        await asyncio.gather(a.step(), b.step())

    driver.run(both())
    assert [a.leading, b.leading].count(True) == 1


def test_a_released_lease_is_taken_at_once_and_run_reports_changes(
    fake: FakeKubeApi, driver: Driver
) -> None:
    a = LeaderElector(driver.api, lease=NAME, identity="a", retry_period=0.05)
    changes: list[bool] = []

    async def record(leading: bool) -> None:
        changes.append(leading)

    async def lead_then_stop() -> None:
        task = asyncio.create_task(a.run(record))
        while not a.leading:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    driver.run(lead_then_stop())
    assert changes == [True]
    assert lease(fake).get("holderIdentity") is None  # released on the way out
    b = elector(driver, "b", Clock(0.0))
    driver.run(b.step())
    assert b.leading


def test_timings_must_nest() -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        LeaderElector(None, lease=NAME, identity="a", renew_deadline=20.0)  # type: ignore[arg-type]


def test_a_pod_bound_token_is_reviewed_once_per_ttl(fake: FakeKubeApi, driver: Driver) -> None:
    uid = fake.cluster.add_pod("shop", "cart-0")["metadata"]["uid"]
    fake.tokens.add(
        "pod-token",
        namespace="shop",
        service_account="cart",
        pod_name="cart-0",
        pod_uid=uid,
        audiences=["remediation"],
    )
    fake.tokens.add("api-token", namespace="shop", service_account="cart")  # wrong audience
    clock = Clock(0.0)
    tokens = PodTokens(driver.api, "remediation", ttl=10.0, clock=clock)
    expected = PodIdentity("shop", "cart-0", uid)
    assert driver.run(tokens.review("pod-token")) == expected
    assert driver.run(tokens.review("pod-token")) == expected
    assert len(fake.tokens.reviews) == 1
    clock.now = 11.0
    assert driver.run(tokens.review("pod-token")) == expected
    assert len(fake.tokens.reviews) == 2
    assert driver.run(tokens.review("api-token")) is None
    assert driver.run(tokens.review("forged")) is None


def test_a_failing_token_review_is_unavailable_not_unauthorized(
    fake: FakeKubeApi, driver: Driver
) -> None:
    fake.faults.fail("POST", r"/tokenreviews$", status=500, times=5)
    with pytest.raises(ClusterUnavailable, match="token review"):
        driver.run(PodTokens(driver.api, "remediation").review("pod-token"))
