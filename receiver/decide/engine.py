"""decide(runbook, snapshot, signal, now) -> Plan: everything one signal leads to.

The order of questions: which target, which rule, is it new (not resolved,
not a duplicate), may this pod be touched at all, what is its lifecycle
state, which step comes next, do the guards allow it, and would it exceed a
supervisor's intensity (then the supervisor escalates instead).
"""

from __future__ import annotations

import functools
from dataclasses import replace

from receiver.decide import lifecycle
from receiver.decide.clock import expire, is_dry_run
from receiver.decide.draft import Draft
from receiver.decide.escalation import escalate, over_intensity, record_action, rollout_restart
from receiver.decide.guards import (
    Verdict,
    check_frozen,
    check_pod_action,
    check_rate_limits,
    check_target,
)
from receiver.decide.index import index
from receiver.decide.intake import Target, Unresolved, resolve_target, track
from receiver.decide.plan import Action, ActionKind, Blocked, Plan
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
    Workload,
)
from receiver.runbook import Rule, Runbook, Step, StepKind, Supervisor
from receiver.runbook.quantities import format_duration

_POD_ACTION = {
    StepKind.DRAIN: ActionKind.DRAIN,
    StepKind.RESTART: ActionKind.RESTART,
    StepKind.PAUSE: ActionKind.PAUSE,
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
    return plan


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
        if target is None:
            self.rule = self._match_rule(())
            names = self.settings.target_labels
            self._block(
                Reason.NO_TARGET, detail=f"signal has no {names.namespace} and {names.pod} labels"
            )
        elif isinstance(target, PodKey):
            self._pod_signal(target)
        else:
            self._workload_signal(target)

    # -- pods ---------------------------------------------------------------

    def _pod_signal(self, key: PodKey) -> None:
        pod = self.draft.pod(key)
        if pod is None:
            self.rule = self._match_rule(())
            self._block(Reason.UNKNOWN_TARGET, pod=key, detail=f"no pod {key} is known")
            return
        target_verdict = check_target(self.settings, pod)
        if target_verdict and target_verdict.reason is Reason.NAMESPACE_NOT_ALLOWED:
            self._block_verdict(target_verdict, pod=key)
            return
        draft, signal = self.draft, self.signal
        if pod.predates(signal.starts_at):
            assert pod.created_at is not None
            earlier = format_duration(max(pod.created_at - signal.starts_at, 0.001))
            self._block(
                Reason.PREDATES_POD,
                pod=key,
                detail=f"the signal started {earlier} before this pod was created: "
                "it is about an earlier pod of the same name",
            )
            return
        expire(self.runbook, draft, key, self.now)
        current = draft.lifecycle(key)
        tracked = self._track(current)
        if tracked is not current:
            draft.set_lifecycle(key, tracked)
        if tracked is not pod.lifecycle:  # expired or tracked: read the pod as it is now
            pod = draft.pod(key)
        assert pod is not None
        chain = self.index.chain(pod)
        self.rule = self._match_rule(chain)
        reason = self._why_not(chain, pod.lifecycle.has_handled(signal.occurrence))
        if reason is not None:
            self._block(reason, pod=key)
            return
        if target_verdict is not None:
            self._block_verdict(target_verdict, pod=key)
            return
        if pod.terminating or pod.lifecycle.state in (PodState.DRAINED, PodState.RESTARTED):
            self._block(Reason.IN_PROGRESS, pod=key, detail=f"pod is {pod.lifecycle.state}")
            return
        if pod.lifecycle.state is PodState.PAUSED:
            self._block(Reason.PAUSED, pod=key, detail="pod is paused until a human resumes it")
            return
        assert self.rule is not None
        attempt = lifecycle.next_attempt(pod.lifecycle, self.rule)
        step = self.rule.step(attempt)
        if step is None:
            self._block(Reason.EXHAUSTED, pod=key, detail=f"all {len(self.rule.steps)} steps used")
            return
        self._pod_step(pod, chain, step, attempt)

    def _pod_step(self, pod: Pod, chain: Chain, step: Step, attempt: int) -> None:
        assert self.rule is not None
        dry_run = is_dry_run(self.settings, self.rule)
        if step.kind is StepKind.NOTIFY:
            if not self._notify(step, attempt, chain, pod.key):
                return
        elif step.kind is StepKind.ROLLOUT_RESTART:
            if pod.owner is None:
                self._block(Reason.INVALID_TARGET, pod=pod.key, detail="pod has no controller")
                return
            if not self._workload_action(pod, chain, pod.owner, dry_run, pod.key):
                return
        else:
            verdict = check_pod_action(self.runbook, self.tree, self.draft, pod, chain, self.now)
            if verdict is not None:
                self._block_verdict(verdict, pod=pod.key, wanted=_POD_ACTION[step.kind])
                if verdict.reason is Reason.SYSTEMIC and verdict.supervisor is not None:
                    self._escalate(self.runbook.by_name[verdict.supervisor], Reason.SYSTEMIC, pod)
                return
            if self._escalates_instead(pod, chain, _POD_ACTION[step.kind], pod.key):
                return
            record_action(self.runbook, self.draft, chain, self.now)
            until = self.now + step.duration if step.duration else None
            self.draft.actions.append(
                Action(
                    kind=_POD_ACTION[step.kind],
                    pod=pod.key,
                    rule=self.rule.name,
                    until=until,
                    attempt=attempt + 1,
                    dry_run=dry_run,
                    detail=_step_detail(step, attempt, self.rule),
                )
            )
        updated = lifecycle.after_step(
            pod.lifecycle, self.rule, step, attempt, self.signal.occurrence, self.now
        )
        if dry_run and step.kind is StepKind.RESTART:
            updated = lifecycle.replaced(updated, self.now)
        self.draft.set_lifecycle(pod.key, updated)

    def _escalates_instead(
        self, pod: Pod, chain: Chain, wanted: ActionKind, target: PodKey | Workload
    ) -> bool:
        """If the action would exceed a supervisor's intensity, escalate instead.

        The occurrence counts as handled on its target, so a re-delivery does
        not escalate a second time.
        """
        supervisor = over_intensity(self.draft, chain, self.now)
        if supervisor is None:
            return False
        intensity = supervisor.intensity
        self._block(
            Reason.ESCALATED,
            pod=target if isinstance(target, PodKey) else None,
            workload=target if isinstance(target, Workload) else None,
            wanted=wanted,
            supervisor=supervisor.name,
            detail=f"supervisor {supervisor.name} would exceed its intensity of "
            f"{intensity.max} in {format_duration(intensity.period)}",
        )
        self._escalate(supervisor, Reason.INTENSITY, pod, str(target))
        occurrence = self.signal.occurrence
        if isinstance(target, PodKey):
            self.draft.set_lifecycle(target, self.draft.lifecycle(target).remember(occurrence))
        else:
            self.draft.set_workload(target, self.draft.workload(target).remember(occurrence))
        return True

    # -- workloads ----------------------------------------------------------

    def _workload_signal(self, workload: Workload) -> None:
        pods = sorted((p for p in self.draft.pods() if p.owner == workload), key=lambda p: p.name)
        if not pods:
            self.rule = self._match_rule(())
            self._block(Reason.UNKNOWN_TARGET, workload=workload, detail=f"no pods of {workload}")
            return
        if not self.settings.namespace_allowed(workload.namespace):
            self._block(
                Reason.NAMESPACE_NOT_ALLOWED,
                workload=workload,
                detail=f"namespace {workload.namespace} is not in settings.namespaces",
            )
            return
        state = self._track(self.draft.workload(workload))
        self.draft.set_workload(workload, state)
        chain = self.tree.chain(pods[0])
        self.rule = self._match_rule(chain)
        reason = self._why_not(chain, state.has_handled(self.signal.occurrence))
        if reason is not None:
            self._block(reason, workload=workload)
            return
        rule = self.rule
        assert rule is not None
        recent = (
            state.last_action_at is not None and self.now - state.last_action_at < rule.probation
        )
        attempt = state.attempts if state.rule == rule.name and recent else 0
        step = rule.step(attempt)
        if step is None:
            self._block(
                Reason.EXHAUSTED, workload=workload, detail=f"all {len(rule.steps)} steps used"
            )
            return
        if step.kind.disruptive:
            self._block(
                Reason.INVALID_TARGET,
                workload=workload,
                detail=f"step {step.kind} acts on a pod, the signal names a workload",
            )
            return
        if step.kind is StepKind.NOTIFY:
            if not self._notify(step, attempt, chain, workload):
                return
        elif not self._workload_action(
            pods[0], chain, workload, is_dry_run(self.settings, rule), workload
        ):
            return
        updated = replace(
            self.draft.workload(workload),
            rule=rule.name,
            attempts=attempt + 1,
            last_action_at=self.now,
        )
        self.draft.set_workload(workload, updated.remember(self.signal.occurrence))

    def _workload_action(
        self, pod: Pod, chain: Chain, workload: Workload, dry_run: bool, target: PodKey | Workload
    ) -> bool:
        """A rule's rolloutRestart: frozen subtrees and rate limits apply, and it counts."""
        verdict = check_frozen(self.draft, chain, self.now) or check_rate_limits(
            self.runbook, self.draft, chain, self.now
        )
        if verdict is not None:
            self._block_verdict(verdict, workload=workload, wanted=ActionKind.ROLLOUT_RESTART)
            return False
        if self._escalates_instead(pod, chain, ActionKind.ROLLOUT_RESTART, target):
            return False
        rule = self.rule.name if self.rule else None
        if not rollout_restart(
            self.runbook, self.tree, self.draft, workload, None, rule, dry_run, self.now
        ):
            return False
        record_action(self.runbook, self.draft, chain, self.now)
        return True

    # -- shared -------------------------------------------------------------

    def _why_not(self, chain: Chain, handled: bool) -> Reason | None:
        """Reasons a signal leads nowhere, before any guard is asked."""
        if not self.signal.firing:
            return Reason.RESOLVED
        if self.rule is None:
            return Reason.NO_RULE
        if not chain:
            return Reason.UNSUPERVISED
        if handled:
            return Reason.DUPLICATE
        return None

    def _track(self, state: Lifecycle) -> Lifecycle:
        return track(state, self.signal, self.settings, self.now)

    def _match_rule(self, chain: Chain) -> Rule | None:
        for rule in self.index.rules_matching(self.signal.labels):
            if rule.supervisor is None or any(s.name == rule.supervisor for s in chain):
                return rule
        return None

    def _notify(self, step: Step, attempt: int, chain: Chain, target: PodKey | Workload) -> bool:
        """A rule's notify step: frozen subtrees stay quiet too; the escalation already told."""
        assert self.rule is not None
        pod = target if isinstance(target, PodKey) else None
        workload = target if isinstance(target, Workload) else None
        verdict = check_frozen(self.draft, chain, self.now)
        if verdict is not None:
            self._block_verdict(verdict, pod=pod, workload=workload, wanted=ActionKind.NOTIFY)
            return False
        self.draft.actions.append(
            Action(
                kind=ActionKind.NOTIFY,
                notifier=step.notifier,
                pod=pod,
                workload=workload,
                rule=self.rule.name,
                attempt=attempt + 1,
                dry_run=is_dry_run(self.settings, self.rule),
                detail=_step_detail(step, attempt, self.rule),
            )
        )
        return True

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

    def _block(
        self,
        reason: Reason,
        *,
        pod: PodKey | None = None,
        workload: Workload | None = None,
        wanted: ActionKind | None = None,
        supervisor: str | None = None,
        detail: str = "",
    ) -> None:
        self.draft.blocked.append(
            _blocked(
                reason,
                wanted,
                pod,
                workload,
                self.rule.name if self.rule else None,
                supervisor,
                detail or _DEFAULT_DETAIL.get(reason) or str(reason),
            )
        )

    def _block_verdict(
        self,
        verdict: Verdict,
        *,
        pod: PodKey | None = None,
        workload: Workload | None = None,
        wanted: ActionKind | None = None,
    ) -> None:
        self._block(
            verdict.reason,
            pod=pod,
            workload=workload,
            wanted=wanted,
            supervisor=verdict.supervisor,
            detail=verdict.detail,
        )


_DEFAULT_DETAIL = {
    Reason.RESOLVED: "signal resolved; nothing to do",
    Reason.NO_RULE: "no rule matches the signal",
    Reason.UNSUPERVISED: "no supervisor covers the target",
    Reason.DUPLICATE: "this alert occurrence was already handled",
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
    where = (
        f"step {attempt + 1} of rule {rule.name}"
        if attempt < len(rule.steps)
        else (f"rule {rule.name} exhausted after {len(rule.steps)} steps")
    )
    if step.kind is StepKind.DRAIN and step.duration:
        return f"{where}: drain for {format_duration(step.duration)}"
    if step.kind is StepKind.NOTIFY:
        return f"{where}: notify {step.notifier}"
    return f"{where}: {step.kind}"
