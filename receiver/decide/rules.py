"""Small questions about rules that several decisions ask: which rule by name, is it live,
what to call one of its steps."""

from __future__ import annotations

from receiver.decide.index import index
from receiver.runbook import Rule, Runbook
from receiver.runbook.types import Settings


def rule_named(runbook: Runbook, name: str | None) -> Rule | None:
    return None if name is None else index(runbook).rules_by_name.get(name)


def is_dry_run(settings: Settings, rule: Rule | None) -> bool:
    return settings.dry_run or (rule is not None and rule.dry_run)


def step_name(rule: Rule, attempts: int) -> str:
    """The `attempts`-th step of the rule (1-based), or its end (the `exhausted` step)."""
    if attempts <= len(rule.steps):
        return f"step {attempts} of rule {rule.name}"
    return f"rule {rule.name} exhausted after {len(rule.steps)} steps"
