"""Operator holds at the HTTP edge: reading a request into a Hold, and listing them.

Setting (POST /api/v1/holds) and lifting (DELETE /api/v1/holds/{id}) are
admin calls like resume and reset (app.py): the admin token, only on the
leader (503 elsewhere, so the client tries again), and recorded in the
decision log with who asked (the token's name). Listing is read-only and
unauthenticated like the status API, which shows the holds too.
"""

from __future__ import annotations

import secrets

import orjson
from starlette.requests import Request
from starlette.responses import Response

from receiver.ingest.holds import parse_hold
from receiver.model import Hold
from receiver.report.holds import holds_json
from receiver.service.runtime import Service


def read(service: Service, body: bytes, authorization: str | None) -> Hold:
    """The hold a request asks for, with a fresh id; PayloadInvalid names what is wrong."""
    return parse_hold(
        body,
        hold_id=secrets.token_hex(4),
        token_name=service.tokens.name(authorization),
        supervisors=service.pipeline.runbook.by_name.keys(),
        now=service.clock(),
    )


async def list_holds(request: Request) -> Response:
    service: Service = request.app.state.service
    body = {"holds": holds_json(service.pipeline.cluster.snapshot(), service.clock())}
    return Response(orjson.dumps(body), 200, media_type="application/json")
