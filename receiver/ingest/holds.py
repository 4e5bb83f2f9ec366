"""A request to hold automation off something, read and checked whole (POST /api/v1/holds).

    {"pod": "shop/checkout-0"}             one of pod, workload, supervisor
    {"workload": "shop/Deployment/checkout"}
    {"supervisor": "shop"}
    "for": "2h"  or  "until": "2026-12-04T08:00:00Z"   one of the two, at most MAX_HOLD ahead
    "reason": "investigating the leak"      required
    "author": "alice"                        optional: who, when the token is shared

The author recorded is the token's name, with the given author before it
(`alice via ops`), so the person is told and the token that vouched is too.
Every fault is a PayloadInvalid naming the field and what was expected;
nothing is held unless the whole request is good.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from receiver.ingest.payload import PayloadInvalid, need_object, need_str, parse_json
from receiver.model import MAX_HOLD, Hold, HoldKind, Instant
from receiver.runbook.quantities import DURATION_HINT, format_duration, parse_duration

MAX_REASON = 1024
MAX_AUTHOR = 128
MAX_TARGET = 512
_FIELDS = frozenset({"pod", "workload", "supervisor", "for", "until", "reason", "author"})


def parse_hold(
    body: bytes,
    *,
    hold_id: str,
    token_name: str,
    supervisors: Collection[str],
    now: Instant,
) -> Hold:
    request = need_object(parse_json(body), "")
    unknown = sorted(set(request) - _FIELDS)
    if unknown:
        raise PayloadInvalid(unknown[0], "an unknown field", f"only {', '.join(sorted(_FIELDS))}")
    kind, target = _target(request, supervisors)
    return Hold(
        id=hold_id,
        kind=kind,
        target=target,
        reason=_bounded(request.get("reason"), "reason", MAX_REASON),
        author=_author(request.get("author"), token_name),
        created=now,
        expires=_expires(request, now),
    )


def _target(request: Mapping[str, Any], supervisors: Collection[str]) -> tuple[HoldKind, str]:
    given = [kind for kind in HoldKind if kind.value in request]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise PayloadInvalid("pod", found, "exactly one of pod, workload, supervisor")
    kind = given[0]
    text = _bounded(request[kind.value], kind.value, MAX_TARGET)
    if kind is HoldKind.SUPERVISOR:
        if text not in supervisors:
            known = ", ".join(sorted(supervisors)) or "none"
            raise PayloadInvalid("supervisor", text, f"a supervisor of the runbook ({known})")
        return kind, text
    parts = text.split("/")
    if kind is HoldKind.POD and (len(parts) != 2 or not all(parts)):
        raise PayloadInvalid("pod", text, "NAMESPACE/NAME")
    if kind is HoldKind.WORKLOAD:
        if len(parts) != 3 or not all(parts):
            raise PayloadInvalid("workload", text, "NAMESPACE/KIND/NAME, e.g. shop/Deployment/web")
        parts[1] = parts[1].lower()  # as a Workload prints itself, what the guard compares
    return kind, "/".join(parts)


def _expires(request: Mapping[str, Any], now: Instant) -> Instant:
    if ("for" in request) == ("until" in request):
        raise PayloadInvalid("for", "both" if "for" in request else "neither", "one of for, until")
    if "for" in request:
        text = need_str(request["for"], "for")
        seconds = parse_duration(text)
        if seconds is None or seconds <= 0:
            raise PayloadInvalid("for", text, f"a {DURATION_HINT}, more than 0")
        field, expires = "for", now + seconds
    else:
        field, expires = "until", _time(need_str(request["until"], "until"))
        if expires <= now:
            raise PayloadInvalid("until", request["until"], "a time in the future")
    if not math.isfinite(expires) or expires - now > MAX_HOLD:
        raise PayloadInvalid(
            field,
            request[field],
            f"at most {format_duration(MAX_HOLD)} ahead (holds expire; set a new one then)",
        )
    return expires


def _time(text: str) -> Instant:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise PayloadInvalid(
            "until", text, "an RFC 3339 time with a zone, e.g. 2026-12-04T08:00:00Z"
        )
    return at.timestamp()


def _bounded(value: object, field: str, most: int) -> str:
    text = need_str(value, field).strip()
    if not text:
        raise PayloadInvalid(field, value, "a non-empty string")
    if len(text) > most:
        raise PayloadInvalid(field, f"{len(text)} characters", f"at most {most}")
    return text


def _author(value: object, token_name: str) -> str:
    if value is None:
        return token_name
    given = _bounded(value, "author", MAX_AUTHOR)
    return given if given == token_name else f"{given} via {token_name}"
