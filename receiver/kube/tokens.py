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
one review per `ttl`, not one per beat.
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
REVIEW_RETRY = RetryPolicy(attempts=2, budget=2.0)


class PodTokens:
    def __init__(
        self,
        api: Api,
        audience: str,
        *,
        ttl: float = CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.audience = audience
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[bytes, tuple[float, PodIdentity | None]] = {}

    async def review(self, token: str) -> PodIdentity | None:
        """The pod the token was issued to; None for a token that is not a valid pod token."""
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        identity = await self._ask(token)
        if len(self._cache) >= CACHE_KEPT:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= CACHE_KEPT:
                self._cache.clear()
        self._cache[key] = (now + self.ttl, identity)
        return identity

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
