"""How remembered state is written down: pod annotations and one state object.

The same encoding serves the in-memory cluster and the Kubernetes adapter,
so a pod's lifecycle reads the same wherever it was written. Decoding is
forgiving: state a human mangled reads as a fresh lifecycle (and says so),
never as an exception in the middle of a decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
WATCHES_KEY = "watches"  # its key for the open outcomes of disruptive actions (model/watch.py)
BUDGETS = "budgets"  # what StateCorrupt.part names for workloads, supervisors and recentActions


_T = TypeVar("_T")


class StateCorrupt(ValueError):
    """Stored state that cannot be read back; the caller starts fresh and logs it.

    `part` names what of the state object did not read (BUDGETS, HOLDS_KEY,
    WATCHES_KEY), empty for a pod's lifecycle annotation.
    """

    def __init__(self, message: str, part: str = "") -> None:
        super().__init__(message)
        self.part = part


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


@dataclass(frozen=True)
class StoredState:
    """Everything the state object remembers: the workloads' lifecycles, the
    supervisors' budgets, the recent actions, the operators' holds and the
    open watches (a pod's own lifecycle lives in its annotations)."""

    workloads: Mapping[Workload, Lifecycle] = field(default_factory=dict)
    supervisors: Mapping[str, SupervisorState] = field(default_factory=dict)
    recent_actions: tuple[Instant, ...] = ()
    holds: tuple[Hold, ...] = ()
    watches: Mapping[Target, tuple[Watch, ...]] = field(default_factory=dict)


def encode_state(state: StoredState) -> dict[str, str]:
    """The state object's data (a ConfigMap's `data` in Kubernetes); `holds` only when any."""
    data = {
        "workloads": json.dumps(
            [
                {"namespace": w.namespace, "kind": w.kind, "name": w.name, **_body(lc)}
                for w, lc in sorted(state.workloads.items())
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
                for name, s in sorted(state.supervisors.items())
            },
            separators=(",", ":"),
        ),
        "recentActions": json.dumps(list(state.recent_actions)),
    }
    if state.holds:
        data[HOLDS_KEY] = encode_holds(state.holds)
    data[WATCHES_KEY] = _encode_watches(state.watches)
    return data


def decode_state(
    data: Mapping[str, str], on_corrupt: Callable[[StateCorrupt], object] | None = None
) -> StoredState:
    """`encode_state` read back; a part missing reads as empty.

    A part that does not read raises StateCorrupt, or, given `on_corrupt`,
    is passed to it and reads as empty: the budgets (workloads, supervisors,
    recent actions) together, the holds and the watches each on their own.
    """
    budgets = _part(_decode_budgets, data, on_corrupt)
    workloads, supervisors, recent = budgets or ({}, {}, ())
    holds = _part(_decode_holds, data, on_corrupt) or ()
    watches = _part(_decode_watches, data, on_corrupt) or {}
    return StoredState(workloads, supervisors, recent, holds, watches)


def _part(
    decode: Callable[[Mapping[str, str]], _T],
    data: Mapping[str, str],
    on_corrupt: Callable[[StateCorrupt], object] | None,
) -> _T | None:
    """One part of the state object; None when it does not read and `on_corrupt` took that."""
    try:
        return decode(data)
    except StateCorrupt as exc:
        if on_corrupt is None:
            raise
        on_corrupt(exc)
        return None


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


def _decode_holds(data: Mapping[str, str]) -> tuple[Hold, ...]:
    try:
        return tuple(hold_from(item) for item in json.loads(data.get(HOLDS_KEY, "[]")))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise StateCorrupt(f"state object, {HOLDS_KEY}: {exc}", HOLDS_KEY) from exc


def _decode_budgets(
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
        raise StateCorrupt(f"state object: {exc}", BUDGETS) from exc
    return workloads, supervisors, recent


def _encode_watches(watches: Mapping[Target, tuple[Watch, ...]]) -> str:
    items = [
        {**_target_body(target), "watches": [_watch_body(w) for w in kept]}
        for target, kept in sorted(watches.items(), key=lambda item: str(item[0]))
        if kept
    ]
    return json.dumps(items, separators=(",", ":"))


def _decode_watches(data: Mapping[str, str]) -> dict[Target, tuple[Watch, ...]]:
    try:
        return {
            _target(item): tuple(_watch(w) for w in item["watches"])
            for item in json.loads(data.get(WATCHES_KEY, "[]"))
        }
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise StateCorrupt(f"state object, {WATCHES_KEY}: {exc}", WATCHES_KEY) from exc


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
