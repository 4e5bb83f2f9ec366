"""The HTTP face of the fake: the Kubernetes REST paths for the kinds in `kinds`, on Starlette.

Paths: /api/v1[/namespaces/{ns}]/{resource}[/{name}[/eviction]] and the same under
/apis/{group}/{version}. Every error is a `Status` body. Success codes follow the real
handlers: create 201 (eviction too: the create handler answers 201 and fills a zero
Status.code with it, staging/.../endpoints/handlers/create.go), get/list/update/patch/delete
200. Pods come back from DELETE as the object; other kinds as a Success Status, as in the
registry's ReturnDeletedObject. Query parameters the fake does not model (dryRun,
sendInitialEvents) are refused with 400 rather than silently ignored. `limit` pages a list as
the real server does (`continue` and `remainingItemCount`); a continued page reads the objects
as they are now, not as of the first page (etcd would serve that snapshot).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .cluster import FakeCluster
from .discovery import check_eviction_version, core_resources, policy_group
from .kinds import (
    JSON,
    POD,
    TOKENREVIEW,
    ApiError,
    Kind,
    bad_request,
    find_kind,
    internal,
    success,
)
from .selectors import FieldSelector, LabelSelector, SelectorError
from .tokens import TokenReviews
from .traffic import Faults, RequestInfo, RequestLog, request_info
from .watch import Subscription, WatchFilter, WatchStream

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_UNMODELLED = ("dryRun", "sendInitialEvents")


def _not_found() -> ApiError:
    return ApiError(404, "the server could not find the requested resource")


def _error(err: ApiError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return JSONResponse(err.status(), status_code=err.code, headers=headers)


def _query(request: Request) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, value)
    return query


class FakeApiServer:
    def __init__(
        self, cluster: FakeCluster, *, token: str | None = None, eviction_version: str = "policy/v1"
    ) -> None:
        self.cluster = cluster
        # The Eviction version served: policy/v1 (1.22+), or policy/v1beta1 only (older).
        self.eviction_version = eviction_version
        self.tokens = TokenReviews(lambda namespace, name: cluster.find(POD, namespace, name))
        self.faults = Faults()
        self.requests = RequestLog()
        self.token = token
        # Exceptions the fake did not mean to raise: bugs in it. The harness fails on them.
        self.errors: list[BaseException] = []
        self._closing = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=_METHODS)])

    def close(self) -> None:
        """Wake every injected delay so the server can stop; safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._closing.set)

    async def _endpoint(self, request: Request) -> Response | WatchStream:
        self._loop = asyncio.get_running_loop()
        query = _query(request)
        path, method = request.url.path, request.method
        info = request_info(method, path, query)
        try:
            response = await self._serve(request, info, query)
        except ApiError as err:
            response = _error(err)
        except ClientDisconnect:
            # The client gave up (its timeout) before the request was read; nobody will see
            # this answer, and the log keeps nginx's code for it.
            response = Response(status_code=499)
        except Exception as exc:
            self.errors.append(exc)
            response = _error(internal(f"the fake API server failed: {exc!r}"))
        content_type = request.headers.get("content-type", "")
        self.requests.record(
            info,
            method=method,
            path=path,
            query=query,
            content_type=content_type,
            status=response.status_code,
        )
        return response

    async def _serve(
        self, request: Request, info: RequestInfo, query: Mapping[str, str]
    ) -> Response | WatchStream:
        authorization = request.headers.get("authorization")
        if self.token is not None and authorization != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized")
        body = await _body(request) if request.method != "GET" else None
        fault = self.faults.take(request.method, request.url.path)
        if fault is not None:
            if fault.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
            if fault.status is not None:
                message = fault.message or f"injected fault: {fault.status}"
                raise ApiError(fault.status, message, retry_after=fault.retry_after)
        if not info.is_resource:
            return self._discovery(request.method, request.url.path.rstrip("/"))
        kind = find_kind(info.api_group, info.api_version, info.resource)
        if kind is None or (info.namespace and not kind.namespaced):
            raise _not_found()
        for name in _UNMODELLED:
            if name in query:
                raise bad_request(f"{name} is not supported by the fake API server")
        return self._dispatch(kind, info, query, request.headers.get("content-type", ""), body)

    def _dispatch(
        self, kind: Kind, info: RequestInfo, query: Mapping[str, str], content_type: str, body: Any
    ) -> Response | WatchStream:
        ns, name, cluster = info.namespace, info.name, self.cluster
        if kind == TOKENREVIEW:
            if info.verb != "create" or name:
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            return JSONResponse(self.tokens.review(_object(body)), status_code=201)
        if info.subresource:
            if kind == POD and info.subresource == "eviction" and info.verb == "create":
                eviction = _object(body)
                # eviction.go refuses it, an absent name included.
                if (eviction.get("metadata") or {}).get("name") != name:
                    raise bad_request("name in URL does not match name in Eviction object")
                check_eviction_version(eviction, self.eviction_version)
                cluster.evict(ns, name, eviction.get("deleteOptions"))
                return JSONResponse(success(201), status_code=201)
            if kind == POD and info.subresource == "status" and info.verb == "patch":
                media = content_type.split(";")[0].strip().lower()
                return JSONResponse(cluster.patch_status(ns, name, media, body))
            raise _not_found()
        if kind.namespaced and not ns and info.verb not in ("list", "watch"):
            raise _not_found()
        match info.verb:
            case "list":
                return self._list(kind, ns, query)
            case "watch":
                return self._watch(kind, ns, name, query)
            case "get":
                return JSONResponse(cluster.get(kind, ns, name))
            case "create":
                return JSONResponse(cluster.create(kind, ns, _object(body)), status_code=201)
            case "update":
                return JSONResponse(cluster.replace(kind, ns, name, _object(body)))
            case "patch":
                media = content_type.split(";")[0].strip().lower()
                return JSONResponse(cluster.patch(kind, ns, name, media, body))
            case "delete":
                options = dict(body) if isinstance(body, dict) else {}
                if "gracePeriodSeconds" in query:
                    options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
                gone = cluster.delete_with(kind, ns, name, options)
                if kind == POD:
                    return JSONResponse(gone)
                meta = gone["metadata"]
                details = {"name": name, "group": kind.group, "kind": kind.resource}
                return JSONResponse(success(200, details | {"uid": meta["uid"]}))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _discovery(self, method: str, path: str) -> Response:
        if method == "GET" and path == "/api/v1":
            return JSONResponse(core_resources(self.eviction_version))
        if method == "GET" and path == "/apis/policy":
            return JSONResponse(policy_group(self.eviction_version))
        raise _not_found()

    def _list(self, kind: Kind, ns: str, query: Mapping[str, str]) -> Response:
        labels, fields = _selectors(kind, query)
        items, rv = self.cluster.objects(kind, ns, labels, fields)
        metadata: JSON = {"resourceVersion": str(rv)}
        if "limit" in query:
            items, rv, metadata = _page(items, rv, query)
        for item in items:  # typed lists carry kind and apiVersion once, not per item
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return JSONResponse(
            {
                "kind": f"{kind.kind}List",
                "apiVersion": kind.api_version,
                "metadata": metadata,
                "items": items,
            }
        )

    def _watch(self, kind: Kind, ns: str, name: str, query: Mapping[str, str]) -> WatchStream:
        labels, fields = _selectors(kind, query)
        if name:  # the legacy /watch-a-named-object form is a field selector on the name
            fields = FieldSelector((*fields.terms, ("metadata.name", True, name)))
        text = query.get("resourceVersion", "")
        try:
            since = None if text in ("", "0") else int(text)
            timeout = float(query["timeoutSeconds"]) if "timeoutSeconds" in query else None
        except ValueError as exc:
            raise bad_request(f"invalid watch parameter: {exc}") from exc
        bookmarks = query.get("allowWatchBookmarks", "").lower() in ("true", "1")
        flt = WatchFilter(kind, ns, labels, fields)
        sub = Subscription(asyncio.get_running_loop())
        try:
            backlog = self.cluster.subscribe(sub, kind, since)
        except ApiError as err:
            return WatchStream(self.cluster, None, [], flt, error=err.status())
        return WatchStream(self.cluster, sub, backlog, flt, timeout=timeout, bookmarks=bookmarks)


def _page(items: list[JSON], rv: int, query: Mapping[str, str]) -> tuple[list[JSON], int, JSON]:
    """One page of a list, in (namespace, name) order, and its list metadata."""
    try:
        limit = int(query["limit"])
        token = json.loads(base64.b64decode(query["continue"])) if query.get("continue") else {}
    except ValueError as exc:
        raise bad_request(f"invalid paging parameter: {exc}") from exc
    rv = int(token.get("rv", rv))
    ordered = sorted(items, key=_position)
    start = token.get("start")
    if start is not None:
        ordered = [i for i in ordered if _position(i) > tuple(start)]
    if limit <= 0 or len(ordered) <= limit:
        return ordered, rv, {"resourceVersion": str(rv)}
    page = ordered[:limit]
    after = {"rv": rv, "start": list(_position(page[-1]))}
    metadata: JSON = {
        "resourceVersion": str(rv),
        "continue": base64.b64encode(json.dumps(after).encode()).decode(),
        "remainingItemCount": len(ordered) - limit,
    }
    return page, rv, metadata


def _position(item: JSON) -> tuple[str, str]:
    meta = item.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


def _selectors(kind: Kind, query: Mapping[str, str]) -> tuple[LabelSelector, FieldSelector]:
    try:
        labels = LabelSelector.parse(query.get("labelSelector"))
        fields = FieldSelector.parse(query.get("fieldSelector"), kind.kind)
    except SelectorError as exc:
        raise bad_request(str(exc)) from exc
    return labels, fields


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


def _object(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body
