"""The console's routes: the overview, a pod, a supervisor, the filtered decision log.

Read-only and unauthenticated like the status API they render. Each page
takes `?fragment=live` for its live region only (see page.py). The decisions
API takes the same filters as the decision-log page.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from receiver.decide.tree import chain_for, pod_labels
from receiver.model import PodKey
from receiver.report.decisions import KEPT
from receiver.report.gauges import Reading
from receiver.report.holds import covering
from receiver.report.query import DecisionQuery, kind
from receiver.report.status import status
from receiver.service.page import render
from receiver.service.runtime import Service

DEFAULT_PAGE = 100
MAX_PAGE = 2000
"""GET /api/v1/decisions returns at most this many entries per call (limit, default 100)."""
CONSOLE_DECISIONS = 25
PAGE_DECISIONS = 200
STATUS_DECISIONS = 20


def routes() -> list[Route]:
    return [
        Route("/", overview, methods=["GET"]),
        Route("/decisions", decision_log, methods=["GET"]),
        Route("/pods/{namespace}/{pod}", pod_page, methods=["GET"]),
        Route("/supervisors/{name}", supervisor_page, methods=["GET"]),
        Route("/api/v1/decisions", decisions_api, methods=["GET"]),
        Route("/api/v1/status", status_api, methods=["GET"]),
    ]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _read(
    request: Request, reading: Reading | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The status (of `reading`, or of now) and the whole decision log (oldest first)."""
    service = _service(request)
    history = service.pipeline.decisions.since(0)
    reading = reading or service.reading()
    return status(reading, history[-STATUS_DECISIONS:], history), history


def _query(request: Request) -> DecisionQuery:
    query = DecisionQuery.from_params(request.query_params)
    # Entries name pods: a fleet or supervisor matches the pods it holds now.
    if query.fleet:
        query = replace(query, fleet_pods=_fleet_pods(_service(request), query.fleet))
    if query.supervisor:
        query = replace(query, supervisor_pods=_pods_under(_service(request), query.supervisor))
    return query


def _fleet_pods(service: Service, fleet: str) -> frozenset[str]:
    snapshot = service.pipeline.cluster.snapshot()
    return frozenset(
        str(pod.key)
        for pod in snapshot.pods.values()
        if (str(pod.owner) if pod.owner else str(pod.key)) == fleet
    )


def _pods_under(service: Service, supervisor: str) -> frozenset[str]:
    runbook = service.pipeline.runbook
    return frozenset(
        str(pod.key)
        for pod in service.pipeline.cluster.snapshot().pods.values()
        if any(s.name == supervisor for s in chain_for(runbook, pod_labels(pod)))
    )


def _page(
    request: Request,
    template: str,
    data: dict[str, Any],
    decisions: list[dict[str, Any]],
    query: DecisionQuery,
    **extra: Any,
) -> Response:
    fragment = request.query_params.get("fragment") == "live"
    html = render(
        template, status=data, decisions=decisions, query=query, fragment=fragment, **extra
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def overview(request: Request) -> Response:
    data, history = _read(request)
    # Noise (re-deliveries, resolved alerts) would push an escalation out of
    # sight in seconds: the overview lists what acted, held or escalated.
    shown = [e for e in history if kind(e) != "nothing"][-CONSOLE_DECISIONS:]
    return _page(request, "console.html", data, shown, DecisionQuery())


async def decision_log(request: Request) -> Response:
    data, history = _read(request)
    query = _query(request)
    options = {
        "fleet": [f["fleet"] for f in data["fleets"]],
        "rule": data["runbook"]["rules"],
        "supervisor": [v["name"] for v in data["supervisors"]],
        "namespace": sorted({f["fleet"].split("/", 1)[0] for f in data["fleets"]}),
    }
    return _page(
        request, "decisions.html", data, query.select(history, PAGE_DECISIONS), query,
        options=options, kept=KEPT,
    )  # fmt: skip


async def pod_page(request: Request) -> Response:
    pod_key = PodKey(request.path_params["namespace"], request.path_params["pod"])
    key = str(pod_key)
    reading = _service(request).reading()
    data, history = _read(request, reading)
    query = DecisionQuery(pod=key)
    pod = next((p for p in data["pods"] if p["pod"] == key), None)
    return _page(
        request, "pod.html", data, query.select(history, PAGE_DECISIONS), query,
        key=key, pod=pod, holds=_holds_on_pod(reading, pod_key),
    )  # fmt: skip


def _holds_on_pod(reading: Reading, key: PodKey) -> list[dict[str, Any]]:
    """The holds in force on the pod, its workload or a supervisor above it."""
    snapshot, now = reading.snapshot, reading.now
    pod = snapshot.pods.get(key)
    if pod is None:
        return covering(snapshot, now, pod=key, owner=None, supervisors=())
    chain = chain_for(reading.runbook, pod_labels(pod))
    above = [s.name for s in chain]
    return covering(snapshot, now, pod=key, owner=pod.owner, supervisors=above)


async def supervisor_page(request: Request) -> Response:
    name = request.path_params["name"]
    reading = _service(request).reading()
    data, history = _read(request, reading)
    found = {v["name"]: v for v in data["supervisors"]}
    if name not in found:
        return HTMLResponse(f"no supervisor named {html.escape(repr(name))}", 404)
    children = [v for v in data["supervisors"] if v["parent"] == name]
    above, parent = [name], found[name]["parent"]
    while parent is not None and parent in found and parent not in above:
        above.append(parent)
        parent = found[parent]["parent"]
    held = covering(reading.snapshot, reading.now, pod=None, owner=None, supervisors=above)
    query = DecisionQuery(supervisor=name, supervisor_pods=_pods_under(_service(request), name))
    return _page(
        request, "supervisor.html", data, query.select(history, PAGE_DECISIONS), query,
        sup=found[name], children=children, holds=held,
    )  # fmt: skip


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code, media_type="application/json")


async def decisions_api(request: Request) -> Response:
    """The oldest `limit` entries after `since` that match the filters, and a cursor.

    `next` is the id to ask `since` next time and `more` whether matching
    entries are left, so a client polling with the last cursor misses
    nothing, however many decisions a storm makes between two polls.
    """
    service = _service(request)
    params = request.query_params
    after = _whole(params.get("since", "0"), 0)
    limit = _whole(params.get("limit", str(DEFAULT_PAGE)), 1)
    if after is None or limit is None:
        field = "since" if after is None else "limit"
        found = params.get(field, "")[:40]
        wanted = f"a whole number from {0 if field == 'since' else 1} to 2^63-1"
        return _json({"error": f"{field}: found {found!r}, expected {wanted}", "field": field}, 400)
    limit = min(limit, MAX_PAGE)
    newer = service.pipeline.decisions.since(after)
    query = _query(request)
    matching = [e for e in newer if query.matches(e)] if query.active else newer
    entries, more = matching[:limit], len(matching) > limit
    # Without more to come every newer entry was looked at, matching or not.
    last = entries[-1]["id"] if more else (newer[-1]["id"] if newer else after)
    return _json({"decisions": entries, "next": last, "more": more})


def _whole(text: str, least: int) -> int | None:
    """A query parameter as a whole number from `least` to 2^63-1 (what `next` can carry)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    value = int(text)
    return value if least <= value < 1 << 63 else None


async def status_api(request: Request) -> Response:
    data, _ = _read(request)
    return _json(data)
