"""Where a run's raw results go, and the rule that a recorded result is never overwritten.

Results live in bench/results/<round>-<commit>.json. A committed file there
is a record that bench/README.md quotes, so writing over it takes `--force`;
a result not committed yet (an earlier run of the same commit) is replaced.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def short_commit() -> str:
    """The checked-out commit, abbreviated (read-only git: no index refresh, no locks)."""
    done = subprocess.run(
        ["git", "--no-optional-locks", "rev-parse", "--short", "HEAD"],
        cwd=RESULTS.parent,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "unknown"


def default_out(name: str) -> Path:
    """bench/results/<name>-<commit>.json"""
    return RESULTS / f"{name}-{short_commit()}.json"


def refusal(out: Path, force: bool) -> str | None:
    """Why writing `out` is refused (a committed result, and no --force), or None."""
    if force or not out.exists() or not _committed(out):
        return None
    return f"{out} is a committed result; choose another --out, or --force to overwrite it"


def _committed(path: Path) -> bool:
    """Tracked by git; outside a checkout (no git to ask) every existing file counts."""
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "ls-files", "--error-unmatch", path.name],
            cwd=path.resolve().parent,
            capture_output=True,
            text=True,
        )
    except OSError:
        return True
    return done.returncode == 0 or "not a git repository" in done.stderr
