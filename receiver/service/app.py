"""The HTTP API (Starlette): webhooks, heartbeats, status, metrics, admin.

Status codes follow the acknowledgement rule of the design: 200 once every
signal is decided and its plan applied; 400 for a payload that can never
succeed, naming the field; 401 without a valid bearer token; 413 over the
body limit; 503 while the cluster is failing, so Alertmanager re-delivers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from receiver.cluster import ClusterUnavailable, PodIdentity
from receiver.ingest import Beat, PayloadInvalid, parse_heartbeats, parse_webhook
from receiver.model import PodKey
from receiver.report.status import status
from receiver.service.auth import bearer
from receiver.service.page import render_status
from receiver.service.pipeline import Pipeline
from receiver.service.runtime import Service

JSON = "application/json"
RETRY = {"Retry-After": "5"}


class _TooLarge(Exception):
    pass


DEFAULT_PAGE = 100
MAX_PAGE = 2000
"""GET /api/v1/decisions returns at most this many entries per call (limit, default 100)."""


def create_app(service: Service) -> Starlette:
    routes = [
        Route("/api/v1/alerts", _alerts, methods=["POST"]),
        Route("/api/v1/heartbeats", _heartbeats, methods=["POST"]),
        Route("/api/v1/decisions", _decisions, methods=["GET"]),
        Route("/api/v1/status", _status, methods=["GET"]),
        Route("/api/v1/pods/{namespace}/{pod}/resume", _resume, methods=["POST"]),
        Route("/api/v1/supervisors/{name}/reset", _reset, methods=["POST"]),
        Route("/-/reload", _reload, methods=["POST"]),
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
        Route("/", _page, methods=["GET"]),
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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _guarded(
    request: Request, endpoint: str, *, heartbeat: bool = False, authorized: bool = False
) -> bytes | Response:
    """The body of an authorized request within the limit, or the refusal to send.

    Requests that make the receiver act are refused with 503 on a standby
    replica, so the sender tries again and reaches the leader.
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
    identity = await _pod_identity(request, service)
    if isinstance(identity, Response):
        return identity
    body = await _guarded(request, "heartbeats", heartbeat=True, authorized=identity is not None)
    if isinstance(body, Response):
        return body
    try:
        beats = parse_heartbeats(body)
    except PayloadInvalid as exc:
        return _invalid(service, "heartbeats", exc)
    if identity is not None:
        refused = _not_own(service, identity, beats, batch=body.lstrip().startswith(b"["))
        if refused is not None:
            return refused
    results, outcome = await service.pipeline.heartbeats(beats, service.clock())
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


async def _pod_identity(request: Request, service: Service) -> PodIdentity | Response | None:
    """With pod-bound tokens on: the pod a token that is not a shared one belongs to.

    None means "no pod identity": the shared tokens decide (in _guarded).
    """
    authorization = request.headers.get("authorization")
    if service.pod_tokens is None or service.heartbeat_tokens.allow(authorization):
        return None
    token = bearer(authorization)
    if token is None:
        return _unauthorized(service, "heartbeats")
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


async def _decisions(request: Request) -> Response:
    service = _service(request)
    try:
        after = int(request.query_params.get("since", "0"))
        limit = int(request.query_params.get("limit", str(DEFAULT_PAGE)))
    except ValueError:
        return _json({"error": "since and limit must be whole numbers", "field": "since"}, 400)
    entries, more = service.pipeline.decisions.page(after, max(1, min(limit, MAX_PAGE)))
    last = entries[-1]["id"] if entries else after
    return _json({"decisions": entries, "next": last, "more": more})


async def _status(request: Request) -> Response:
    service = _service(request)
    return _json(status(service.reading(), service.pipeline.decisions.latest(20)))


async def _page(request: Request) -> Response:
    service = _service(request)
    data = status(service.reading(), service.pipeline.decisions.latest(50))
    return HTMLResponse(render_status(data))


async def _resume(request: Request) -> Response:
    key = PodKey(request.path_params["namespace"], request.path_params["pod"])
    return await _operator(request, "resume", lambda pipeline: pipeline.resume(key))


async def _reset(request: Request) -> Response:
    name = request.path_params["name"]
    return await _operator(request, "reset", lambda pipeline: pipeline.reset(name))


async def _operator(
    request: Request, endpoint: str, act: Callable[[Pipeline], Awaitable[dict[str, Any]]]
) -> Response:
    """A human's action: admin token, 404 for what does not exist, 503 if not applied."""
    service = _service(request)
    body = await _guarded(request, endpoint)
    if isinstance(body, Response):
        return body
    try:
        entry = await act(service.pipeline)
    except LookupError as exc:
        return _json({"error": str(exc).strip("'")}, 404)
    if "unavailable" in entry:
        return _unavailable(service, endpoint, entry["unavailable"], {"decision": entry})
    return _json({"status": "ok", "decision": entry})


async def _reload(request: Request) -> Response:
    service = _service(request)
    body = await _guarded(request, "reload")
    if isinstance(body, Response):
        return body
    problems = service.reload("api")
    if problems:
        return _json({"status": "error", "problems": problems}, 400)
    return _json({"status": "ok", "runbook": service.pipeline.runbook.source})


async def _metrics(request: Request) -> Response:
    return Response(
        generate_latest(_service(request).metrics.registry), 200, media_type=CONTENT_TYPE_LATEST
    )


async def _healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def _readyz(request: Request) -> Response:
    ready, why = _service(request).ready()
    return _json(
        {"status": "ready" if ready else "not ready", "detail": why}, 200 if ready else 503
    )
