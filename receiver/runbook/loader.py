"""Load and validate a runbook: YAML text in, a compiled Runbook or every problem out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import yaml

from receiver.runbook import templates
from receiver.runbook.fields import (
    API_VERSION,
    BAD_ROLLOUT,
    DRAIN,
    ESCALATION,
    GUARDS,
    HEARTBEAT,
    INTENSITY,
    KIND,
    RATE_LIMIT,
    REMEDY,
    RULE,
    SETTINGS,
    STEP,
    SUPERVISOR,
    TARGET_LABELS,
    TOP,
    WORKLOAD_KINDS,
)
from receiver.runbook.limits import (
    MAX_MISS_AFTER,
    MAX_TEMPLATE_SOURCE,
    MAX_TEMPLATE_SOURCE_TOTAL,
)
from receiver.runbook.matchers import Selector
from receiver.runbook.notifier_fields import NotifierFields
from receiver.runbook.problems import Problem, RunbookInvalid
from receiver.runbook.reader import (
    LABEL_NAME,
    NAME,
    NAME_HINT,
    Node,
    Reader,
    compose,
    key_text,
    line_of,
)
from receiver.runbook.suggest import did_you_mean
from receiver.runbook.types import (
    DEFAULT_MISS_AFTER,
    DEFAULT_PROBATION,
    BadRollout,
    DrainBy,
    EscalationKind,
    EscalationStep,
    Exhausted,
    Guards,
    HeartbeatExpectation,
    Intensity,
    Notifier,
    RateLimit,
    Rule,
    Runbook,
    Settings,
    Step,
    StepKind,
    Strategy,
    Supervisor,
    TargetLabels,
)
from receiver.runbook.yamltext import source_text

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
E = TypeVar("E", bound=StrEnum)


@dataclass
class _Refs:
    """Names used before all are known, checked once the whole file is read."""

    notifiers: list[tuple[str, Node, str]] = field(default_factory=list)
    supervisors: list[tuple[str, Node, str]] = field(default_factory=list)


def load_file(path: str | Path) -> Runbook:
    """Compile a runbook file; RunbookInvalid also when it is too large or not UTF-8."""
    path = Path(path)
    return load_text(source_text(path), str(path))


def load_text(text: str, file: str = "<runbook>") -> Runbook:
    """Compile runbook text, or raise RunbookInvalid with every problem found."""
    node, problems = compose(text, file)
    if problems:
        raise RunbookInvalid(problems)
    if node is None:
        raise RunbookInvalid([Problem(file, 1, "", "found an empty document, expected a Runbook")])
    return _Loader(file).runbook(node)


class _Loader:
    def __init__(self, file: str) -> None:
        self.r = Reader(file)
        self.refs = _Refs()
        self.supervisor_names: dict[str, int] = {}
        self.rule_names: dict[str, int] = {}
        self.notifier_names: set[str] = set()
        self.template_chars = 0
        self.parent: dict[str, str] = {}
        self.by_name: dict[str, Supervisor] = {}

    def runbook(self, node: Node) -> Runbook:
        r = self.r
        top = r.mapping(node, "", known=TOP, required=("apiVersion", "kind", "settings"))
        if top is None:
            raise RunbookInvalid(r.problems)
        if "apiVersion" in top:
            self._constant(top["apiVersion"], "apiVersion", API_VERSION)
        if "kind" in top:
            self._constant(top["kind"], "kind", KIND)
        settings = self.settings(top["settings"]) if "settings" in top else None
        notifiers = self.notifiers(top.get("notifiers"))
        heartbeats = r.items(top.get("heartbeats"), "heartbeats", TOP["heartbeats"], self.heartbeat)
        supervisors = r.items(
            top.get("supervisors"), "supervisors", TOP["supervisors"], self.supervisor
        )
        rules = r.items(top.get("rules"), "rules", TOP["rules"], self.rule)
        self._check_refs()
        if r.problems or settings is None:
            raise RunbookInvalid(r.problems)
        return Runbook(
            settings=settings,
            supervisors=supervisors,
            rules=rules,
            heartbeats=heartbeats,
            notifiers=notifiers,
            source=r.file,
            by_name=dict(self.by_name),
            parent=dict(self.parent),
        )

    def _constant(self, node: Node, path: str, want: str) -> None:
        value = self.r.string(node, path, hint=f'"{want}"')
        if value is not None and value != want:
            self.r.wrong(node, path, f'"{want}"')

    # -- settings -----------------------------------------------------------

    def settings(self, node: Node) -> Settings | None:
        r = self.r
        f = r.mapping(node, "settings", known=SETTINGS, required=("namespaces",))
        if f is None:
            return None
        # Without namespaces the settings are unusable, but every other field is still checked.
        namespaces = r.items(
            f.get("namespaces"), "settings.namespaces", SETTINGS["namespaces"], self._namespace
        )
        if isinstance(f.get("namespaces"), yaml.SequenceNode) and not f["namespaces"].value:
            r.wrong(f["namespaces"], "settings.namespaces", SETTINGS["namespaces"])
        out = Settings(namespaces=namespaces)
        if "dryRun" in f:
            out = _with(out, dry_run=r.boolean(f["dryRun"], "settings.dryRun"))
        if "trafficLabel" in f:
            label = r.string(
                f["trafficLabel"], "settings.trafficLabel", pattern=LABEL_NAME, hint="a label name"
            )
            out = _with(out, traffic_label=label)
        if "targetLabels" in f:
            out = _with(out, target_labels=self.target_labels(f["targetLabels"]))
        if "rateLimit" in f:
            out = _with(out, rate_limit=self.rate_limit(f["rateLimit"], "settings.rateLimit"))
        if "protect" in f:
            protect = r.items(f["protect"], "settings.protect", SETTINGS["protect"], r.selector)
            out = _with(out, protect=protect)
        if "signalTTL" in f:
            out = _with(out, signal_ttl=r.duration(f["signalTTL"], "settings.signalTTL"))
        if "settle" in f:
            settle = r.duration(f["settle"], "settings.settle", allow_zero=True)
            out = _with(out, settle=settle)
        if "restartTime" in f:
            restart = r.duration(f["restartTime"], "settings.restartTime", allow_zero=True)
            out = _with(out, restart_time=restart)
        if "externalURL" in f:
            out = _with(out, external_url=self._external_url(f["externalURL"]))
        if "drainBy" in f:
            drain_by = self._enum(f["drainBy"], "settings.drainBy", DrainBy, DrainBy.LABEL)
            out = _with(out, drain_by=drain_by)
        return out if "namespaces" in f else None

    def _external_url(self, node: Node) -> str | None:
        hint = SETTINGS["externalURL"]
        url = self.r.string(node, "settings.externalURL", hint=hint)
        if url is not None and not url.startswith(("http://", "https://")):
            self.r.wrong(node, "settings.externalURL", hint)
            return None
        return None if url is None else url.rstrip("/")

    def _namespace(self, node: Node, path: str) -> str | None:
        hint = 'a namespace name, or "*" for every namespace'
        value = self.r.string(node, path, hint=hint)
        if value is not None and value != "*" and not NAME.fullmatch(value):
            self.r.wrong(node, path, hint)
            return None
        return value

    def target_labels(self, node: Node) -> TargetLabels | None:
        r, path = self.r, "settings.targetLabels"
        f = r.mapping(node, path, known=TARGET_LABELS)
        if f is None:
            return None
        out = TargetLabels()
        for key in ("namespace", "pod"):
            if key in f:
                value = r.string(f[key], f"{path}.{key}", pattern=LABEL_NAME, hint="a label name")
                out = _with(out, **{key: value})
        if "workloads" in f:
            labels = r.labels(f["workloads"], f"{path}.workloads")
            kinds = ", ".join(WORKLOAD_KINDS)
            for label, (node_, kind) in (labels or {}).items():
                if kind not in WORKLOAD_KINDS:
                    r.wrong(node_, f"{path}.workloads.{label}", f"a workload kind, one of: {kinds}")
            if labels is not None and all(v in WORKLOAD_KINDS for _, v in labels.values()):
                out = _with(out, workloads={k: v for k, (_, v) in labels.items()})
        return out

    def rate_limit(self, node: Node, path: str) -> RateLimit | None:
        budget = self._count_per_window(node, path, RATE_LIMIT, "per", minimum=1)
        return None if budget is None else RateLimit(*budget)

    def _count_per_window(
        self, node: Node, path: str, table: dict[str, str], window: str, *, minimum: int
    ) -> tuple[int, float] | None:
        """`{max: N, <window>: DURATION}`, shared by rate limits and intensities."""
        f = self.r.mapping(node, path, known=table, required=tuple(table))
        if f is None or len(f) < len(table):
            return None
        count = self.r.integer(f["max"], f"{path}.max", minimum=minimum)
        seconds = self.r.duration(f[window], f"{path}.{window}")
        return None if count is None or seconds is None else (count, seconds)

    # -- heartbeats ---------------------------------------------------------

    def heartbeat(self, node: Node, path: str) -> HeartbeatExpectation | None:
        r = self.r
        f = r.mapping(node, path, known=HEARTBEAT, required=("match", "interval"))
        if f is None or "match" not in f or "interval" not in f:
            return None
        match = r.selector(f["match"], f"{path}.match")
        interval = r.duration(f["interval"], f"{path}.interval")
        miss_after = (
            r.integer(f["missAfter"], f"{path}.missAfter", minimum=1, maximum=MAX_MISS_AFTER)
            if "missAfter" in f
            else DEFAULT_MISS_AFTER
        )
        if match is None or interval is None or miss_after is None:
            return None
        return HeartbeatExpectation(match=match, interval=interval, miss_after=miss_after)

    # -- supervisors --------------------------------------------------------

    def supervisor(self, node: Node, path: str, parent: str | None = None) -> Supervisor | None:
        r = self.r
        f = r.mapping(node, path, known=SUPERVISOR, required=("name", "intensity"))
        if f is None:
            return None
        name = self._name(f, path, self.supervisor_names, "supervisor")
        if name is not None and parent is not None:
            self.parent.setdefault(name, parent)
        children = r.items(
            f.get("children"),
            f"{path}.children",
            SUPERVISOR["children"],
            lambda child, where: self.supervisor(child, where, name),
        )
        match = r.selector(f["match"], f"{path}.match") if "match" in f else Selector()
        intensity = (
            self.intensity(f["intensity"], f"{path}.intensity") if "intensity" in f else None
        )
        strategy = self._enum(f.get("strategy"), f"{path}.strategy", Strategy, Strategy.ONE_FOR_ONE)
        guards = self.guards(f["guards"], f"{path}.guards") if "guards" in f else None
        on_escalate = r.items(
            f.get("onEscalate"), f"{path}.onEscalate", SUPERVISOR["onEscalate"], self.escalation
        )
        freeze_for = (
            r.duration(f["freezeFor"], f"{path}.freezeFor", allow_zero=True)
            if "freezeFor" in f
            else None
        )
        fleet_by = r.items(
            f.get("fleetBy"),
            f"{path}.fleetBy",
            SUPERVISOR["fleetBy"],
            lambda n, p: r.string(n, p, pattern=LABEL_NAME, hint="a label name"),
        )
        drain_by = (
            self._enum(f["drainBy"], f"{path}.drainBy", DrainBy, DrainBy.LABEL)
            if "drainBy" in f
            else None
        )
        if name is None or match is None or intensity is None or strategy is None:
            return None
        supervisor = Supervisor(
            name=name,
            match=match,
            intensity=intensity,
            strategy=strategy,
            guards=guards,
            on_escalate=on_escalate,
            freeze_for=freeze_for,
            fleet_by=fleet_by,
            children=children,
            drain_by=drain_by,
        )
        self.by_name.setdefault(name, supervisor)
        return supervisor

    def intensity(self, node: Node, path: str) -> Intensity | None:
        budget = self._count_per_window(node, path, INTENSITY, "period", minimum=0)
        return None if budget is None else Intensity(*budget)

    def guards(self, node: Node, path: str) -> Guards | None:
        r = self.r
        f = r.mapping(node, path, known=GUARDS)
        if f is None:
            return None
        out = Guards()
        for key, attr in (
            ("maxUnavailable", "max_unavailable"),
            ("minAvailable", "min_available"),
            ("maxUnhealthy", "max_unhealthy"),
        ):
            if key in f:
                out = _with(out, **{attr: r.quantity(f[key], f"{path}.{key}")})
        if "cooldown" in f:
            out = _with(
                out, cooldown=r.duration(f["cooldown"], f"{path}.cooldown", allow_zero=True)
            )
        if "rateLimit" in f:
            out = _with(out, rate_limit=self.rate_limit(f["rateLimit"], f"{path}.rateLimit"))
        if "settle" in f:
            out = _with(out, settle=r.duration(f["settle"], f"{path}.settle", allow_zero=True))
        if "badRollout" in f:
            out = _with(out, bad_rollout=self.bad_rollout(f["badRollout"], f"{path}.badRollout"))
        return out

    def bad_rollout(self, node: Node, path: str) -> BadRollout | None:
        r = self.r
        f = r.mapping(node, path, known=BAD_ROLLOUT)
        if f is None:
            return None
        out = BadRollout()
        if "minShare" in f:
            share = r.quantity(f["minShare"], f"{path}.minShare")
            if share is not None and (not share.percent or share.value == 0):
                r.wrong(f["minShare"], f"{path}.minShare", "a percentage from 1% to 100%")
                share = None
            out = _with(out, min_share=share.value if share else None)
        if "minSignalling" in f:
            count = r.integer(f["minSignalling"], f"{path}.minSignalling", minimum=1)
            out = _with(out, min_signalling=count)
        if "window" in f:
            out = _with(out, window=r.duration(f["window"], f"{path}.window", allow_zero=True))
        if "remedy" in f:
            remedy = r.items(
                f["remedy"], f"{path}.remedy", BAD_ROLLOUT["remedy"], self._remedy_step
            )
            out = _with(out, remedy=remedy)
        return out

    def _remedy_step(self, node: Node, path: str) -> EscalationStep | None:
        return self.escalation(node, path, REMEDY, "a remedy")

    def escalation(
        self,
        node: Node,
        path: str,
        known: dict[str, str] = ESCALATION,
        what: str = "an escalation action",
    ) -> EscalationStep | None:
        key, value = self._one_key(node, path, known, what)
        if key is None or value is None:
            return None
        if key == "notify":
            notifier = self._notifier_ref(value, f"{path}.notify")
            return None if notifier is None else EscalationStep(EscalationKind.NOTIFY, notifier)
        if not self._empty(value, f"{path}.{key}", known[key]):
            return None
        return EscalationStep(EscalationKind(key))

    # -- rules --------------------------------------------------------------

    def rule(self, node: Node, path: str) -> Rule | None:
        r = self.r
        f = r.mapping(node, path, known=RULE, required=("name", "match", "steps"))
        if f is None:
            return None
        name = self._name(f, path, self.rule_names, "rule")
        match = r.selector(f["match"], f"{path}.match") if "match" in f else None
        if match is not None and not match.matchers:
            r.wrong(
                f["match"],
                f"{path}.match",
                "at least one matcher, like {alertname: PodErrorRatioOutlier}",
            )
            match = None
        steps = r.items(f.get("steps"), f"{path}.steps", RULE["steps"], self.step)
        if isinstance(f.get("steps"), yaml.SequenceNode) and not f["steps"].value:
            r.wrong(f["steps"], f"{path}.steps", "at least one step")
        exhausted = self._enum(f.get("exhausted"), f"{path}.exhausted", Exhausted, Exhausted.PAUSE)
        probation = (
            r.duration(f["probation"], f"{path}.probation")
            if "probation" in f
            else DEFAULT_PROBATION
        )
        dry_run = r.boolean(f["dryRun"], f"{path}.dryRun") if "dryRun" in f else False
        supervisor = None
        if "supervisor" in f:
            supervisor = r.string(f["supervisor"], f"{path}.supervisor", hint=RULE["supervisor"])
            if supervisor is not None:
                self.refs.supervisors.append((supervisor, f["supervisor"], f"{path}.supervisor"))
        if (
            name is None
            or match is None
            or exhausted is None
            or probation is None
            or dry_run is None
            or not steps
        ):
            return None
        return Rule(
            name=name,
            match=match,
            steps=steps,
            exhausted=exhausted,
            probation=probation,
            dry_run=dry_run,
            supervisor=supervisor,
        )

    def step(self, node: Node, path: str) -> Step | None:
        key, value = self._one_key(node, path, STEP, "a step")
        if key is None or value is None:
            return None
        kind = StepKind(key)
        if kind is StepKind.NOTIFY:
            notifier = self._notifier_ref(value, f"{path}.notify")
            return None if notifier is None else Step(kind=kind, notifier=notifier)
        if kind is StepKind.DRAIN:
            f = self.r.mapping(
                value, f"{path}.drain", known=DRAIN, required=("for",), what=STEP["drain"]
            )
            if f is None or "for" not in f:
                return None
            seconds = self.r.duration(f["for"], f"{path}.drain.for")
            return None if seconds is None else Step(kind=kind, duration=seconds)
        if not self._empty(value, f"{path}.{key}", STEP[key]):
            return None
        return Step(kind=kind)

    # -- notifiers ----------------------------------------------------------

    def notifiers(self, node: Node | None) -> dict[str, Notifier]:
        r = self.r
        if node is None:
            return {}
        out: dict[str, Notifier] = {}
        if not isinstance(node, yaml.MappingNode):
            r.wrong(node, "notifiers", TOP["notifiers"])
            return out
        for key_node, value in node.value:
            name = key_text(key_node)
            path = f"notifiers.{name}"
            self.notifier_names.add(name)
            if name in out:
                r.problem(
                    key_node, path, "a second notifier with this name", "a unique notifier name"
                )
                continue
            if not NAME.fullmatch(name):
                r.problem(key_node, path, f'the name "{name}"', NAME_HINT)
                continue
            notifier = self.notifier(name, value, path)
            if notifier is not None:
                out[name] = notifier
        return out

    def notifier(self, name: str, node: Node, path: str) -> Notifier | None:
        return NotifierFields(self.r, self._template_ok).notifier(name, node, path)

    def _template_ok(self, node: Node, path: str, text: str) -> bool:
        # Each check compiles its template: bound them all, counting those short enough to compile.
        self.template_chars += len(text) if len(text) <= MAX_TEMPLATE_SOURCE else 0
        if self.template_chars > MAX_TEMPLATE_SOURCE_TOTAL:
            found = f"notifier messages of {self.template_chars} characters in all so far"
            self.r.problem(node, path, found, f"at most {MAX_TEMPLATE_SOURCE_TOTAL} in all")
            return False
        fault = templates.check(text)
        if fault is not None:
            self.r.problem(node, path, *fault)
        return fault is None

    # -- helpers ------------------------------------------------------------

    def _one_key(
        self, node: Node, path: str, known: dict[str, str], what: str
    ) -> tuple[str | None, Node | None]:
        """A mapping with exactly one key naming its kind, like `drain: {for: 2m}`."""
        hint = f"{what}: a mapping with one key, one of " + ", ".join(known)
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            self.r.wrong(node, path, hint)
            return None, None
        key_node, value = node.value[0]
        key = key_text(key_node)
        if key not in known:
            self.r.problem(key_node, path, f'"{key}"', f"{what}, one of: " + ", ".join(known))
            return None, None
        return key, value

    def _empty(self, node: Node, path: str, what: str) -> bool:
        """`restart: {}` or a bare `restart:`: the step takes no options."""
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return True
        return self.r.mapping(node, path, known={}, what=what) is not None

    def _notifier_ref(self, node: Node, path: str) -> str | None:
        name = self.r.string(node, path, hint="a notifier name")
        if name is not None:
            self.refs.notifiers.append((name, node, path))
        return name

    def _enum(self, node: Node | None, path: str, enum: type[E], default: E) -> E | None:
        if node is None:
            return default
        hint = "one of: " + ", ".join(enum)
        value = self.r.string(node, path, hint=hint)
        if value is None:
            return None
        if value not in {member.value for member in enum}:
            self.r.wrong(node, path, hint)
            return None
        return enum(value)

    def _name(self, f: dict[str, Node], path: str, seen: dict[str, int], what: str) -> str | None:
        """A supervisor's or rule's name: well formed, and not used before."""
        if "name" not in f:
            return None
        node = f["name"]
        name = self.r.string(node, f"{path}.name", pattern=NAME, hint=NAME_HINT)
        if name is None:
            return None
        if name in seen:
            found = f'"{name}" again (first at line {seen[name]})'
            self.r.problem(node, f"{path}.name", found, f"a unique {what} name")
        else:
            seen[name] = line_of(node)
        return name

    def _check_refs(self) -> None:
        for name, node, path in self.refs.notifiers:
            if name not in self.notifier_names:
                known = ", ".join(sorted(self.notifier_names)) or "(none defined)"
                self.r.problem(
                    node,
                    path,
                    f'the undefined notifier "{name}"',
                    f"one defined under notifiers: {known}"
                    + did_you_mean(name, self.notifier_names),
                )
        for name, node, path in self.refs.supervisors:
            if name not in self.supervisor_names:
                known = ", ".join(sorted(self.supervisor_names)) or "(none defined)"
                expected = f"one of: {known}" + did_you_mean(name, self.supervisor_names)
                self.r.problem(node, path, f'the undefined supervisor "{name}"', expected)


def _with(value: D, **changes: object) -> D:
    """A copy with the changes that were read successfully (None means a problem was reported)."""
    kept = {k: v for k, v in changes.items() if v is not None}
    return replace(value, **kept) if kept else value
