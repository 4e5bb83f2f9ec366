"""TokenReview under a flood of random tokens: bounded in rate, and valid pods stay cached."""

from __future__ import annotations

import pytest
from kubeapi import FakeKubeApi

from kube.driver import Clock, Driver
from receiver.cluster import ClusterUnavailable, PodIdentity
from receiver.kube import PodTokens
from receiver.kube import tokens as tokens_module


def pod_token(fake: FakeKubeApi) -> PodIdentity:
    """A pod-bound token for a pod that exists (the API server refuses one whose pod does not)."""
    uid = fake.cluster.add_pod("shop", "cart-0")["metadata"]["uid"]
    fake.tokens.add(
        "pod-token",
        namespace="shop",
        service_account="cart",
        pod_name="cart-0",
        pod_uid=uid,
        audiences=["remediation"],
    )
    return PodIdentity("shop", "cart-0", uid)


def test_reviews_past_the_burst_are_refused_without_asking_until_the_rate_refills(
    fake: FakeKubeApi, driver: Driver
) -> None:
    clock = Clock(0.0)
    tokens = PodTokens(driver.api, "remediation", clock=clock, rate=2.0, burst=5)
    for i in range(5):
        assert driver.run(tokens.review(f"random-{i}")) is None
    with pytest.raises(ClusterUnavailable, match="token reviews over their rate of 2 a second"):
        driver.run(tokens.review("random-5"))
    assert len(fake.tokens.reviews) == 5
    assert driver.run(tokens.review("random-0")) is None  # refused before: from the cache
    clock.now = 1.0  # two more a second
    assert driver.run(tokens.review("random-6")) is None
    assert driver.run(tokens.review("random-7")) is None
    with pytest.raises(ClusterUnavailable):
        driver.run(tokens.review("random-8"))
    assert len(fake.tokens.reviews) == 7


def test_a_flood_of_refused_tokens_does_not_push_a_valid_pod_out_of_the_cache(
    fake: FakeKubeApi, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_module, "REFUSED_KEPT", 10)
    monkeypatch.setattr(tokens_module, "CACHE_KEPT", 10)
    pod = pod_token(fake)
    tokens = PodTokens(driver.api, "remediation", clock=Clock(0.0), burst=100)
    assert driver.run(tokens.review("pod-token")) == pod
    for i in range(30):
        assert driver.run(tokens.review(f"random-{i}")) is None
    assert driver.run(tokens.review("pod-token")) == pod
    assert [r.token for r in fake.tokens.reviews].count("pod-token") == 1
