"""What `receiver check` costs on hostile runbooks: wall time and peak RSS, one process each.

    .venv/bin/python bench/hostile_runbooks.py   # table; results/hostile-runbooks-<commit>.json
    .venv/bin/python bench/hostile_runbooks.py --repeats 5 --out /tmp/h.json

Not part of run.py. Each case runs `receiver check FILE` in a fresh process
(so peak RSS is the case's own), three times by default; the figures are
the medians, wall and CPU time of the check alone (imports excluded), CPU
time being the steadier of the two on a shared machine. Cases: every
broken runbook kept in tests/fixtures/bad_runbooks (alias bombs, 100k-deep
nesting, 5000-digit integers, not UTF-8, ...) and generated ones at the
limits: a file of exactly the size limit, a document of exactly the node
limit, templates at both template limits, and the largest valid runbook of
regex rules that fits under the node limit. The tests bound the work
(nodes, depth, problems); this
measures what the bounds cost in seconds and megabytes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from record import default_out, refusal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BAD = ROOT / "tests" / "fixtures" / "bad_runbooks"
HEAD = "apiVersion: remediation/v1\nkind: Runbook\nsettings:\n  namespaces: [shop]\n"
RULE = '  - {{name: r{i}, match: {{alertname: "=~A{i}|B{i}.*"}}, steps: [{{restart: {{}}}}]}}\n'
NESTED = "{{ " + "(" * 35 + "1" + ")" * 35 + " }}"  # 77 characters
CHILD = """
import resource, sys, time
from receiver.cli import main
from receiver.commands import runbooks  # imported before the clocks start: not the check's cost
start, cpu = time.perf_counter(), time.process_time()
code = main(["check", sys.argv[1]])
took, used = time.perf_counter() - start, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RESULT", code, took, used, rss, file=sys.stderr)
"""


def generated(folder: Path) -> list[Path]:
    from receiver.runbook.limits import MAX_BYTES, MAX_NODES, MAX_TEMPLATE_SOURCE_TOTAL

    cases = {
        # exactly the size limit: comments, so the cost is reading and scanning
        "at_size_limit": HEAD + "#" * (MAX_BYTES - len(HEAD) - 1) + "\n",
        # exactly the node limit: the root mapping, one key, a list of the rest
        "at_node_limit": "x: [" + ", ".join(["1"] * (MAX_NODES - 3)) + "]\n",
        # the most regex rules under the node limit (14 nodes each): all valid
        # templates at both template limits: 8 of 4004 characters, nested expressions (the
        # costliest to compile of the shapes tried)
        "templates_at_limits": HEAD
        + "notifiers:\n"
        + "".join(
            f"  n{i}:\n    log: {{}}\n    message: '{NESTED * 52}'\n"
            for i in range(MAX_TEMPLATE_SOURCE_TOTAL // 4004)
        ),
        "regex_rules_at_node_limit": HEAD
        + "rules:\n"
        + "".join(RULE.format(i=i) for i in range((MAX_NODES - 20) // 14)),
    }
    paths = []
    for name, text in cases.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def measure(path: Path, repeats: int) -> dict[str, object]:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        wall = time.perf_counter() - start
        line = next(x for x in done.stderr.splitlines() if x.startswith("RESULT"))
        _, code, took, used, rss_kb = line.split()
        runs.append((int(code), float(took), wall, int(rss_kb), float(used)))
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "exit": runs[0][0],
        "check_seconds": statistics.median(r[1] for r in runs),
        "check_cpu_seconds": statistics.median(r[4] for r in runs),
        "process_seconds": statistics.median(r[2] for r in runs),
        "peak_rss_mb": statistics.median(r[3] for r in runs) / 1024,
        "problems_line": first_line(path),
    }


def first_line(path: Path) -> str:
    from receiver.runbook import RunbookInvalid, load_file

    try:
        load_file(path)
    except RunbookInvalid as exc:
        return f"{len(exc.problems)} listed: {str(exc.problems[0])[len(str(path)) :][:90]}"
    return "valid"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=default_out("hostile-runbooks"))
    parser.add_argument("--force", action="store_true", help="overwrite a committed result")
    args = parser.parse_args()
    refused = refusal(args.out, args.force)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        paths = sorted(BAD.glob("*.yaml")) + generated(Path(scratch))
        results = [measure(p, args.repeats) for p in paths]
    print(f"{'file':42} {'bytes':>8} {'check s':>8} {'CPU s':>6} {'RSS MB':>7}  first problem")
    for r in results:
        print(
            f"{r['file']:42} {r['bytes']:>8} {r['check_seconds']:>8.3f} "
            f"{r['check_cpu_seconds']:>6.3f} {r['peak_rss_mb']:>7.1f}  {r['problems_line']}"
        )
    args.out.write_text(json.dumps({"repeats": args.repeats, "cases": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
