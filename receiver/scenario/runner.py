"""Run runbook test files and report every difference, like `promtool test rules`.

At every simulated instant the actions and escalations that happened must be
exactly the expected ones (none, where nothing is expected). Blocked
decisions, pod states and outcomes (what followed an action) are compared
where an expectation lists them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from receiver.runbook import Runbook, RunbookInvalid, load_file
from receiver.runbook.quantities import format_duration
from receiver.scenario.simulation import Events, Simulation
from receiver.scenario.spec import Case, ExpectSpec, TestFile, load_test_file


@dataclass
class CaseResult:
    name: str
    failures: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class FileResult:
    path: Path
    cases: list[CaseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_file(path: Path) -> FileResult:
    result = FileResult(path)
    try:
        spec = load_test_file(path)
        runbook = load_file(spec.runbook)
    except RunbookInvalid as exc:
        result.problems = [str(p) for p in exc.problems]
        return result
    except OSError as exc:
        result.problems = [f"{path}: cannot read: {exc}"]
        return result
    result.cases = [run_case(spec, runbook, case) for case in spec.cases]
    return result


def run_case(
    spec: TestFile,
    runbook: Runbook,
    case: Case,
    simulation: Callable[[Runbook, Case], Simulation] = Simulation,
) -> CaseResult:
    """One case; `simulation` plays the cluster (the Kubernetes adapter's tests pass their own)."""
    sim = simulation(runbook, case)
    result = CaseResult(case.name)
    try:
        sim.run()
    except LookupError as exc:
        result.failures.append(f"the timeline names something that does not exist: {exc}")
        return result
    expected = _merge(case.expect)
    if case.totals is not None:
        _compare_totals(result, case.totals, sim.events.values())
    for t in sorted(set(sim.events) | set(expected)):
        events = sim.events.get(t, Events())
        exp = expected.get(t)
        where = f"at {format_duration(t)}" + (f" ({spec.path}:{exp.line})" if exp else "")
        for kind in ("actions", "escalations"):
            want = getattr(exp, kind, None)
            if want is not None or case.totals is None:
                _compare(result, where, kind, want or (), getattr(events, kind))
        if exp is not None and exp.blocked is not None:
            _compare(result, where, "blocked", exp.blocked, events.blocked)
        if exp is not None and exp.outcomes is not None:
            _compare(result, where, "outcomes", exp.outcomes, events.outcomes)
        if exp is not None and exp.states:
            states = sim.states.get(t, {})
            want = dict(exp.states)
            got = {pod: states.get(pod, "(no such pod)") for pod in want}
            _compare(result, where, "states", _pairs(want), _pairs(got))
        for line in events.details:
            result.timeline.append(f"{format_duration(t):>8}  {line}")
    return result


def _compare_totals(
    result: CaseResult, totals: Mapping[str, int], events: Iterable[Events]
) -> None:
    """Whole-test counts: actions by kind (the word before the target), escalations, and
    outcomes (recovered, recurred, superseded)."""
    got: Counter[str] = Counter()
    for at in events:
        got.update(action.split(" ", 1)[0] for action in at.actions)
        got["escalations"] += len(at.escalations)
        got.update(outcome.split(" ", 1)[0] for outcome in at.outcomes)
    for kind, want in sorted(totals.items()):
        if got[kind] != want:
            result.failures.append(
                f"in all: {kind}\n    expected: {want}\n    got:      {got[kind]}"
            )


def _merge(expects: Iterable[ExpectSpec]) -> dict[float, ExpectSpec]:
    """Expectations by time; two entries at one time are one expectation."""
    out: dict[float, ExpectSpec] = {}
    for e in expects:
        if e.at not in out:
            out[e.at] = e
            continue
        prior = out[e.at]
        out[e.at] = ExpectSpec(
            at=e.at,
            line=prior.line,
            actions=_join(prior.actions, e.actions),
            blocked=_join(prior.blocked, e.blocked),
            escalations=_join(prior.escalations, e.escalations),
            states={**(prior.states or {}), **(e.states or {})} or None,
            outcomes=_join(prior.outcomes, e.outcomes),
        )
    return out


def _join(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if a is None and b is None else (*(a or ()), *(b or ()))


def _pairs(mapping: dict[str, str]) -> list[str]:
    return [f"{k}: {v}" for k, v in mapping.items()]


def _compare(
    result: CaseResult, where: str, kind: str, want: Iterable[str], got: Iterable[str]
) -> None:
    want_sorted, got_sorted = sorted(want), sorted(got)
    if want_sorted == got_sorted:
        return
    result.failures.append(
        f"{where}: {kind}\n"
        f"    expected: {', '.join(want_sorted) or '(none)'}\n"
        f"    got:      {', '.join(got_sorted) or '(none)'}"
    )


def report(results: list[FileResult], *, verbose: bool = False) -> tuple[int, int, list[str]]:
    """Lines to print, with the count of passed and failed tests."""
    lines: list[str] = []
    passed = failed = 0
    for file in results:
        lines.append(f"{file.path}")
        if file.problems:
            failed += 1
            lines.extend(f"  {p}" for p in file.problems)
            continue
        for case in file.cases:
            if case.passed:
                passed += 1
                lines.append(f"  PASS  {case.name}")
            else:
                failed += 1
                lines.append(f"  FAIL  {case.name}")
                for failure in case.failures:
                    lines.extend(f"        {line}" for line in failure.splitlines())
            if verbose or not case.passed:
                lines.append("        timeline:")
                lines.extend(f"        {line}" for line in case.timeline or ["(nothing happened)"])
    return passed, failed, lines
