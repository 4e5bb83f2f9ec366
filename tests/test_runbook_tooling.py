"""Runbook tooling: test --junit, check and test told the other kind of file, --version."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from prometheus_client import CollectorRegistry

import receiver as package
from receiver.metrics import Metrics

ROOT = Path(__file__).parent.parent


def receiver(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiver", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_junit_report_of_a_failing_and_a_broken_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "rules" / "shop.yaml", tmp_path / "shop.yaml")
    test = (ROOT / "rules" / "shop.test.yaml").read_text()
    test = test.replace("actions: [drain shop/checkout-0]", "actions: [restart shop/checkout-0]", 1)
    (tmp_path / "shop.test.yaml").write_text(test)
    (tmp_path / "broken.test.yaml").write_text(
        "apiVersion: remediation/v1\nkind: RunbookTest\nrunbook: missing.yaml\ntests: []\n"
    )
    junit = tmp_path / "report.xml"
    done = receiver("test", "--junit", junit, tmp_path)
    assert done.returncode == 1
    root = ET.parse(junit).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites", "9", "1", "1",
    )  # fmt: skip
    broken, shop = root.findall("testsuite")
    assert broken.get("name") == str(tmp_path / "broken.test.yaml")
    error = broken.find("testcase/error")
    assert error is not None
    assert "missing.yaml" in (error.text or "")
    failed = [c for c in shop.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == [
        "one bad pod is drained, then restored and passes probation"
    ]
    failure = failed[0].find("failure")
    assert failure is not None
    assert "expected: restart shop/checkout-0" in (failure.text or "")
    assert "got:      drain shop/checkout-0" in (failure.text or "")
    assert len(shop.findall("testcase")) == 8


def test_check_on_a_test_file_validates_it_as_one_and_says_so() -> None:
    done = receiver("check", "rules/shop.test.yaml")
    assert done.returncode == 0, done.stdout
    assert done.stdout == (
        "SUCCESS rules/shop.test.yaml: a RunbookTest file with 8 tests of rules/shop.yaml; "
        "run them with `receiver test rules/shop.test.yaml`\n"
    )


def test_check_on_a_broken_test_file_names_its_fields(tmp_path: Path) -> None:
    bad = tmp_path / "bad.test.yaml"
    bad.write_text("apiVersion: remediation/v1\nkind: RunbookTest\nrunbook: x.yaml\ntest: []\n")
    done = receiver("check", bad)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == f"FAILED {bad}: a RunbookTest file, 2 problem(s)"
    assert f"  {bad}:4: test: found an unknown field" in lines[2]
    assert lines[2].endswith('(did you mean "tests"?)')


def test_test_on_a_runbook_says_to_check_it() -> None:
    done = receiver("test", "rules/shop.yaml")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "rules/shop.yaml: a Runbook, not a RunbookTest file; "
        "check it with `receiver check rules/shop.yaml`",
        "0 passed, 0 failed",
    ]


def test_version_and_build_info() -> None:
    done = receiver("--version")
    assert done.returncode == 0
    assert done.stdout == f"receiver {package.__version__}\n"
    registry = CollectorRegistry()
    Metrics(registry)
    labels = {"version": package.__version__, "python": sys.version.split()[0]}
    assert registry.get_sample_value("remediation_build_info", labels) == 1.0
