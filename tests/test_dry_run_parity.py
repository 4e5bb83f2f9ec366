"""Dry-run decides exactly as a live run would: the example timelines, run both ways.

Compared at every instant: the actions, the escalations and every decision
a guard held (with its reason). Only the outcome may differ (a dry-run action
is marked as such), and so may the bookkeeping of signals about a restarted
pod: a live run's restart brings a new pod object (a re-delivered alert
predates it, its old heartbeat conditions are gone), a dry-run's pod stays the
same object (the alert is a duplicate, its conditions resolve).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from receiver.model import Reason
from receiver.runbook import Runbook, load_file
from receiver.scenario.simulation import Events, Simulation
from receiver.scenario.spec import Case, load_test_file

RULES = Path(__file__).parents[1] / "rules"


def cases() -> list[Any]:
    found = []
    for path in sorted(RULES.glob("*.test.yaml")):
        spec = load_test_file(path)
        runbook = load_file(spec.runbook)
        found.extend(pytest.param(runbook, case, id=case.name) for case in spec.cases)
    assert found, f"no runbook tests in {RULES}"
    return found


def timeline(runbook: Runbook, case: Case) -> dict[float, tuple[list[str], ...]]:
    sim = Simulation(runbook, case)
    sim.run()
    return {t: _decisions(events) for t, events in sorted(sim.events.items())}


def _decisions(events: Events) -> tuple[list[str], ...]:
    actions = sorted(a.removesuffix(" (dry-run)") for a in events.actions)
    held = sorted(b for b in events.blocked if Reason(b.split(" ", 1)[0]).is_guard)
    return actions, held, sorted(events.escalations)


@pytest.mark.parametrize(("runbook", "case"), cases())
def test_a_dry_run_timeline_is_the_live_one(runbook: Runbook, case: Case) -> None:
    dry = replace(runbook, settings=replace(runbook.settings, dry_run=True))
    restart_time = replace(runbook.settings, restart_time=case.restart_time)
    live = replace(runbook, settings=restart_time)
    dry = replace(dry, settings=replace(dry.settings, restart_time=case.restart_time))

    assert timeline(dry, case) == timeline(live, case)
