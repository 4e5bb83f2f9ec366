"""TokenReview (authentication.k8s.io/v1) over tokens the test registers.

The answer has the real shape: a service-account username, its groups, and for a pod-bound
token the `authentication.kubernetes.io/pod-name` and `pod-uid` extras. `status.audiences` is
the part of the requested audiences the token was issued for (the API server's own audience
when the request names none). A negative answer is as kube-apiserver 1.20 gives it: no
`authenticated` field at all, `user: {}` and the error text; a review without a token is a 400.
A pod-bound token reviews only while its pod exists with the uid it was bound to: deleted,
it "has been invalidated"; replaced by a pod of the same name, the uid "does not match".
Every review is recorded, so a cache in front of TokenReview can be tested.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .kinds import JSON, bad_request

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True, slots=True)
class Token:
    namespace: str
    service_account: str
    pod_name: str | None
    pod_uid: str | None
    audiences: tuple[str, ...]
    uid: str = "11111111-2222-3333-4444-555555555555"


@dataclass(frozen=True, slots=True)
class Review:
    token: str
    audiences: tuple[str, ...]
    authenticated: bool


PodLookup = Callable[[str, str], Mapping[str, Any] | None]
"""(namespace, name) -> the pod now, or None."""


class TokenReviews:
    def __init__(self, pods: PodLookup = lambda namespace, name: None) -> None:
        self._pods = pods
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._reviews: list[Review] = []

    def add(
        self,
        token: str,
        *,
        namespace: str,
        service_account: str,
        pod_name: str | None = None,
        pod_uid: str | None = None,
        audiences: Sequence[str] = (API_AUDIENCE,),
    ) -> None:
        """A token TokenReview recognises; pod-bound when pod_name and pod_uid are set."""
        with self._lock:
            self._tokens[token] = Token(
                namespace, service_account, pod_name, pod_uid, tuple(audiences)
            )

    def remove(self, token: str) -> None:
        """Forget a token, as when its pod or service account is deleted."""
        with self._lock:
            self._tokens.pop(token, None)

    def _bound_pod_gone(self, token: Token) -> str | None:
        """Why a pod-bound token no longer reviews (its pod deleted or replaced), or None."""
        pod = self._pods(token.namespace, token.pod_name) if token.pod_name else None
        return _bound_pod_problem(token, pod)

    @property
    def reviews(self) -> list[Review]:
        """Every TokenReview answered so far, in order."""
        with self._lock:
            return list(self._reviews)

    def review(self, body: Mapping[str, Any]) -> JSON:
        spec = body.get("spec")
        if not isinstance(spec, dict) or not spec.get("token"):
            raise bad_request("token is required for TokenReview in authentication")
        wanted = tuple(spec.get("audiences") or ())
        with self._lock:
            token = self._tokens.get(spec["token"])
            allowed = set(token.audiences) if token else set()
            common = [a for a in (wanted or (API_AUDIENCE,)) if a in allowed]
            ok = token is not None and bool(common)
            gone = self._bound_pod_gone(token) if ok and token is not None else None
            self._reviews.append(Review(spec["token"], wanted, ok and gone is None))
        status: JSON = {"user": {}}
        if token is None:
            status["error"] = "invalid bearer token"
        elif not ok:
            status["error"] = (
                f"[invalid bearer token, token audiences {_go(token.audiences)} is invalid for "
                f"the target audiences {_go(wanted)}]"
            )
        elif gone is not None:
            status["error"] = f"[invalid bearer token, {gone}]"
        else:
            status["authenticated"] = True
            status["user"] = _user(token)
            status["audiences"] = common
        return {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": copy.deepcopy(spec),
            "status": status,
        }


def _bound_pod_problem(token: Token, pod: Mapping[str, Any] | None) -> str | None:
    if token.pod_name is None:
        return None
    if pod is None:
        return "Token has been invalidated"
    uid = (pod.get("metadata") or {}).get("uid")
    if uid != token.pod_uid:
        return f"Pod UID ({uid}) does not match claim ({token.pod_uid})"
    return None


def _go(values: Sequence[str]) -> str:
    """A list of strings as Go's %q prints a []string: ["a" "b"]."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def _user(token: Token) -> JSON:
    ns = token.namespace
    user: JSON = {
        "username": f"system:serviceaccount:{ns}:{token.service_account}",
        "uid": token.uid,
        "groups": [
            "system:serviceaccounts",
            f"system:serviceaccounts:{ns}",
            "system:authenticated",
        ],
    }
    if token.pod_name:
        user["extra"] = {
            "authentication.kubernetes.io/pod-name": [token.pod_name],
            "authentication.kubernetes.io/pod-uid": [token.pod_uid or ""],
        }
    return user
