"""Copy the repository's alert rule files into the chart (files/alerts/).

Helm reads only files inside the chart, so the PrometheusRule template reads
copies. Run this after changing alerts/; tests/chart/test_alerts_sync.py
fails while the copies differ:

    .venv/bin/python tests/chart/sync_alerts.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "alerts"
SHIPPED = REPO / "charts" / "remediation-receiver" / "files" / "alerts"
SUFFIXES = (".yaml", ".yml")


def is_rule_file(path: Path) -> bool:
    """A Prometheus rule file (top-level `groups`), not a promtool test file (`tests`)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return False
    return isinstance(document, dict) and "groups" in document and "tests" not in document


def rule_files(folder: Path) -> dict[str, bytes]:
    """Relative path to content, for every rule file under folder."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.suffix in SUFFIXES and path.is_file() and is_rule_file(path)
    }


def sync() -> list[str]:
    wanted = rule_files(ALERTS)
    changed = []
    for name in set(rule_files(SHIPPED)) - set(wanted):
        (SHIPPED / name).unlink()
        changed.append(f"removed {name}")
    for name, content in sorted(wanted.items()):
        target = SHIPPED / name
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ALERTS / name, target)
        changed.append(f"copied {name}")
    return changed


if __name__ == "__main__":
    for line in sync() or ["files/alerts/ already matches alerts/"]:
        print(line)
    sys.exit(0)
