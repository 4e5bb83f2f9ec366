"""The HTTP API (Starlette): webhooks, heartbeats, status, metrics, admin.

Status codes follow the acknowledgement rule of the design: 200 once every
signal is decided and its plan applied; 400 for a payload that can never
succeed, naming the field; 401 without a valid bearer token; 413 over the
body limit; 503 while the cluster is failing, so Alertmanager re-delivers.
A client that leaves before its body is in is counted (code 499, as nginx
logs it) and answered no one. The API is described by openapi.json, served
at /openapi.json.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from receiver.cluster import ClusterUnavailable, PodIdentity
from receiver.decide import HoldRefused
from receiver.ingest import Beat, PayloadInvalid, parse_heartbeats, parse_webhook
from receiver.model import PodKey
from receiver.report.holds import hold_json
from receiver.service import console, holds, relayed
from receiver.service.auth import bearer
from receiver.service.openapi import document
from receiver.service.pipeline import BatchResult, Pipeline
from receiver.service.runtime import Service

JSON = "application/json"
RETRY = {"Retry-After": "5"}


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client closed the connection before its body was in."""


def create_app(service: Service) -> Starlette:
    routes = [
        Route("/api/v1/alerts", _alerts, methods=["POST"]),
        Route("/api/v1/heartbeats", _heartbeats, methods=["POST"]),
        Route("/api/v1/pods/{namespace}/{pod}/resume", _resume, methods=["POST"]),
        Route("/api/v1/supervisors/{name}/reset", _reset, methods=["POST"]),
        Route("/api/v1/holds", _hold, methods=["POST"]),
        Route("/api/v1/holds", holds.list_holds, methods=["GET"]),
        Route("/api/v1/holds/{id}", _unhold, methods=["DELETE"]),
        Route("/-/reload", _reload, methods=["POST"]),
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
        *console.routes(),  # the console's pages, the status and decisions APIs
        Route("/openapi.json", _openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=service.lifespan)
    app.state.service = service
    return app


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code, headers, media_type=JSON)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise _Gone from exc
    return b"".join(chunks)


async def _guarded(
    request: Request, endpoint: str, *, heartbeat: bool = False, authorized: bool = False
) -> bytes | Response:
    """The body of an authorized request within the limit, or the refusal to send.

    Requests that make the receiver act are refused with 503 and Retry-After on a
    standby replica (the Service selects the leader's label, but a request may
    reach a standby while the label moves), so the sender tries again and
    reaches the leader.
    """
    service = _service(request)
    tokens = service.heartbeat_tokens if heartbeat else service.tokens
    if not authorized and not tokens.allow(request.headers.get("authorization")):
        return _unauthorized(service, endpoint)
    if endpoint != "reload" and not service.leading:
        service.metrics.rejected.labels(endpoint, "503").inc()
        _, why = service.ready()
        return _json({"error": f"this replica does not act ({why}); send again"}, 503, RETRY)
    try:
        return await _body(request, service.max_body)
    except _TooLarge:
        service.metrics.rejected.labels(endpoint, "413").inc()
        return _json({"error": f"request body over the limit of {service.max_body} bytes"}, 413)
    except _Gone:  # nothing to answer and nothing wrong here: no traceback, no error line
        service.metrics.rejected.labels(endpoint, "499").inc()
        return _json({"error": "the client closed the connection before the body was in"}, 400)


def _unauthorized(service: Service, endpoint: str) -> Response:
    service.metrics.rejected.labels(endpoint, "401").inc()
    return _json({"error": "missing or invalid bearer token"}, 401, {"WWW-Authenticate": "Bearer"})


def _invalid(service: Service, endpoint: str, exc: PayloadInvalid) -> Response:
    service.metrics.rejected.labels(endpoint, "400").inc()
    return _json(exc.as_json(), 400)


def _unavailable(service: Service, endpoint: str, detail: str, body: dict[str, Any]) -> Response:
    service.metrics.rejected.labels(endpoint, "503").inc()
    return _json(
        {"error": f"cluster unavailable: {detail}; send again later", **body},
        503,
        RETRY,
    )


async def _alerts(request: Request) -> Response:
    service = _service(request)
    body = await _guarded(request, "alerts")
    if isinstance(body, Response):
        return body
    try:
        notification = parse_webhook(body, service.clock())
    except PayloadInvalid as exc:
        return _invalid(service, "alerts", exc)
    outcome = await service.pipeline.alerts(notification.signals)
    answer = {
        "received": len(notification.signals),
        "truncatedAlerts": notification.truncated,
        "decisions": outcome.entries,
    }
    if outcome.unavailable:
        return _unavailable(service, "alerts", outcome.unavailable, answer)
    return _json({"status": "ok", **answer})


async def _heartbeats(request: Request) -> Response:
    service = _service(request)
    if "authorization" not in request.headers and service.heartbeat_tokens.values:
        return await _relayed_heartbeats(request, service)
    token = _pod_token(request, service)
    # The body limit before any TokenReview: an unauthenticated caller gets no review for free.
    body = await _guarded(request, "heartbeats", heartbeat=True, authorized=token is not None)
    if isinstance(body, Response):
        return body
    identity = None if token is None else await _pod_identity(token, service)
    if isinstance(identity, Response):
        return identity
    try:
        beats = parse_heartbeats(body)
    except PayloadInvalid as exc:
        return _invalid(service, "heartbeats", exc)
    batch = body.lstrip().startswith(b"[")
    carrying = next((i for i, beat in enumerate(beats) if beat.token is not None), None)
    if carrying is not None:  # two identities in one request: which one would count?
        field = f"[{carrying}].token" if batch else "token"
        expected = "no token in a beat when the request has an Authorization header"
        return _invalid(service, "heartbeats", PayloadInvalid(field, "a token", expected))
    if identity is not None:
        refused = _not_own(service, identity, beats, batch=batch)
        if refused is not None:
            return refused
    results, outcome = await service.pipeline.heartbeats(beats, service.clock())
    return _beats_answer(service, beats, results, outcome)


async def _relayed_heartbeats(request: Request, service: Service) -> Response:
    """No Authorization header: a relay's batch, in which each beat proves its own pod."""
    body = await _guarded(request, "heartbeats", heartbeat=True, authorized=True)
    if isinstance(body, Response):
        return body
    try:
        beats = parse_heartbeats(body)
    except PayloadInvalid as exc:
        return _invalid(service, "heartbeats", exc)
    if any(beat.token is None for beat in beats):
        return _unauthorized(service, "heartbeats")
    try:
        refusals = await relayed.verdicts(
            beats,
            shared=service.heartbeat_tokens,
            pod_tokens=service.pod_tokens,
            pods=lambda: service.pipeline.cluster.snapshot().pods,
        )
    except ClusterUnavailable as exc:
        return _unavailable(service, "heartbeats", str(exc), {})
    for refusal in filter(None, refusals):
        code = "401" if refusal == relayed.UNAUTHORIZED else "403"
        service.metrics.rejected.labels("heartbeats", code).inc()
    passed = [beat for beat, refusal in zip(beats, refusals, strict=True) if refusal is None]
    results, outcome = await service.pipeline.heartbeats(passed, service.clock())
    decided = iter(results)
    merged = [refusal or next(decided) for refusal in refusals]
    return _beats_answer(service, beats, merged, outcome)


def _beats_answer(
    service: Service, beats: list[Beat], results: list[str], outcome: BatchResult
) -> Response:
    answer: dict[str, Any] = {
        "results": [
            {"pod": str(beat.key), "result": result}
            for beat, result in zip(beats, results, strict=True)
        ]
    }
    if outcome.entries:
        answer["decisions"] = outcome.entries
    if outcome.unavailable:
        return _unavailable(service, "heartbeats", outcome.unavailable, answer)
    return _json(answer)


def _pod_token(request: Request, service: Service) -> str | None:
    """With pod-bound tokens on: a bearer token that is not a shared one, to review.

    None means "no pod identity": the shared tokens decide (in _guarded).
    """
    authorization = request.headers.get("authorization")
    if service.pod_tokens is None or service.heartbeat_tokens.allow(authorization):
        return None
    return bearer(authorization)


async def _pod_identity(token: str, service: Service) -> PodIdentity | Response:
    """The pod a token belongs to, by TokenReview; 401 if none, 503 if it cannot be asked."""
    assert service.pod_tokens is not None  # _pod_token returns a token only then
    try:
        identity = await service.pod_tokens.review(token)
    except ClusterUnavailable as exc:
        return _unavailable(service, "heartbeats", str(exc), {})
    return identity or _unauthorized(service, "heartbeats")


def _not_own(
    service: Service, identity: PodIdentity, beats: list[Beat], *, batch: bool
) -> Response | None:
    """403 when a pod-bound token speaks for another pod (or an earlier pod of its name)."""
    for i, beat in enumerate(beats):
        field = f"[{i}].pod" if batch else "pod"
        if beat.key != identity.key:
            problem = (
                f"this token belongs to pod {identity.key}; "
                f"it cannot send heartbeats for {beat.key}"
            )
        else:
            pod = service.pipeline.cluster.snapshot().pods.get(beat.key)
            if pod is None or not pod.uid or pod.uid == identity.uid:
                continue
            problem = f"this token belongs to an earlier pod named {identity.key} (uid differs)"
        service.metrics.rejected.labels("heartbeats", "403").inc()
        return _json({"error": problem, "field": field}, 403)
    return None


async def _resume(request: Request) -> Response:
    key = PodKey(request.path_params["namespace"], request.path_params["pod"])
    return await _operator(request, "resume", str(key), lambda p, by: p.resume(key, by=by))


async def _reset(request: Request) -> Response:
    name = request.path_params["name"]
    return await _operator(request, "reset", name, lambda p, by: p.reset(name, by=by))


async def _hold(request: Request) -> Response:
    service = _service(request)
    body = await _guarded(request, "hold")
    if isinstance(body, Response):
        return body
    try:
        hold = holds.read(service, body, request.headers.get("authorization"))
    except PayloadInvalid as exc:
        return _invalid(service, "hold", exc)
    told = {"hold": hold_json(hold, hold.created)}
    return await _operate(request, "hold", hold.subject, lambda p, by: p.hold(hold, by=by), told)


async def _unhold(request: Request) -> Response:
    hold_id = request.path_params["id"]
    return await _operator(request, "unhold", hold_id, lambda p, by: p.unhold(hold_id, by=by))


async def _operator(
    request: Request,
    endpoint: str,
    target: str,
    act: Callable[[Pipeline, str], Awaitable[dict[str, Any]]],
) -> Response:
    """A human's action: admin token, 404 for what does not exist, 503 if not applied."""
    body = await _guarded(request, endpoint)
    if isinstance(body, Response):
        return body
    return await _operate(request, endpoint, target, act)


async def _operate(
    request: Request,
    endpoint: str,
    target: str,
    act: Callable[[Pipeline, str], Awaitable[dict[str, Any]]],
    told: dict[str, Any] | None = None,
) -> Response:
    """Do an authorized human's action; 404 for what does not exist, 409 for a hold
    refused, 503 if not applied. The decision log records who (the token's name)
    did what to which target; `told` goes into the answer."""
    service = _service(request)
    by = service.tokens.name(request.headers.get("authorization"))
    try:
        entry = await act(service.pipeline, by)
    except LookupError as exc:
        return _json({"error": str(exc).strip("'")}, 404)
    except HoldRefused as exc:
        return _json({"error": str(exc)}, 409)
    service.pipeline.decisions.attribute(entry, by=by, action=endpoint, target=target)
    if "unavailable" in entry:
        return _unavailable(service, endpoint, entry["unavailable"], {"decision": entry})
    return _json({"status": "ok", **(told or {}), "decision": entry})


async def _reload(request: Request) -> Response:
    service = _service(request)
    body = await _guarded(request, "reload")
    if isinstance(body, Response):
        return body
    problems = await service.reload("api")
    if problems:
        return _json({"status": "error", "problems": problems}, 400)
    return _json({"status": "ok", "runbook": service.pipeline.runbook.source})


async def _openapi(request: Request) -> Response:
    return Response(document(), 200, media_type=JSON)


async def _metrics(request: Request) -> Response:
    return Response(
        generate_latest(_service(request).metrics.registry), 200, media_type=CONTENT_TYPE_LATEST
    )


async def _healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def _readyz(request: Request) -> Response:
    """Ready: this replica can serve (on Kubernetes: its pod cache is synced), leader or not."""
    service = _service(request)
    ready, why = service.ready()
    body = {"status": "ready" if ready else "not ready", "detail": why, "leader": service.leading}
    return _json(body, 200 if ready else 503)
