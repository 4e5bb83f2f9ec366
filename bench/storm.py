"""The storm lab: the same failures under three remediation policies, measured.

    .venv/bin/python bench/storm.py               # every scenario and policy: table, JSON, plots
X
    .venv/bin/python bench/storm.py --only outage --policies receiver --no-plots

A simulated 100-pod fleet on a simulated clock (bench/stormlab/world.py)
meets five scenarios: one bad pod, a flapping pod, a dependency outage
hitting 60% of the fleet for 5 minutes, a slow (gray) pod, and the receiver
losing every heartbeat at once. Three policies face each: liveness probes
at Kubernetes' defaults, a kubervisor-style breaker, and the receiver's own
pipeline with bench/stormlab/runbook.yaml. The record goes to
bench/results/storm-<commit>.json (refused if it exists, unless --force),
the plots to bench/results/storm/<scenario>.png.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the lab's package, when run as a script

from record import RESULTS, default_out, refusal, short_commit  # noqa: E402
from stormlab import breaker, liveness, receiver_policy, report  # noqa: E402
from stormlab.world import SCENARIOS, Scenario, Trace  # noqa: E402

POLICIES: dict[str, Callable[[Scenario], Trace]] = {
    "liveness": liveness.run,
    "breaker": breaker.run,
    "receiver": receiver_policy.run,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the storm lab.")
    p.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    p.add_argument("--policies", default=",".join(POLICIES), help="comma-separated policies")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the table as markdown and write nothing (what the README shows)",
    )
    p.add_argument("--out", type=Path, help="the JSON record (default results/storm-<commit>.json)")
    p.add_argument("--plots", type=Path, default=RESULTS / "storm", help="directory for PNGs")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--force", action="store_true", help="overwrite an existing record")
    args = p.parse_args(argv)
    args.only = _choices(p, "--only", args.only, SCENARIOS)
    args.policies = _choices(p, "--policies", args.policies, POLICIES)
    return args


def _choices(p: argparse.ArgumentParser, flag: str, value: str, known: Iterable[str]) -> list[str]:
    known = list(known)
    wanted = [x.strip() for x in value.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in known]
    if unknown:
        p.error(f"{flag}: unknown {unknown}; choose from {', '.join(known)}")
    return wanted


def source() -> dict[str, str]:
    """Which code was measured (read-only git: no index refresh, no locks)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=HERE, capture_output=True, text=True
        )
        return done.stdout.strip()

    return {
        "commit": short_commit(),
        "uncommitted": git("status", "--porcelain", "--", "../receiver", "stormlab", "storm.py"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    code = source()
    out = args.out or default_out("storm")
    refused = None if args.markdown else refusal(out, args.force)
    if refused:
        print(f"storm: {refused}", file=sys.stderr)
        return 2
    started = time.monotonic()
    traces = [POLICIES[p](SCENARIOS[s]) for s in args.only for p in args.policies]
    elapsed = time.monotonic() - started
    if args.markdown:
        print(report.markdown(traces))
        return 0
    print(report.text(traces))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.dumps(report.record(traces, code, elapsed)) + "\n")
    print(f"\nwritten {out} ({elapsed:.1f} s simulated work)")
    if not args.no_plots:
        for path in report.plot(traces, args.plots):
            print(f"plot {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
