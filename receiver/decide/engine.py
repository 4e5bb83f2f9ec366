"""decide(runbook, snapshot, signal, now) -> Plan: everything one signal leads to.

One path for a signal about a pod and one about a workload (`_Decision.run`),
as a run of checks that each may block with a reason, then the step:

    target known? -> namespace allowed? -> signal newer than the pod? ->
    (record the signal) -> resolved, no rule, unsupervised, duplicate? ->
    protected? -> already in progress or paused? -> which step (exhausted?
    fit for the target?) -> the guards, in guards.py's order (frozen,
    cooldown, systemic, bad rollout, availability, rate limits, intensity) -> the step.

A systemic fleet, a bad rollout or an exceeded intensity makes the supervisor
escalate instead of the step.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import NamedTuple

from receiver.decide import lifecycle, settle, settle_rollout
from receiver.decide.draft import Draft
from receiver.decide.escalation import escalate, record_action, rollout_restart
from receiver.decide.guards import Verdict, check_namespace, check_step, check_target
from receiver.decide.index import index
from receiver.decide.intake import Target, Unresolved, resolve_target, track
from receiver.decide.outcomes import follow
from receiver.decide.plan import Action, ActionKind, Blocked, Plan
from receiver.decide.rules import is_dry_run, step_name
from receiver.decide.timed import expire
from receiver.decide.tree import Chain, Tree
from receiver.model import (
    Instant,
    Lifecycle,
    Pod,
    PodKey,
    PodState,
    Reason,
    Signal,
    Snapshot,
    Status,
    Workload,
)
from receiver.runbook import Rule, Runbook, Step, StepKind, Supervisor
from receiver.runbook.quantities import format_duration

_FIRING = Status.FIRING  # read once: an enum member read through its class is slow (3.11)

_ACTION = {
    StepKind.DRAIN: ActionKind.DRAIN,
    StepKind.RESTART: ActionKind.RESTART,
    StepKind.PAUSE: ActionKind.PAUSE,
    StepKind.ROLLOUT_RESTART: ActionKind.ROLLOUT_RESTART,
    StepKind.NOTIFY: ActionKind.NOTIFY,
}


def decide(
    runbook: Runbook,
    snapshot: Snapshot,
    signal: Signal,
    now: Instant,
    *,
    target: Target | Unresolved = Unresolved.TARGET,
) -> Plan:
    """Everything one signal leads to, as data; `target` if the caller resolved it already."""
    if target is Unresolved.TARGET:
        target = resolve_target(runbook.settings, signal)
    decision = _Decision(runbook, snapshot, signal, now)
    decision.run(target)
    plan = decision.draft.plan(signal, target)
    rule = decision.rule
    if rule is not None and rule.dry_run and not runbook.settings.dry_run:
        # A rule on trial reports what it would do but must not spend the
        # budgets or freeze the subtrees that live rules depend on.
        escalations = tuple(replace(e, frozen_until=None) for e in plan.escalations)
        plan = replace(plan, supervisors={}, recent_actions=None, escalations=escalations)
    return follow(runbook, snapshot, plan, now)


class _Decision:
    __slots__ = ("_tree", "draft", "index", "now", "rule", "runbook", "settings", "signal")

    def __init__(self, runbook: Runbook, snapshot: Snapshot, signal: Signal, now: Instant) -> None:
        self.runbook = runbook
        self.settings = runbook.settings
        self.signal = signal
        self.now = now
        self.draft = Draft(snapshot, now)
        self.index = index(runbook)
        self.rule: Rule | None = None
        self._tree: Tree | None = None

    @property
    def tree(self) -> Tree:
        """Fleets and workloads, for the decisions that get as far as guards."""
        if self._tree is None:
            self._tree = Tree(runbook=self.runbook, draft=self.draft)
        return self._tree

    def run(self, target: Target) -> None:
        """The one path, for a pod and for a workload: checks that may block, then the step."""
        subject = self._subject(target)
        if subject is None:
            return
        verdict = check_namespace(self.settings, subject.target.namespace) or _predates(
            subject, self.signal
        )
        if verdict is not None:
            self._block_verdict(verdict, subject.target)
            return
        subject = self._observe(subject)
        chain = self.index.chain(subject.pod)
        self.rule = self._match_rule(chain)
        verdict = (
            self._nothing_to_do(chain, subject)
            or (check_target(self.settings, subject.pod) if subject.is_pod else None)
            or _in_progress(subject)
        )
        if verdict is not None:
            self._block_verdict(verdict, subject.target)
            return
        rule = self.rule
        assert rule is not None
        attempt = lifecycle.next_attempt(subject.lifecycle, rule, self.now)
        step = rule.step(attempt)
        verdict = _unfit(step, rule, subject)
        if verdict is not None:
            self._block_verdict(verdict, subject.target)
            return
        assert step is not None
        if self._guards_allow(subject, chain, step) and self._take(subject, chain, step, attempt):
            self._after_step(subject, step, attempt)

    # -- the subject --------------------------------------------------------

    def _subject(self, target: Target) -> _Subject | None:
        if target is None:
            self.rule = self._match_rule(())
            names = self.settings.target_labels
            self._block(
                Reason.NO_TARGET, detail=f"signal has no {names.namespace} and {names.pod} labels"
            )
            return None
        if isinstance(target, PodKey):
            pod = self.draft.pod(target)
            if pod is not None:
                return _Subject(target, pod, pod.lifecycle)
            missing = f"no pod {target} is known"
        else:
            pods = sorted((p for p in self.draft.pods() if p.owner == target), key=lambda p: p.name)
            if pods:
                return _Subject(target, pods[0], self.draft.workload(target))
            missing = f"no pods of {target}"
        self.rule = self._match_rule(())
        self._block(Reason.UNKNOWN_TARGET, target, detail=missing)
        return None

    def _observe(self, subject: _Subject) -> _Subject:
        """Time-driven changes first (a drain that ended), then the signal recorded."""
        draft, target = self.draft, subject.target
        if isinstance(target, PodKey):
            current = expire(self.runbook, draft, target, self.now)
            tracked = track(current, self.signal, self.settings, self.now)
            if tracked is not current:
                draft.set_lifecycle(target, tracked)
            if tracked is subject.pod.lifecycle:
                return subject
            pod = draft.pod(target)  # expired or tracked: read the pod as it is now
            assert pod is not None
            return _Subject(target, pod, pod.lifecycle)
        tracked = track(subject.lifecycle, self.signal, self.settings, self.now)
        draft.set_workload(target, tracked)
        return _Subject(target, subject.pod, tracked)

    def _nothing_to_do(self, chain: Chain, subject: _Subject) -> Verdict | None:
        """Reasons a signal leads nowhere, before any guard is asked."""
        signal = self.signal
        reason = None
        if signal.status is not _FIRING:
            reason = Reason.RESOLVED
        elif self.rule is None:
            reason = Reason.NO_RULE
        elif not chain:
            reason = Reason.UNSUPERVISED
        elif subject.lifecycle.has_handled(signal.occurrence) or (
            subject.lifecycle.handled_nearby(signal.fingerprint, signal.starts_at)
        ):
            reason = Reason.DUPLICATE
        return None if reason is None else _NOTHING_TO_DO[reason]

    def _match_rule(self, chain: Chain) -> Rule | None:
        for rule in self.index.rules_matching(self.signal.labels):
            if rule.supervisor is None or any(s.name == rule.supervisor for s in chain):
                return rule
        return None

    # -- guards and the step ------------------------------------------------

    def _guards_allow(self, subject: _Subject, chain: Chain, step: Step) -> bool:
        """Ask the guards; a systemic fleet or an exceeded intensity escalates instead."""
        verdict = check_step(
            step.kind, self.runbook, self.tree, self.draft, subject.pod, chain, self.now
        )
        if verdict is None:
            return True
        wanted = _ACTION[step.kind]
        blamed: PodKey | Workload = subject.target
        if step.kind is StepKind.ROLLOUT_RESTART and verdict.reason is not Reason.ESCALATED:
            assert subject.pod.owner is not None
            blamed = subject.pod.owner
        self._block_verdict(verdict, blamed, wanted=wanted)
        if verdict.supervisor is None:
            return False
        supervisor = self.runbook.by_name[verdict.supervisor]
        if verdict.reason in (Reason.SYSTEMIC, Reason.BAD_ROLLOUT):
            self._escalate(supervisor, verdict.reason, subject.pod)
        elif verdict.reason is Reason.ESCALATED:
            # The occurrence counts as handled, so a re-delivery does not escalate again.
            self._escalate(supervisor, Reason.INTENSITY, subject.pod, str(subject.target))
            self._set(subject, self._lifecycle(subject).remember(self.signal.occurrence))
        return False

    def _take(self, subject: _Subject, chain: Chain, step: Step, attempt: int) -> bool:
        """Plan the step's action; False if it could not be planned after all."""
        rule = self.rule
        assert rule is not None
        dry_run = is_dry_run(self.settings, rule)
        kind = _ACTION[step.kind]
        pod = subject.target if isinstance(subject.target, PodKey) else None
        workload = subject.target if isinstance(subject.target, Workload) else None
        if step.kind in settle.IRREVERSIBLE and isinstance(pod, PodKey):
            seconds = settle.window(self.runbook, chain)
            if seconds > 0:
                settle.defer(
                    self.runbook,
                    self.draft,
                    pod,
                    rule=rule,
                    step=step,
                    attempt=attempt,
                    occurrence=self.signal.occurrence,
                    seconds=seconds,
                    now=self.now,
                )
                return False
        if step.kind is StepKind.ROLLOUT_RESTART:
            owner = subject.pod.owner
            assert owner is not None
            seconds = settle.window(self.runbook, chain)
            if seconds > 0:
                return self._defer_rollout(subject, owner, rule, attempt, seconds)
            planned = rollout_restart(
                self.runbook, self.tree, self.draft, owner, None, rule.name, dry_run, self.now
            )
            if not planned:
                return False
        else:
            until = self.now + step.duration if step.duration and step.kind.disruptive else None
            self.draft.actions.append(
                Action(
                    kind=kind,
                    pod=pod,
                    workload=workload,
                    notifier=step.notifier if step.kind is StepKind.NOTIFY else None,
                    rule=rule.name,
                    until=until,
                    attempt=attempt + 1,
                    dry_run=dry_run,
                    detail=_step_detail(step, attempt, rule),
                )
            )
        if step.kind is not StepKind.NOTIFY:
            record_action(self.runbook, self.draft, chain, self.now)
        return True

    def _defer_rollout(
        self, subject: _Subject, owner: Workload, rule: Rule, attempt: int, seconds: float
    ) -> bool:
        """The rollout restart waits on its workload; a pod's own step counts as taken."""
        if self.draft.workload(owner).state is PodState.SETTLING:
            self._block(
                Reason.IN_PROGRESS,
                owner,
                wanted=ActionKind.ROLLOUT_RESTART,
                detail="a rollout restart of the workload already waits its settle window",
            )
        else:
            settle_rollout.defer(
                self.draft,
                owner,
                rule=rule,
                own_attempt=None if subject.is_pod else attempt,
                occurrence=self.signal.occurrence,
                seconds=seconds,
                now=self.now,
            )
        return subject.is_pod

    def _after_step(self, subject: _Subject, step: Step, attempt: int) -> None:
        rule = self.rule
        assert rule is not None
        updated = lifecycle.after_step(
            self._lifecycle(subject), rule, step, attempt, self.signal.occurrence, self.now
        )
        if subject.is_pod and step.kind is StepKind.RESTART and is_dry_run(self.settings, rule):
            updated = lifecycle.dry_run_restarted(updated, self.settings.restart_time, self.now)
        self._set(subject, updated)

    def _lifecycle(self, subject: _Subject) -> Lifecycle:
        target = subject.target
        if isinstance(target, PodKey):
            return self.draft.lifecycle(target)
        return self.draft.workload(target)

    def _set(self, subject: _Subject, updated: Lifecycle) -> None:
        target = subject.target
        if isinstance(target, PodKey):
            self.draft.set_lifecycle(target, updated)
        else:
            self.draft.set_workload(target, updated)

    def _escalate(
        self, supervisor: Supervisor, cause: Reason, pod: Pod, about: str | None = None
    ) -> None:
        escalate(
            self.runbook,
            self.tree,
            self.draft,
            supervisor,
            cause=cause,
            origin=pod,
            rule=self.rule.name if self.rule else None,
            dry_run=is_dry_run(self.settings, self.rule),
            now=self.now,
            origin_name=about,
        )

    # -- blocks -------------------------------------------------------------

    def _block(
        self,
        reason: Reason,
        target: PodKey | Workload | None = None,
        *,
        wanted: ActionKind | None = None,
        supervisor: str | None = None,
        detail: str = "",
    ) -> None:
        self.draft.blocked.append(
            _blocked(
                reason,
                wanted,
                target if isinstance(target, PodKey) else None,
                target if isinstance(target, Workload) else None,
                self.rule.name if self.rule else None,
                supervisor,
                detail or str(reason),
            )
        )

    def _block_verdict(
        self, verdict: Verdict, target: PodKey | Workload, *, wanted: ActionKind | None = None
    ) -> None:
        self._block(
            verdict.reason,
            target,
            wanted=wanted,
            supervisor=verdict.supervisor,
            detail=verdict.detail,
        )


class _Subject(NamedTuple):
    """What a signal is about, seen one way whether it names a pod or a workload.

    A named tuple: one is made per decision, and a frozen dataclass costs more to make.
    """

    target: PodKey | Workload
    pod: Pod  # the pod itself, or the workload's first pod (whose chain and fleet count)
    lifecycle: Lifecycle  # the pod's, or the workload's

    @property
    def is_pod(self) -> bool:
        return isinstance(self.target, PodKey)


def _predates(subject: _Subject, signal: Signal) -> Verdict | None:
    """A signal that began before the pod object existed is about an earlier pod of its name."""
    pod = subject.pod
    if not subject.is_pod or not pod.predates(signal.starts_at):
        return None
    assert pod.created_at is not None
    earlier = format_duration(max(pod.created_at - signal.starts_at, 0.001))
    return Verdict(
        Reason.PREDATES_POD,
        f"the signal started {earlier} before this pod was created: "
        "it is about an earlier pod of the same name",
    )


_IN_PROGRESS = frozenset({PodState.SETTLING, PodState.DRAINED, PodState.RESTARTED})


def _in_progress(subject: _Subject) -> Verdict | None:
    """A pod already out of traffic, being replaced, or held for a human; a workload
    whose rollout restart waits its settle window."""
    if not subject.is_pod:
        if subject.lifecycle.state is PodState.SETTLING:
            return Verdict(Reason.IN_PROGRESS, "a rollout restart waits its settle window")
        return None
    pod = subject.pod
    if pod.terminating or pod.lifecycle.state in _IN_PROGRESS:
        return Verdict(Reason.IN_PROGRESS, f"pod is {pod.lifecycle.state}")
    if pod.lifecycle.state is PodState.PAUSED:
        return Verdict(Reason.PAUSED, "pod is paused until a human resumes it")
    return None


def _unfit(step: Step | None, rule: Rule, subject: _Subject) -> Verdict | None:
    """No step left, or a step the target cannot take."""
    if step is None:
        return Verdict(Reason.EXHAUSTED, f"all {len(rule.steps)} steps used")
    if not subject.is_pod and step.kind.disruptive:
        return Verdict(
            Reason.INVALID_TARGET, f"step {step.kind} acts on a pod, the signal names a workload"
        )
    if step.kind is StepKind.ROLLOUT_RESTART and subject.pod.owner is None:
        return Verdict(Reason.INVALID_TARGET, "pod has no controller")
    return None


_NOTHING_TO_DO = {
    verdict.reason: verdict
    for verdict in (
        Verdict(Reason.RESOLVED, "signal resolved; nothing to do"),
        Verdict(Reason.NO_RULE, "no rule matches the signal"),
        Verdict(Reason.UNSUPERVISED, "no supervisor covers the target"),
        Verdict(Reason.DUPLICATE, "this alert occurrence was already handled"),
    )
}


@functools.lru_cache(maxsize=1024)
def _blocked(
    reason: Reason,
    wanted: ActionKind | None,
    pod: PodKey | None,
    workload: Workload | None,
    rule: str | None,
    supervisor: str | None,
    detail: str,
) -> Blocked:
    """A Blocked value, made once: a re-delivery is blocked just as the one before it.

    Values are immutable, so one instance serves every plan that holds it;
    making a frozen dataclass costs more than looking it up.
    """
    return Blocked(
        reason=reason,
        wanted=wanted,
        pod=pod,
        workload=workload,
        rule=rule,
        supervisor=supervisor,
        detail=detail,
    )


def _step_detail(step: Step, attempt: int, rule: Rule) -> str:
    where = step_name(rule, attempt + 1)
    if step.kind is StepKind.DRAIN and step.duration:
        return f"{where}: drain for {format_duration(step.duration)}"
    if step.kind is StepKind.NOTIFY:
        return f"{where}: notify {step.notifier}"
    return f"{where}: {step.kind}"
