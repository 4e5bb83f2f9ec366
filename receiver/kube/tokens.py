"""Pod-bound heartbeat identity: a projected service-account token, checked by TokenReview.

A pod mounts a service-account token whose audience is the receiver's
(a projected volume) and sends it as its bearer token. The API server
says whose it is: for a pod-bound token the review's user carries the pod's
name and uid (`authentication.kubernetes.io/pod-name` / `pod-uid`), and the
namespace is in the username (`system:serviceaccount:<ns>:<sa>`). The
receiver takes the pod from there, never from the request body, so one pod
cannot speak for another.

Reviews are cached briefly (by a hash of the token), as the API server's
own webhook token authenticator does, so a pod beating every second costs
one review per `ttl`, not one per beat. Refused tokens are cached apart from
accepted ones, so a flood of random tokens cannot push the pods' answers out;
and reviews not answered from a cache are bounded in rate (`rate` a second,
`burst` at once): past it the caller hears ClusterUnavailable (503, send
again), and the API server is not asked.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from kubernetes.client.exceptions import ApiException

from receiver.cluster import ClusterUnavailable, PodIdentity
from receiver.kube.api import Api, RetryPolicy, status_message

POD_NAME = "authentication.kubernetes.io/pod-name"
POD_UID = "authentication.kubernetes.io/pod-uid"
SERVICE_ACCOUNT = "system:serviceaccount:"
CACHE_TTL = 10.0
CACHE_KEPT = 50_000
REFUSED_KEPT = 10_000
REVIEWS_PER_SECOND = 20.0
REVIEW_BURST = 100
REVIEW_RETRY = RetryPolicy(attempts=2, budget=2.0)


class PodTokens:
    def __init__(
        self,
        api: Api,
        audience: str,
        *,
        ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
        rate: float = REVIEWS_PER_SECOND,
        burst: int = REVIEW_BURST,
    ) -> None:
        self.api = api
        self.audience = audience
        self.ttl = ttl
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._cache: dict[bytes, tuple[float, PodIdentity | None]] = {}
        self._refused: dict[bytes, tuple[float, PodIdentity | None]] = {}
        self._allowance, self._since = float(burst), clock()

    async def review(self, token: str) -> PodIdentity | None:
        """The pod the token was issued to; None for a token that is not a valid pod token."""
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._cache.get(key) or self._refused.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if not self._admit(now):
            raise ClusterUnavailable(f"token reviews over their rate of {self.rate:g} a second")
        identity = await self._ask(token)
        if identity is None:
            self._refused = _kept(self._refused, REFUSED_KEPT, now)
            self._refused[key] = (now + self.ttl, None)
        else:
            self._cache = _kept(self._cache, CACHE_KEPT, now)
            self._cache[key] = (now + self.ttl, identity)
        return identity

    def _admit(self, now: float) -> bool:
        """A token bucket: `rate` reviews a second on average, `burst` at once."""
        self._allowance = min(self.burst, self._allowance + (now - self._since) * self.rate)
        self._since = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True

    async def _ask(self, token: str) -> PodIdentity | None:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": [self.audience]},
        }
        try:
            raw = await self.api.call(
                "create", self.api.authentication.create_token_review, body, retry=REVIEW_RETRY
            )
        except ApiException as exc:
            raise ClusterUnavailable(
                f"TokenReview failed: HTTP {exc.status} {status_message(exc)}"
            ) from exc
        return identity_of(raw.get("status") or {}, self.audience)


def _kept(
    cache: dict[bytes, tuple[float, PodIdentity | None]], most: int, now: float
) -> dict[bytes, tuple[float, PodIdentity | None]]:
    """`cache` with room for one more: expired entries go first, then all."""
    if len(cache) < most:
        return cache
    cache = {k: v for k, v in cache.items() if v[0] > now}
    return cache if len(cache) < most else {}


def identity_of(status: dict[str, object], audience: str) -> PodIdentity | None:
    """The pod in a TokenReview status, if it authenticated a pod-bound token for `audience`."""
    if status.get("authenticated") is not True:
        return None
    audiences = status.get("audiences")
    if not isinstance(audiences, list) or audience not in audiences:
        return None
    user = status.get("user")
    if not isinstance(user, dict):
        return None
    username, extra = str(user.get("username", "")), user.get("extra") or {}
    if not username.startswith(SERVICE_ACCOUNT) or not isinstance(extra, dict):
        return None
    namespace = username[len(SERVICE_ACCOUNT) :].partition(":")[0]
    names, uids = extra.get(POD_NAME), extra.get(POD_UID)
    if not (isinstance(names, list) and isinstance(uids, list) and names and uids and namespace):
        return None
    return PodIdentity(namespace, str(names[0]), str(uids[0]))
