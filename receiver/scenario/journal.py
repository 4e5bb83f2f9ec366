"""The signal journal's format: what the service writes (service/journal.py), what replay reads.

One JSON object per line, each with a `type`:

- `start`: the first line of every file (a fresh start or a rotation): the
  format version, the tick interval, every pod's facts, each workload's
  newest revision (`rollouts`) and the receiver's remembered state (pod
  lifecycles, supervisor budgets, workload state, operator holds, open
  outcome watches), so each file can be replayed alone;
- `fleet`: pod facts that changed since the last line (`set`: pods added or
  changed, `gone`: pods removed), each with the `cause` when it is the
  receiver's own doing (a pod it evicted, a workload it rollout-restarted,
  a readiness flip that followed its own gate write: `drain`, `pause` or
  `restore` and the pod), and the workloads whose newest revision changed
  (`rollouts`);
- `batch`: signals that arrived together (one webhook, one heartbeat push,
  one round of missed deadlines), with the decision made for each;
- `tick`: the passing of time, when it decided something;
- `human`: a resume, a reset, a hold set (the whole hold) or lifted (its
  id), with who asked (`by`, the admin token's name), and what it decided.

A pod's facts are what decisions read of it: namespace, name, labels (the
traffic label aside: it is the receiver's own), owner, uid, readiness,
terminating, start and creation times, and its revision (the badRollout
guard compares it with its workload's newest). A pod that declares the
receiver's readiness gate has the gate's status too (`gate`), written with
the pod's other facts but not a change by itself: decisions read readiness,
which the gate is part of, and replay needs the gate to tell readiness the
receiver made (by its own gate writes, which replay derives from its own
decisions) from readiness the pod reported. A signal keeps source, name,
status, labels, fingerprint and times; its annotations (free text) are
not kept, as decisions never read them. No token or credential is ever
written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from receiver.cluster.codec import (
    StateCorrupt,
    StoredState,
    decode_lifecycle,
    decode_state,
    encode_lifecycle,
    encode_state,
    hold_from,
    hold_item,
)
from receiver.decide import ActionKind, Plan
from receiver.model import (
    Hold,
    Instant,
    Lifecycle,
    Pod,
    PodKey,
    Rollout,
    Signal,
    Snapshot,
    Source,
    Status,
    Workload,
    parse_pod_key,
)

VERSION = 1
GATED = frozenset({ActionKind.DRAIN, ActionKind.PAUSE, ActionKind.RESTORE})
"""Actions whose pod write sets the readiness gate of a pod that declares it (act/traffic.py,
in either drainBy): the readiness flip that follows is the receiver's own, its `cause`
the action and the pod (`drain shop/web-0`). A restart's is its eviction's."""


def gate_cause(cause: str | None) -> bool:
    """Whether a change's `cause` is a readiness flip that followed the receiver's gate write."""
    return cause is not None and cause.partition(" ")[0] in GATED


class JournalInvalid(ValueError):
    """A line that cannot be read: names the file, the line and what to do."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One decision as replay compares it: what it did, what it held and why, escalations."""

    actions: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    escalations: tuple[str, ...] = ()

    @property
    def acted(self) -> bool:
        return bool(self.actions)

    @property
    def held(self) -> bool:
        return bool(self.blocked) and not self.actions

    def __str__(self) -> str:
        parts = [*self.actions, *(f"held {b}" for b in self.blocked)]
        parts += [f"escalated {e}" for e in self.escalations]
        return "; ".join(parts) or "nothing"


def verdict(plan: Plan) -> Verdict:
    return Verdict(
        actions=tuple(
            f"{a.kind} {a.target}" + (" (dry-run)" if a.dry_run else "") for a in plan.actions
        ),
        blocked=tuple(f"{b.reason} {b.target}".strip() for b in plan.blocked),
        escalations=tuple(f"{e.supervisor} {e.cause}" for e in plan.escalations),
    )


def decided(plan: Plan) -> bool:
    """Whether a plan without a signal (a tick) changed anything: then it has a line, even
    one that changed state only (a probation passed, an outcome decided, a watch that saw
    its target whole), so replay ticks when it did."""
    return plan.changes_state or bool(
        plan.actions or plan.blocked or plan.escalations or plan.followups
    )


# -- records ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    at: Instant
    tick: float
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class FleetChange:
    at: Instant
    set: tuple[tuple[Pod, str | None], ...] = ()  # (pod, cause)
    gone: tuple[tuple[PodKey, str | None], ...] = ()
    rollouts: tuple[tuple[Workload, Rollout | None], ...] = ()  # None: no longer known


@dataclass(frozen=True, slots=True)
class Batch:
    at: Instant
    signals: tuple[Signal, ...]
    verdicts: tuple[Verdict, ...]  # one per signal decided (fewer when the cluster failed)


@dataclass(frozen=True, slots=True)
class Tick:
    at: Instant
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Human:
    """One human request: exactly one of resume, reset, hold and unhold is given."""

    at: Instant
    resume: PodKey | None
    reset: str | None
    verdict: Verdict
    hold: Hold | None = None
    unhold: str | None = None  # the id of the hold lifted
    by: str | None = None  # the admin token's name; None in journals from before it was kept

    @property
    def subject(self) -> str:
        if self.resume is not None:
            what = f"resume {self.resume}"
        elif self.hold is not None:
            what = f"hold {self.hold.subject} ({self.hold.id})"
        elif self.unhold is not None:
            what = f"unhold {self.unhold}"
        else:
            what = f"reset {self.reset}"
        return what if self.by is None else f"{what} by {self.by}"


Record = Start | FleetChange | Batch | Tick | Human


@dataclass(frozen=True, slots=True)
class Line:
    """A record and where it was read (for messages)."""

    record: Record
    where: str = field(compare=False)


# -- writing ----------------------------------------------------------------


def dumps(record: Mapping[str, Any]) -> str:
    return _compact(record) + "\n"


def start_line(snapshot: Snapshot, at: Instant, tick: float, traffic_label: str) -> str:
    """The `start` line: the whole fleet and the receiver's state.

    Made by the journal's thread, so it is encoded a pod at a time: one
    encoder call over 100k pods (20 MB) would hold the interpreter lock,
    and the event loop with it, for a quarter of a second. Pods come in
    the cluster's order (sorting 100k of them is such a call too).
    """
    head = {
        "type": "start",
        "v": VERSION,
        "at": at,
        "tick": tick,
        "state": encode_state(
            StoredState(
                snapshot.workloads,
                snapshot.supervisors,
                snapshot.recent_actions,
                snapshot.holds,
                snapshot.watches,
            )
        ),
        "rollouts": rollouts_json(snapshot.rollouts.items()),
    }
    pods = ",".join(
        _compact(pod_json(p, traffic_label, lifecycle=True)) for p in snapshot.pods.values()
    )
    return f'{dumps(head)[:-2]},"pods":[{pods}]}}\n'


def _compact(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def rollouts_json(rollouts: Iterable[tuple[Workload, Rollout | None]]) -> list[dict[str, Any]]:
    """Workloads' newest revisions; `revision` null for one no longer known."""
    return [
        {
            "workload": list(workload),
            "revision": None if rollout is None else rollout.revision,
            "since": None if rollout is None else rollout.since,
        }
        for workload, rollout in sorted(rollouts, key=lambda item: item[0])
    ]


def human_json(
    at: Instant,
    *,
    resume: PodKey | None = None,
    reset: str | None = None,
    hold: Hold | None = None,
    unhold: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """A `human` line without its decision."""
    record: dict[str, Any] = {"type": "human", "at": at}
    if resume is not None:
        record["resume"] = str(resume)
    elif hold is not None:
        record["hold"] = hold_item(hold)
    elif unhold is not None:
        record["unhold"] = unhold
    else:
        record["reset"] = reset
    if by is not None:
        record["by"] = by
    return record


def facts(pod: Pod, traffic_label: str) -> tuple[Any, ...]:
    """What replay needs to know of a pod (compared to tell a change)."""
    labels = tuple(sorted((k, v) for k, v in pod.labels.items() if k != traffic_label))
    return (
        labels,
        pod.owner,
        pod.uid,
        pod.ready,
        pod.terminating,
        pod.started_at,
        pod.created_at,
        pod.revision,
    )


def pod_json(
    pod: Pod, traffic_label: str, *, lifecycle: bool = False, cause: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": pod.namespace,
        "name": pod.name,
        "labels": {k: v for k, v in pod.labels.items() if k != traffic_label},
        "owner": list(pod.owner) if pod.owner else None,
        "uid": pod.uid,
        "ready": pod.ready,
        "terminating": pod.terminating,
        "startedAt": pod.started_at,
        "createdAt": pod.created_at,
    }
    if pod.revision:
        out["revision"] = pod.revision
    if pod.gate is not None:
        out["gate"] = pod.gate
    if lifecycle and pod.lifecycle != Lifecycle():
        out["lifecycle"] = encode_lifecycle(pod.lifecycle)
    if cause:
        out["cause"] = cause
    return out


def signal_json(signal: Signal) -> dict[str, Any]:
    return {
        "source": str(signal.source),
        "name": signal.name,
        "status": str(signal.status),
        "labels": dict(signal.labels),
        "fingerprint": signal.fingerprint,
        "startsAt": signal.starts_at,
        "endsAt": signal.ends_at,
        "receivedAt": signal.received_at,
    }


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {
        "actions": list(v.actions),
        "blocked": list(v.blocked),
        "escalations": list(v.escalations),
    }


def batch_json(at: Instant, signals: Iterable[Signal], plans: Iterable[Plan]) -> dict[str, Any]:
    return {
        "type": "batch",
        "at": at,
        "signals": [signal_json(s) for s in signals],
        "decisions": [verdict_json(verdict(p)) for p in plans],
    }


# -- reading ----------------------------------------------------------------


def read(paths: Sequence[Path]) -> list[Line]:
    """Every record of the journal files, oldest file first (by its start line).

    A rotated journal is several files; which is older is read from their
    `start` lines, so they may be given in any order.
    """
    files = [list(_read_file(path)) for path in paths]
    files.sort(key=lambda lines: lines[0].record.at if lines else 0.0)
    return [line for lines in files for line in lines]


def _read_file(path: Path) -> Iterator[Line]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalInvalid(f"{path}: cannot read: {exc}") from exc
    lines = text.splitlines()
    for number, raw in enumerate(lines, 1):
        where = f"{path}:{number}"
        if not raw.strip():
            continue
        try:
            record = _record(json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError, StateCorrupt) as exc:
            last = number == len(lines) and not text.endswith("\n")
            if last:  # the receiver stopped mid-write: the line before is the end
                return
            raise JournalInvalid(
                f"{where}: not a journal record ({type(exc).__name__}: {exc}); "
                "give the journal files the receiver wrote, unedited "
                "(a damaged line can be deleted: replay then starts from the next `start` "
                "or continues without it)"
            ) from exc
        if number == 1 and not isinstance(record, Start):
            raise JournalInvalid(
                f"{where}: the first line is a {_kind(record)}, expected the `start` line "
                "every journal file begins with; was the file cut?"
            )
        yield Line(record, where)


def _kind(record: Record) -> str:
    return type(record).__name__.lower()


def _record(data: Any) -> Record:
    if not isinstance(data, dict):
        raise TypeError(f"found {type(data).__name__}, expected an object")
    kind = data["type"]
    at = float(data["at"])
    if kind == "start":
        if data.get("v") != VERSION:
            raise ValueError(f"format version {data.get('v')!r}, this receiver reads {VERSION}")
        return Start(at, float(data["tick"]), _snapshot(data))
    if kind == "fleet":
        return FleetChange(
            at,
            tuple((_pod(p), p.get("cause")) for p in data.get("set", ())),
            tuple((parse_pod_key(g["pod"]), g.get("cause")) for g in data.get("gone", ())),
            _rollouts(data.get("rollouts", ())),
        )
    if kind == "batch":
        return Batch(
            at,
            tuple(_signal(s) for s in data["signals"]),
            tuple(_verdict(v) for v in data["decisions"]),
        )
    if kind == "tick":
        return Tick(at, _verdict(data["decision"]))
    if kind == "human":
        resume = data.get("resume")
        key = parse_pod_key(resume) if resume else None
        hold = data.get("hold")
        by = data.get("by")
        return Human(
            at,
            key,
            data.get("reset"),
            _verdict(data["decision"]),
            hold=hold_from(hold) if hold is not None else None,
            unhold=str(data["unhold"]) if "unhold" in data else None,
            by=None if by is None else str(by),
        )
    raise ValueError(f"type {kind!r}, expected start, fleet, batch, tick or human")


def _snapshot(data: Mapping[str, Any]) -> Snapshot:
    pods = {}
    for item in data["pods"]:
        pod = _pod(item)
        if "lifecycle" in item:
            pod = _with_lifecycle(pod, decode_lifecycle(item["lifecycle"]))
        pods[pod.key] = pod
    state = decode_state(data.get("state", {}))
    rollouts = {w: r for w, r in _rollouts(data.get("rollouts", ())) if r is not None}
    return Snapshot(
        pods=pods,
        workloads=state.workloads,
        supervisors=state.supervisors,
        recent_actions=state.recent_actions,
        holds=state.holds,
        watches=state.watches,
        rollouts=rollouts,
    )


def _rollouts(items: Iterable[Mapping[str, Any]]) -> tuple[tuple[Workload, Rollout | None], ...]:
    out: list[tuple[Workload, Rollout | None]] = []
    for item in items:
        workload = Workload(*(str(part) for part in item["workload"]))
        revision = item.get("revision")
        since = _time(item.get("since"))
        out.append(
            (workload, None if revision is None else Rollout(revision=str(revision), since=since))
        )
    return tuple(out)


def _with_lifecycle(pod: Pod, lifecycle: Lifecycle) -> Pod:
    return replace(pod, lifecycle=lifecycle)


def _pod(item: Mapping[str, Any]) -> Pod:
    owner = item.get("owner")
    return Pod(
        namespace=str(item["namespace"]),
        name=str(item["name"]),
        labels={str(k): str(v) for k, v in item.get("labels", {}).items()},
        owner=Workload(*(str(o) for o in owner)) if owner else None,
        uid=str(item.get("uid", "")),
        ready=bool(item.get("ready", True)),
        terminating=bool(item.get("terminating", False)),
        started_at=_time(item.get("startedAt")),
        created_at=_time(item.get("createdAt")),
        revision=str(item.get("revision", "")),
        gate=_gate(item.get("gate")),
    )


def _gate(value: object) -> bool | None:
    """The readiness gate's status; None where the pod does not declare it (or the journal
    is from before gates were kept)."""
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"gate {value!r}, expected true, false or none")


def _signal(item: Mapping[str, Any]) -> Signal:
    return Signal(
        source=Source(item["source"]),
        name=str(item["name"]),
        status=Status(item["status"]),
        labels={str(k): str(v) for k, v in item["labels"].items()},
        fingerprint=str(item["fingerprint"]),
        starts_at=float(item["startsAt"]),
        ends_at=_time(item.get("endsAt")),
        received_at=float(item["receivedAt"]),
    )


def _verdict(item: Mapping[str, Any]) -> Verdict:
    return Verdict(
        actions=tuple(str(a) for a in item.get("actions", ())),
        blocked=tuple(str(b) for b in item.get("blocked", ())),
        escalations=tuple(str(e) for e in item.get("escalations", ())),
    )


def _time(value: object) -> Instant | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
