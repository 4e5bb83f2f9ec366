"""How remembered state is written down: pod annotations and one state object.

The same encoding serves the in-memory cluster and the Kubernetes adapter,
so a pod's lifecycle reads the same wherever it was written. Decoding is
forgiving: state a human mangled reads as a fresh lifecycle (and says so),
never as an exception in the middle of a decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from receiver.model import (
    Hold,
    HoldKind,
    Instant,
    Lifecycle,
    PodKey,
    PodState,
    SupervisorState,
    Target,
    Watch,
    Workload,
    encode_holds,
)

STATE_ANNOTATION = "remediation/state"  # human-readable: serving, drained, ...
LIFECYCLE_ANNOTATION = "remediation/lifecycle"  # the whole lifecycle, compact JSON
HOLDS_KEY = "holds"  # the state object's key for operator holds (model/hold.py)


class StateCorrupt(ValueError):
    """Stored state that cannot be read back; the caller starts fresh and logs it."""


def encode_lifecycle(lifecycle: Lifecycle) -> dict[str, str]:
    body: dict[str, Any] = {"state": str(lifecycle.state), "attempts": lifecycle.attempts}
    if lifecycle.rule is not None:
        body["rule"] = lifecycle.rule
    if lifecycle.until is not None:
        body["until"] = lifecycle.until
    if lifecycle.last_action_at is not None:
        body["lastActionAt"] = lifecycle.last_action_at
    if lifecycle.handled:
        body["handled"] = list(lifecycle.handled)
    if lifecycle.active:
        body["active"] = [[key, expires] for key, expires in lifecycle.active]
    if lifecycle.pending is not None:
        body["pending"] = lifecycle.pending
    return {
        STATE_ANNOTATION: str(lifecycle.state),
        LIFECYCLE_ANNOTATION: json.dumps(body, separators=(",", ":")),
    }


def decode_lifecycle(annotations: Mapping[str, str]) -> Lifecycle:
    """The lifecycle in a pod's annotations; a fresh one when there is none."""
    text = annotations.get(LIFECYCLE_ANNOTATION)
    if text is None:
        return Lifecycle()
    try:
        return _lifecycle(json.loads(text))
    except (ValueError, TypeError, KeyError, OverflowError) as exc:  # Overflow: attempts 1e999
        raise StateCorrupt(f"annotation {LIFECYCLE_ANNOTATION}: {exc}") from exc


def _lifecycle(body: Mapping[str, Any]) -> Lifecycle:
    return Lifecycle(
        state=PodState(body["state"]),
        rule=_optional_str(body.get("rule")),
        attempts=int(body.get("attempts", 0)),
        until=_optional_float(body.get("until")),
        last_action_at=_optional_float(body.get("lastActionAt")),
        handled=tuple(str(h) for h in body.get("handled", ())),
        active=tuple((str(k), float(e)) for k, e in body.get("active", ())),
        pending=_optional_str(body.get("pending")),
    )


def encode_state(
    workloads: Mapping[Workload, Lifecycle],
    supervisors: Mapping[str, SupervisorState],
    recent_actions: tuple[Instant, ...],
    holds: tuple[Hold, ...] = (),
) -> dict[str, str]:
    """The state object's data (a ConfigMap's `data` in Kubernetes); `holds` only when any."""
    data = {
        "workloads": json.dumps(
            [
                {"namespace": w.namespace, "kind": w.kind, "name": w.name, **_body(lc)}
                for w, lc in sorted(workloads.items())
            ],
            separators=(",", ":"),
        ),
        "supervisors": json.dumps(
            {
                name: {
                    "counted": list(s.counted),
                    "actions": list(s.actions),
                    "frozenUntil": s.frozen_until,
                    "escalations": s.escalations,
                }
                for name, s in sorted(supervisors.items())
            },
            separators=(",", ":"),
        ),
        "recentActions": json.dumps(list(recent_actions)),
    }
    if holds:
        data[HOLDS_KEY] = encode_holds(holds)
    return data


def hold_item(h: Hold) -> dict[str, Any]:
    """One hold as JSON (the state object's list, a journal's `human` line)."""
    return dict(h.item())


def hold_from(item: Mapping[str, Any]) -> Hold:
    """`hold_item` read back; ValueError, TypeError or KeyError when it is not one."""
    return Hold(
        id=str(item["id"]),
        kind=HoldKind(item["kind"]),
        target=str(item["target"]),
        reason=str(item["reason"]),
        author=str(item["author"]),
        created=float(item["created"]),
        expires=float(item["expires"]),
    )


def decode_holds(data: Mapping[str, str]) -> tuple[Hold, ...]:
    """The operator holds in the state object's data; none when it has none."""
    try:
        return tuple(hold_from(item) for item in json.loads(data.get(HOLDS_KEY, "[]")))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise StateCorrupt(f"state object, {HOLDS_KEY}: {exc}") from exc


def decode_state(
    data: Mapping[str, str],
) -> tuple[dict[Workload, Lifecycle], dict[str, SupervisorState], tuple[Instant, ...]]:
    try:
        workloads = {
            Workload(str(item["namespace"]), str(item["kind"]), str(item["name"])): _lifecycle(item)
            for item in json.loads(data.get("workloads", "[]"))
        }
        supervisors = {
            str(name): SupervisorState(
                counted=tuple(float(t) for t in s.get("counted", ())),
                actions=tuple(float(t) for t in s.get("actions", ())),
                frozen_until=_optional_float(s.get("frozenUntil")),
                escalations=int(s.get("escalations", 0)),
            )
            for name, s in json.loads(data.get("supervisors", "{}")).items()
        }
        recent = tuple(float(t) for t in json.loads(data.get("recentActions", "[]")))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise StateCorrupt(f"state object: {exc}") from exc
    return workloads, supervisors, recent


WATCHES_KEY = "watches"
"""The state object's key for the open outcomes of disruptive actions (model/watch.py)."""


def encode_watches(watches: Mapping[Target, tuple[Watch, ...]]) -> dict[str, str]:
    """The open watches, as one more entry of the state object's data."""
    items = [
        {**_target_body(target), "watches": [_watch_body(w) for w in kept]}
        for target, kept in sorted(watches.items(), key=lambda item: str(item[0]))
        if kept
    ]
    return {WATCHES_KEY: json.dumps(items, separators=(",", ":"))}


def decode_watches(data: Mapping[str, str]) -> dict[Target, tuple[Watch, ...]]:
    try:
        return {
            _target(item): tuple(_watch(w) for w in item["watches"])
            for item in json.loads(data.get(WATCHES_KEY, "[]"))
        }
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise StateCorrupt(f"state object, {WATCHES_KEY}: {exc}") from exc


def _target_body(target: Target) -> dict[str, str]:
    if isinstance(target, PodKey):
        return {"namespace": target.namespace, "pod": target.name}
    return {"namespace": target.namespace, "kind": target.kind, "name": target.name}


def _target(item: Mapping[str, Any]) -> Target:
    if "pod" in item:
        return PodKey(str(item["namespace"]), str(item["pod"]))
    return Workload(str(item["namespace"]), str(item["kind"]), str(item["name"]))


def _watch_body(watch: Watch) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rule": watch.rule,
        "action": watch.action,
        "pod": watch.pod,
        "at": watch.at,
        "until": watch.until,
        "supervisors": list(watch.supervisors),
    }
    if watch.healthy_at is not None:
        body["healthyAt"] = watch.healthy_at
    return body


def _watch(body: Mapping[str, Any]) -> Watch:
    return Watch(
        rule=str(body["rule"]),
        action=str(body["action"]),
        pod=str(body.get("pod", "")),
        at=float(body["at"]),
        until=float(body["until"]),
        supervisors=tuple(str(s) for s in body.get("supervisors", ())),
        healthy_at=_optional_float(body.get("healthyAt")),
    )


def _body(lifecycle: Lifecycle) -> dict[str, Any]:
    return dict(json.loads(encode_lifecycle(lifecycle)[LIFECYCLE_ANNOTATION]))


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
