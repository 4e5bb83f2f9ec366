"""Beats forwarded by a node relay: each beat proves its own pod, the relay proves nothing.

A relay (receiver/agent/relay.py) gathers the beats of the pods on its node
and forwards them in one request without an Authorization header; each
beat carries the bearer token its pod gave the relay. Each token is checked
as a request's header would be: a shared heartbeat token speaks for any
pod; a pod-bound token only for its own pod (name and uid). A beat whose
token fails is refused alone (its result says why), so one misconfigured
pod cannot silence its node's other pods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from receiver.cluster import PodIdentity, PodTokenReview
from receiver.ingest import Beat
from receiver.model import Pod, PodKey
from receiver.service.auth import Tokens

UNAUTHORIZED = "unauthorized"
"""The beat's token is neither a shared heartbeat token nor a pod-bound token."""
FORBIDDEN = "forbidden"
"""The beat's pod-bound token belongs to another pod (or an earlier pod of the name)."""


async def verdicts(
    beats: Sequence[Beat],
    *,
    shared: Tokens,
    pod_tokens: PodTokenReview | None,
    pods: Callable[[], Mapping[PodKey, Pod]],
) -> list[str | None]:
    """Per beat None (its token lets it through) or why not; ClusterUnavailable if unknown."""
    distinct = {b.token for b in beats if b.token is not None}
    shared_ok = {t for t in distinct if shared.allow(f"Bearer {t}")}
    asked = sorted(distinct - shared_ok)
    # Reviews are cached by the reviewer; the misses are asked for together, not in turn.
    if pod_tokens is None:
        found: list[PodIdentity | None] = [None] * len(asked)
    else:
        found = list(await asyncio.gather(*(pod_tokens.review(t) for t in asked)))
    identities = dict(zip(asked, found, strict=True))
    now = pods()  # read after the reviews: a snapshot holds only until the next await
    return [_verdict(b, b.token in shared_ok, identities.get(b.token or ""), now) for b in beats]


def _verdict(
    beat: Beat, shared: bool, identity: PodIdentity | None, pods: Mapping[PodKey, Pod]
) -> str | None:
    if beat.token is None:
        return UNAUTHORIZED
    if shared:
        return None
    if identity is None:
        return UNAUTHORIZED
    if identity.key != beat.key:
        return FORBIDDEN
    pod = pods.get(beat.key)
    if pod is not None and pod.uid and pod.uid != identity.uid:
        return FORBIDDEN
    return None
