"""`receiver check` and `receiver test` as a user runs them: exit codes and output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
BAD = Path(__file__).parent / "fixtures" / "bad_runbooks"


def receiver(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_passes_the_example_rules() -> None:
    result = receiver("check", "rules/")
    assert result.returncode == 0, result.stdout
    assert "SUCCESS rules/shop.yaml" in result.stdout
    assert "shop.test.yaml" not in result.stdout, "test files are not runbooks"


def test_check_explains_the_settle_window(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(
        "apiVersion: remediation/v1\nkind: Runbook\nsettings: {namespaces: [shop]}\n"
        "heartbeats: [{match: {namespace: shop}, interval: 30s}]\n"
        "supervisors:\n"
        "  - {name: db, match: {app: db}, intensity: {max: 1, period: 1m}, guards: {settle: 0s}}\n",
        encoding="utf-8",
    )
    result = receiver("check", path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[1] == (
        "  restarts and pauses settle 1m out of traffic first "
        "(default: twice the longest heartbeat interval, at least 10s); below db 0s"
    )


def test_check_fails_with_every_error_and_its_line() -> None:
    result = receiver("check", BAD / "many_mistakes.yaml", BAD / "unknown_notifier.yaml")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].endswith("many_mistakes.yaml: 5 problem(s)")
    assert sum(1 for line in lines if "many_mistakes.yaml:" in line and line.startswith("  ")) == 5
    assert any(
        "unknown_notifier.yaml:9: supervisors[0].onEscalate[0].notify" in line for line in lines
    )


def test_check_with_nothing_to_check_fails(tmp_path: Path) -> None:
    result = receiver("check", tmp_path)
    assert result.returncode == 1
    assert "no runbook files found" in result.stdout


def test_test_runs_the_example_rules() -> None:
    result = receiver("test", "rules/")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "20 passed, 0 failed"


@pytest.fixture
def broken_test(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "rules" / "shop.yaml", tmp_path / "shop.yaml")
    test = (ROOT / "rules" / "shop.test.yaml").read_text()
    # Expect a restart where the runbook drains: the runner must say so.
    test = test.replace("actions: [drain shop/checkout-0]", "actions: [restart shop/checkout-0]", 1)
    (tmp_path / "shop.test.yaml").write_text(test)
    return tmp_path


def test_a_failing_expectation_prints_a_readable_diff(broken_test: Path) -> None:
    result = receiver("test", broken_test)
    assert result.returncode == 1
    out = result.stdout
    assert "  FAIL  one bad pod is drained, then restored and passes probation" in out
    assert "at 0s (" in out
    assert "shop.test.yaml:" in out
    assert "    expected: restart shop/checkout-0" in out
    assert "    got:      drain shop/checkout-0" in out
    assert "timeline:" in out
    assert out.strip().splitlines()[-1] == "7 passed, 1 failed"


def test_verbose_prints_every_timeline() -> None:
    result = receiver("test", "-v", "rules/shop.test.yaml")
    assert result.returncode == 0
    assert "blocked shop/checkout-3 (max_unavailable): acting would leave 4 of 10" in result.stdout


def test_a_test_file_with_a_broken_runbook_fails(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text((BAD / "unknown_step.yaml").read_text())
    (tmp_path / "bad.test.yaml").write_text(
        "apiVersion: remediation/v1\nkind: RunbookTest\nrunbook: bad.yaml\ntests: []\n"
    )
    result = receiver("test", tmp_path)
    assert result.returncode == 1
    assert 'rules[0].steps[0]: found "restrat"' in result.stdout


def test_a_bad_test_file_names_the_field(tmp_path: Path) -> None:
    shutil.copy(ROOT / "rules" / "shop.yaml", tmp_path / "shop.yaml")
    (tmp_path / "t.yaml").write_text(
        "apiVersion: remediation/v1\nkind: RunbookTest\nrunbook: shop.yaml\ntests:\n"
        "  - name: x\n    fleet: []\n    signals:\n      - {at: soon, alert: {pod: a}}\n"
    )
    result = receiver("test", tmp_path / "t.yaml")
    assert result.returncode == 1
    assert 't.yaml:8: tests[0].signals[0].at: found "soon", expected a duration' in result.stdout


def test_a_test_file_field_that_would_be_ignored_is_an_error(tmp_path: Path) -> None:
    shutil.copy(ROOT / "rules" / "shop.yaml", tmp_path / "shop.yaml")
    (tmp_path / "t.yaml").write_text(
        "apiVersion: remediation/v1\nkind: RunbookTest\nrunbook: shop.yaml\ntests:\n"
        "  - name: x\n    fleet: []\n    signals:\n"
        "      - {at: 0s, heartbeat: {namespace: shop, pod: a, status: ok}, startsAt: 0s}\n"
    )
    result = receiver("test", tmp_path / "t.yaml")
    assert result.returncode == 1
    assert (
        "t.yaml:8: tests[0].signals[0].startsAt: found startsAt beside heartbeat, expected it alone"
        in result.stdout
    )
