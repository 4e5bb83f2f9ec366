"""`receiver replay`: a journal's signals decided again under another runbook, the differences.

Exit status: 0 when every decision came out as recorded, 1 when some
differ, 2 when the runbook or the journal cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from receiver.model import rfc3339
from receiver.runbook import RunbookInvalid, load_file
from receiver.scenario import journal
from receiver.scenario.junit import replay_junit
from receiver.scenario.replay import Difference, Kind, Result, replay


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runbook",
        type=Path,
        required=True,
        metavar="NEW.yaml",
        help="the runbook to decide the journal under",
    )
    parser.add_argument(
        "journal",
        nargs="+",
        type=Path,
        metavar="JOURNAL",
        help="journal files (`serve --journal`; rotated files too, in any order)",
    )
    parser.add_argument(
        "--junit", type=Path, metavar="FILE", help="also write the differences as JUnit XML"
    )


def run(args: argparse.Namespace) -> int:
    try:
        runbook = load_file(args.runbook)
    except RunbookInvalid as exc:
        print(f"receiver replay: {len(exc.problems)} problem(s) in the runbook", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"receiver replay: {args.runbook}: cannot read: {exc}", file=sys.stderr)
        return 2
    try:
        result = replay(runbook, journal.read(args.journal))
    except journal.JournalInvalid as exc:
        print(f"receiver replay: {exc}", file=sys.stderr)
        return 2
    for line in report(result, args.runbook):
        print(line)
    if args.junit is not None:
        replay_junit(result, str(args.runbook)).write(
            args.junit, encoding="utf-8", xml_declaration=True
        )
    return 1 if result.differences else 0


def report(result: Result, runbook: Path) -> Iterator[str]:
    span = result.ended - result.started
    started, ended = rfc3339(result.started), rfc3339(result.ended)
    yield f"replaying {started} to {ended} ({span:.1f}s) under {runbook}"
    for difference in result.differences:
        yield from _difference(difference, result.started)
    yield summary(result)


def _difference(d: Difference, started: float) -> Iterator[str]:
    yield f"{rfc3339(d.at)} (+{d.at - started:.1f}s)  {d.subject}: {d.kind}"
    yield f"    recorded: {d.recorded}"
    yield f"    replayed: {d.replayed}"
    yield f"    ({d.where})"


def summary(result: Result) -> str:
    decided = (
        f"{result.decisions} decisions ({result.signals} signals, "
        f"{result.timed} timed or by a human)"
    )
    if not result.differences:
        return f"summary: {decided}, no difference"
    counts = result.counts()
    kinds = ", ".join(f"{counts[k]} {k}" for k in Kind if counts[k])
    return f"summary: {decided}, {len(result.differences)} differ: {kinds}"
