"""The `receiver` command: check and test runbooks (serve and demo arrive with the service)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from receiver.runbook import RunbookInvalid, load_file
from receiver.scenario import is_test_file, report, run_file

YAML_SUFFIXES = (".yaml", ".yml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="receiver", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate runbooks; exit 1 with every error")
    check.add_argument("paths", nargs="+", type=Path, help="runbook files or folders")
    test = commands.add_parser("test", help="run runbook unit tests on a simulated clock")
    test.add_argument("paths", nargs="+", type=Path, help="test files or folders")
    test.add_argument("-v", "--verbose", action="store_true", help="print every test's timeline")
    commands.add_parser("demo", help="run the receiver on the embedded in-memory cluster")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.paths)
    if args.command == "test":
        return _test(args.paths, verbose=args.verbose)
    print(
        "receiver demo: not yet. The service (HTTP API, heartbeats, embedded cluster) "
        "is the next issue; until then try `receiver test -v rules/`."
    )
    return 0


def _check(paths: Sequence[Path]) -> int:
    files = list(_files(paths, tests=False))
    if not files:
        print("receiver check: no runbook files found in " + ", ".join(map(str, paths)))
        return 1
    failed = 0
    for path in files:
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
    return 1 if failed else 0


def _test(paths: Sequence[Path], *, verbose: bool) -> int:
    files = list(_files(paths, tests=True))
    if not files:
        print("receiver test: no RunbookTest files found in " + ", ".join(map(str, paths)))
        return 1
    passed, failed, lines = report([run_file(p) for p in files], verbose=verbose)
    print("\n".join(lines))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


def _files(paths: Sequence[Path], *, tests: bool) -> Iterator[Path]:
    """Explicit files are taken as given; folders are searched for the wanted kind."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for candidate in sorted(path.rglob("*")):
            if candidate.suffix not in YAML_SUFFIXES or not candidate.is_file():
                continue
            if is_test_file(candidate.read_text(encoding="utf-8")) == tests:
                yield candidate


if __name__ == "__main__":
    sys.exit(main())
