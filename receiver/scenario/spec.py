"""The runbook test file format (kind: RunbookTest), read with line numbers.

apiVersion: remediation/v1
kind: RunbookTest
runbook: shop.yaml                # relative to this file
tests:
  - name: one bad pod is drained, then restored
    interval: 10s                 # simulated evaluation step (default 10s)
    restartTime: 30s              # how long an evicted pod takes to come back
    fleet:
      - {deployment: checkout, namespace: shop, replicas: 10, labels: {app: checkout}}
      # a rollout part-way: every pod on revision a but checkout-0..2 on b, the newest
      # (made 2m before the test starts)
      - {deployment: web, namespace: shop, replicas: 4, revision: a,
         rollout: {revision: b, pods: ["web-{0..2}"], ago: 2m}}
    signals:
      - at: 0s
        alert: {alertname: PodErrorRatioOutlier, namespace: shop, pod: checkout-0}
    expect:
      - at: 0s
        actions: [drain shop/checkout-0]
      - at: 12m                   # what followed the drain (recovered, recurred, superseded)
        outcomes: [recovered drain shop/deployment/checkout]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from receiver.model import HeartbeatStatus, Status
from receiver.runbook import API_VERSION
from receiver.runbook.problems import Problem, RunbookInvalid
from receiver.runbook.reader import Node, Reader, compose, line_of
from receiver.runbook.yamltext import document_kind, source_text

KIND = "RunbookTest"
WORKLOAD_KINDS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
}

TOP = {
    "apiVersion": f'"{API_VERSION}"',
    "kind": f'"{KIND}"',
    "runbook": "the runbook file, relative to this file",
    "tests": "a list of tests",
}
CASE = {
    "name": "a test name",
    "interval": "a duration",
    "restartTime": "a duration",
    "fleet": "a list of workloads",
    "signals": "a list of signals at given times",
    "expect": "a list of expectations at given times",
    "totals": "a mapping of action kind (or escalations, or an outcome) to how many the whole "
    "test has",
}
FLEET = {
    **{k: "a workload name" for k in WORKLOAD_KINDS},
    "namespace": "a namespace",
    "replicas": "a whole number",
    "labels": "a mapping of labels",
    "notReady": "how many of its pods are not Ready",
    "revision": "every pod's revision (its pod-template-hash), like 7c9f8d6b5",
    "rollout": "a mapping {revision, pods, ago}: the newest revision and its pods",
}
ROLLOUT = {
    "revision": "the newest revision, like 5d4c3b2a1",
    "pods": "a list of pod names (or ranges like checkout-{0..2}) on the newest revision",
    "ago": "a duration: how long before the test starts the newest revision was made",
}
MAX_RANGE = 10_000
_RANGE = re.compile(r"(.*)\{(\d{1,5})\.\.(\d{1,5})\}(.*)")
TOTALS = {
    kind: "how many the whole test has"
    for kind in (
        "drain",
        "restore",
        "restart",
        "pause",
        "rolloutRestart",
        "notify",
        "escalations",
        "pauseRollout",
        "recovered",
        "recurred",
        "superseded",
    )
}
SIGNAL = {
    "at": "a time like 90s",
    "alert": "a mapping of alert labels",
    "heartbeat": "a mapping {namespace, pod, status}",
    "pods": "a list of pod names (or ranges like checkout-{0..59}), one signal each",
    "spread": "a duration: the pods' signals one after another, this far apart",
    "status": "firing or resolved",
    "startsAt": "a time like 90s",
    "resume": "a pod as namespace/name",
    "reset": "a supervisor name",
}
HEARTBEAT = {
    "namespace": "a namespace",
    "pod": "a pod name",
    "status": "ok, degraded, failing or missed",
}
EXPECT = {
    "at": "a time like 90s",
    "actions": 'a list like ["drain shop/checkout-0"]',
    "blocked": 'a list like ["max_unavailable shop/checkout-3"]',
    "escalations": 'a list like ["checkout intensity"]',
    "states": "a mapping of namespace/pod to state",
    "outcomes": 'a list like ["recovered restart shop/deployment/checkout"]',
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutSpec:
    revision: str
    pods: tuple[str, ...] = ()
    ago: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSpec:
    namespace: str
    kind: str
    name: str
    replicas: int
    labels: Mapping[str, str]
    not_ready: int = 0
    revision: str = ""
    rollout: RolloutSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalSpec:
    at: float
    line: int
    alert: Mapping[str, str] | None = None
    heartbeat: tuple[str, str, HeartbeatStatus] | None = None
    pods: tuple[str, ...] = ()
    spread: float = 0.0  # the pods' signals one after another, this far apart
    status: Status = Status.FIRING
    starts_at: float | None = None
    resume: str | None = None
    reset: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectSpec:
    at: float
    line: int
    actions: tuple[str, ...] | None = None
    blocked: tuple[str, ...] | None = None
    escalations: tuple[str, ...] | None = None
    states: Mapping[str, str] | None = None
    outcomes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    name: str
    line: int
    fleet: tuple[FleetSpec, ...]
    signals: tuple[SignalSpec, ...]
    expect: tuple[ExpectSpec, ...]
    interval: float = 10.0
    restart_time: float = 30.0
    # With totals, instants not named in `expect` are not compared one by one.
    totals: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TestFile:
    path: Path
    runbook: Path
    cases: tuple[Case, ...] = field(default_factory=tuple)


def is_test_file(text: str) -> bool:
    return document_kind(text) == KIND  # bounded: any file in a folder may be hostile


def load_test_file(path: Path) -> TestFile:
    node, problems = compose(source_text(path), str(path))
    if problems:
        raise RunbookInvalid(problems)
    if node is None:
        raise RunbookInvalid(
            [Problem(str(path), 1, "", f"found an empty document, expected a {KIND}")]
        )
    return _SpecReader(str(path)).test_file(node, path)


class _SpecReader:
    def __init__(self, file: str) -> None:
        self.r = Reader(file)

    def test_file(self, node: Node, path: Path) -> TestFile:
        r = self.r
        top = r.mapping(node, "", known=TOP, required=tuple(TOP))
        if top is None or len(top) < len(TOP):
            raise RunbookInvalid(r.problems)
        runbook = r.string(top["runbook"], "runbook", hint=TOP["runbook"])
        cases = r.items(top["tests"], "tests", TOP["tests"], self.case)
        if r.problems or runbook is None:
            raise RunbookInvalid(r.problems)
        return TestFile(path=path, runbook=path.parent / runbook, cases=cases)

    def case(self, node: Node, path: str) -> Case | None:
        r = self.r
        f = r.mapping(node, path, known=CASE, required=("name", "fleet", "signals"))
        if f is None or len(f.keys() & {"name", "fleet", "signals"}) < 3:
            return None
        name = r.string(f["name"], f"{path}.name", hint=CASE["name"])
        fleet = r.items(f["fleet"], f"{path}.fleet", CASE["fleet"], self.fleet)
        signals = r.items(f["signals"], f"{path}.signals", CASE["signals"], self.signal)
        expect = r.items(f.get("expect"), f"{path}.expect", CASE["expect"], self.expect)
        totals = self._totals(f["totals"], f"{path}.totals") if "totals" in f else None
        interval = r.duration(f["interval"], f"{path}.interval") if "interval" in f else 10.0
        restart = (
            r.duration(f["restartTime"], f"{path}.restartTime", allow_zero=True)
            if "restartTime" in f
            else 30.0
        )
        if name is None or interval is None or restart is None:
            return None
        return Case(
            name=name,
            line=line_of(node),
            fleet=fleet,
            signals=_spread_out(signals),
            totals=totals,
            expect=expect,
            interval=interval,
            restart_time=restart,
        )

    def fleet(self, node: Node, path: str) -> FleetSpec | None:
        r = self.r
        f = r.mapping(node, path, known=FLEET, required=("namespace", "replicas"))
        if f is None or "namespace" not in f or "replicas" not in f:
            return None
        kinds = [k for k in WORKLOAD_KINDS if k in f]
        if len(kinds) != 1:
            r.wrong(node, path, "exactly one of deployment, statefulset, daemonset")
            return None
        name = r.string(f[kinds[0]], f"{path}.{kinds[0]}")
        namespace = r.string(f["namespace"], f"{path}.namespace")
        replicas = r.integer(f["replicas"], f"{path}.replicas", minimum=1)
        labels = r.labels(f["labels"], f"{path}.labels") if "labels" in f else {}
        not_ready = r.integer(f["notReady"], f"{path}.notReady") if "notReady" in f else 0
        if name is None or namespace is None or replicas is None:
            return None
        revision = r.string(f["revision"], f"{path}.revision") if "revision" in f else ""
        rollout = self._rollout(f["rollout"], f"{path}.rollout") if "rollout" in f else None
        if labels is None or not_ready is None or revision is None:
            return None
        if "rollout" in f and rollout is None:
            return None
        return FleetSpec(
            namespace=namespace,
            kind=WORKLOAD_KINDS[kinds[0]],
            name=name,
            replicas=replicas,
            labels={k: v for k, (_, v) in labels.items()},
            not_ready=not_ready,
            revision=revision,
            rollout=rollout,
        )

    def _rollout(self, node: Node, path: str) -> RolloutSpec | None:
        r = self.r
        f = r.mapping(node, path, known=ROLLOUT, required=("revision",))
        if f is None or "revision" not in f:
            return None
        revision = r.string(f["revision"], f"{path}.revision", hint=ROLLOUT["revision"])
        names = r.items(f.get("pods"), f"{path}.pods", ROLLOUT["pods"], self._pod_names)
        ago = r.duration(f["ago"], f"{path}.ago", allow_zero=True) if "ago" in f else 0.0
        if revision is None or ago is None:
            return None
        return RolloutSpec(
            revision=revision, pods=tuple(name for group in names for name in group), ago=ago
        )

    def signal(self, node: Node, path: str) -> SignalSpec | None:
        r = self.r
        f = r.mapping(node, path, known=SIGNAL, required=("at",))
        if f is None or "at" not in f:
            return None
        at = r.duration(f["at"], f"{path}.at", allow_zero=True)
        kinds = [k for k in ("alert", "heartbeat", "resume", "reset") if k in f]
        if len(kinds) != 1:
            r.wrong(node, path, "exactly one of alert, heartbeat, resume, reset")
            return None
        out = SignalSpec(at=at or 0.0, line=line_of(node))
        allowed = {
            "alert": {"pods", "spread", "status", "startsAt"},
            "heartbeat": {"pods", "spread"},
        }.get(kinds[0], set())
        for extra in sorted(set(f) - {"at", kinds[0]} - allowed):
            r.problem(f[extra], f"{path}.{extra}", f"{extra} beside {kinds[0]}", "it alone")
        if len(set(f) - {"at", kinds[0]} - allowed):
            return None
        names = r.items(f.get("pods"), f"{path}.pods", SIGNAL["pods"], self._pod_names)
        pods = tuple(name for group in names for name in group)
        if "spread" in f:
            spread = r.duration(f["spread"], f"{path}.spread", allow_zero=True)
            out = _replace(out, spread=spread or 0.0)
        status = Status.FIRING
        if "status" in f:
            raw = r.string(f["status"], f"{path}.status", hint=SIGNAL["status"])
            if raw not in {s.value for s in Status}:
                r.wrong(f["status"], f"{path}.status", SIGNAL["status"])
                return None
            status = Status(raw)
        starts = (
            r.duration(f["startsAt"], f"{path}.startsAt", allow_zero=True)
            if "startsAt" in f
            else None
        )
        if "alert" in f:
            labels = r.labels(f["alert"], f"{path}.alert")
            if labels is None:
                return None
            alert = {k: v for k, (_, v) in labels.items()}
            return _replace(out, alert=alert, pods=pods, status=status, starts_at=starts, at=at)
        if "heartbeat" in f:
            return self._heartbeat(f["heartbeat"], f"{path}.heartbeat", out, pods, at)
        target = r.string(f[kinds[0]], f"{path}.{kinds[0]}", hint=SIGNAL[kinds[0]])
        if target is None or at is None:
            return None
        return _replace(out, **{kinds[0]: target})

    def _heartbeat(
        self, node: Node, path: str, out: SignalSpec, pods: tuple[str, ...], at: float | None
    ) -> SignalSpec | None:
        r = self.r
        f = r.mapping(node, path, known=HEARTBEAT, required=("namespace", "status"))
        if f is None or "namespace" not in f or "status" not in f:
            return None
        namespace = r.string(f["namespace"], f"{path}.namespace")
        pod = r.string(f["pod"], f"{path}.pod") if "pod" in f else None
        raw = r.string(f["status"], f"{path}.status", hint=HEARTBEAT["status"])
        if raw not in {s.value for s in HeartbeatStatus}:
            r.wrong(f["status"], f"{path}.status", HEARTBEAT["status"])
            return None
        if pod is None and not pods:
            r.problem(
                node, f"{path}.pod", "nothing", "a pod name (or a pods list beside heartbeat)"
            )
            return None
        if namespace is None or at is None:
            return None
        return _replace(out, heartbeat=(namespace, pod or "", HeartbeatStatus(raw)), pods=pods)

    def _totals(self, node: Node, path: str) -> Mapping[str, int] | None:
        f = self.r.mapping(node, path, known=TOTALS)
        if f is None:
            return None
        counts = {kind: self.r.integer(f[kind], f"{path}.{kind}") for kind in f}
        return {kind: n for kind, n in counts.items() if n is not None}

    def _pod_names(self, node: Node, path: str) -> tuple[str, ...] | None:
        return self._names(node, path, SIGNAL["pods"])

    def _names(self, node: Node, path: str, hint: str = "a string") -> tuple[str, ...] | None:
        """A string, or a range like `drain shop/checkout-{0..59}` of at most MAX_RANGE."""
        text = self.r.string(node, path, hint=hint)
        if text is None:
            return None
        found = _RANGE.fullmatch(text)
        if found is None:
            return (text,)
        head, first, last, tail = found.groups()
        if int(last) < int(first) or int(last) - int(first) >= MAX_RANGE:
            self.r.wrong(node, path, f"a range of 1 to {MAX_RANGE} pods, first to last")
            return None
        return tuple(f"{head}{i}{tail}" for i in range(int(first), int(last) + 1))

    def expect(self, node: Node, path: str) -> ExpectSpec | None:
        r = self.r
        f = r.mapping(node, path, known=EXPECT, required=("at",))
        if f is None or "at" not in f:
            return None
        at = r.duration(f["at"], f"{path}.at", allow_zero=True)
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("actions", "blocked", "escalations", "outcomes"):
            if key in f:
                found = r.items(f[key], f"{path}.{key}", EXPECT[key], self._names)
                lists[key] = tuple(name for group in found for name in group)
        states = (
            r.string_map(f["states"], f"{path}.states", EXPECT["states"]) if "states" in f else None
        )
        if at is None:
            return None
        return ExpectSpec(
            at=at,
            line=line_of(node),
            actions=lists.get("actions"),
            blocked=lists.get("blocked"),
            escalations=lists.get("escalations"),
            states=states,
            outcomes=lists.get("outcomes"),
        )


def _replace(spec: SignalSpec, **changes: object) -> SignalSpec:
    return replace(spec, **changes)  # type: ignore[arg-type]


def load_fleet_file(path: Path) -> tuple[FleetSpec, ...]:
    """A file with a top-level `fleet:` list, in the runbook test format, to seed a cluster."""
    node, problems = compose(source_text(path), str(path))
    if problems:
        raise RunbookInvalid(problems)
    reader = _SpecReader(str(path))
    top = (
        reader.r.mapping(node, "", known={"fleet": CASE["fleet"]}, required=("fleet",))
        if node
        else None
    )
    if top is None or "fleet" not in top:
        raise RunbookInvalid(
            reader.r.problems
            or [Problem(str(path), 1, "fleet", f"found nothing, expected {CASE['fleet']}")]
        )
    fleet = reader.r.items(top["fleet"], "fleet", CASE["fleet"], reader.fleet)
    if reader.r.problems:
        raise RunbookInvalid(reader.r.problems)
    return fleet


def _spread_out(signals: tuple[SignalSpec, ...]) -> tuple[SignalSpec, ...]:
    """A spread signal becomes one signal per pod, `spread` apart, in time order."""
    out: list[SignalSpec] = []
    for spec in signals:
        if spec.spread <= 0 or len(spec.pods) < 2:
            out.append(spec)
            continue
        out.extend(
            _replace(spec, at=round(spec.at + i * spec.spread, 6), pods=(pod,), spread=0.0)
            for i, pod in enumerate(spec.pods)
        )
    return tuple(sorted(out, key=lambda spec: spec.at))
