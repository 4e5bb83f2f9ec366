"""An unauthenticated heartbeat gets no TokenReview before its body is known to fit the limit."""

from __future__ import annotations

from pathlib import Path

from service_builders import BEAT_TOKEN, auth, harness

from receiver.cluster import PodIdentity
from receiver.model import PodKey


class Reviews:
    """A PodTokenReview that records what it was asked and knows one pod token."""

    def __init__(self, uid: str = "") -> None:
        self.asked: list[str] = []
        self.uid = uid

    async def review(self, token: str) -> PodIdentity | None:
        self.asked.append(token)
        known = token == "pod-token-0123456789"
        return PodIdentity("shop", "checkout-0", self.uid) if known else None


def test_a_body_over_the_limit_is_refused_before_any_review(tmp_path: Path) -> None:
    h = harness(tmp_path, max_body=1024)
    reviews = Reviews()
    h.service.pod_tokens = reviews
    answer = h.client().post(
        "/api/v1/heartbeats", content=b"x" * 2048, headers=auth("random-token-0123456789")
    )
    assert answer.status_code == 413
    assert reviews.asked == []


def test_a_pod_token_is_reviewed_once_the_body_fits(tmp_path: Path) -> None:
    h = harness(tmp_path)
    reviews = Reviews(h.cluster.snapshot().pods[PodKey("shop", "checkout-0")].uid)
    h.service.pod_tokens = reviews
    beat = {"namespace": "shop", "pod": "checkout-0", "status": "ok"}
    client = h.client()
    answer = client.post("/api/v1/heartbeats", json=beat, headers=auth("pod-token-0123456789"))
    assert answer.status_code == 200, answer.text
    refused = client.post("/api/v1/heartbeats", json=beat, headers=auth("random-token-0123456789"))
    assert refused.status_code == 401
    shared = client.post("/api/v1/heartbeats", json=beat, headers=auth(BEAT_TOKEN))
    assert shared.status_code == 200
    assert reviews.asked == ["pod-token-0123456789", "random-token-0123456789"]
