"""`receiver check` and `receiver test`: validate runbooks, run their unit tests.

Editors and pre-commit hooks call these often, so they import only the
runbook language and the simulation: no web server, no Kubernetes client.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path

from receiver.cluster import READINESS_GATE
from receiver.runbook import Runbook, RunbookInvalid, load_file
from receiver.runbook.quantities import format_duration
from receiver.runbook.types import DrainBy
from receiver.scenario.spec import is_test_file, load_test_file

YAML_SUFFIXES = (".yaml", ".yml")


def add_check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("paths", nargs="+", type=Path, help="runbook files or folders")


def add_test_arguments(test: argparse.ArgumentParser) -> None:
    test.add_argument("paths", nargs="+", type=Path, help="test files or folders")
    test.add_argument("-v", "--verbose", action="store_true", help="print every test's timeline")
    test.add_argument("--junit", type=Path, help="also write the results as JUnit XML to this file")


def run_check(args: argparse.Namespace) -> int:
    return check(args.paths)


def run_test(args: argparse.Namespace) -> int:
    return test(args.paths, verbose=args.verbose, junit=args.junit)


def check(paths: Sequence[Path]) -> int:
    files = list(_files(paths, tests=False))
    if not files:
        print("receiver check: no runbook files found in " + ", ".join(map(str, paths)))
        return 1
    failed = 0
    for path in files:
        if _is_test(path):
            failed += _check_test_file(path)
            continue
        try:
            runbook = load_file(path)
        except RunbookInvalid as exc:
            failed += 1
            print(f"FAILED {path}: {len(exc.problems)} problem(s)")
            for problem in exc.problems:
                print(f"  {problem}")
            continue
        except OSError as exc:
            failed += 1
            print(f"FAILED {path}: {exc}")
            continue
        print(
            f"SUCCESS {path}: {len(runbook.rules)} rules, {len(runbook.by_name)} supervisors, "
            f"{len(runbook.notifiers)} notifiers"
        )
        print(f"  {settle_summary(runbook)}")
        drains = drain_summary(runbook)
        if drains:
            print(f"  {drains}")
    return 1 if failed else 0


def _is_test(path: Path) -> bool:
    try:
        return is_test_file(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False  # load_file reports it


def _check_test_file(path: Path) -> int:
    """A RunbookTest file given to check: validated as one, and said so (1 if it fails)."""
    try:
        spec = load_test_file(path)
        load_file(spec.runbook)
    except RunbookInvalid as exc:
        print(f"FAILED {path}: a RunbookTest file, {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            print(f"  {problem}")
        return 1
    except OSError as exc:
        print(f"FAILED {path}: a RunbookTest file whose runbook cannot be read: {exc}")
        return 1
    print(
        f"SUCCESS {path}: a RunbookTest file with {len(spec.cases)} tests of {spec.runbook}; "
        f"run them with `receiver test {path}`"
    )
    return 0


def test(paths: Sequence[Path], *, verbose: bool, junit: Path | None) -> int:
    files = list(_files(paths, tests=True))
    if not files:
        print("receiver test: no RunbookTest files found in " + ", ".join(map(str, paths)))
        return 1
    # The simulation and its report: only for `test`.
    from receiver.scenario.junit import write_junit
    from receiver.scenario.runner import report, run_file

    runbooks = [p for p in files if p.suffix in YAML_SUFFIXES and p.is_file() and not _is_test(p)]
    for path in runbooks:
        print(f"{path}: a Runbook, not a RunbookTest file; check it with `receiver check {path}`")
    results = [run_file(p) for p in files if p not in runbooks]
    if junit is not None:
        write_junit(results, junit)
    passed, failed, lines = report(results, verbose=verbose)
    if lines:
        print("\n".join(lines))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or runbooks or not passed else 0


def _files(paths: Sequence[Path], *, tests: bool) -> Iterator[Path]:
    """Explicit files are taken as given; folders are searched for the wanted kind."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for candidate in sorted(path.rglob("*")):
            if candidate.suffix not in YAML_SUFFIXES or not candidate.is_file():
                continue
            # errors="replace": a file that is not UTF-8 is a runbook for check to report
            if is_test_file(candidate.read_text(encoding="utf-8", errors="replace")) == tests:
                yield candidate


def settle_summary(runbook: Runbook) -> str:
    """How long restarts and pauses wait, and why: what the default comes from, what overrides."""
    settings = runbook.settings
    window = format_duration(runbook.settle_default) if runbook.settle_default else "0s"
    if settings.settle is not None:
        why = "settings.settle"
    elif runbook.heartbeats:
        why = "default: twice the longest heartbeat interval, at least 10s"
    else:
        why = "default: no heartbeats expected, so the 10s floor"
    text = f"restarts and pauses settle {window} out of traffic first ({why})"
    overrides = [
        f"{s.name} {format_duration(s.guards.settle) if s.guards.settle else '0s'}"
        for s in runbook.by_name.values()
        if s.guards is not None and s.guards.settle is not None
    ]
    return text + (f"; below {', '.join(overrides)}" if overrides else "")


def drain_summary(runbook: Runbook) -> str | None:
    """How drains take pods out of traffic, when a readiness gate does it anywhere."""
    overrides = {s.name: s.drain_by for s in runbook.by_name.values() if s.drain_by is not None}
    if DrainBy.READINESS_GATE not in {runbook.settings.drain_by, *overrides.values()}:
        return None
    how = {
        DrainBy.LABEL: f"relabel {runbook.settings.traffic_label}",
        DrainBy.READINESS_GATE: f"set the readiness gate {READINESS_GATE} False",
    }
    below = [f"{name} {how[by]}" for name, by in overrides.items()]
    text = f"drains {how[runbook.settings.drain_by]} (settings.drainBy)"
    return text + (f"; below {', '.join(below)}" if below else "")
