"""Runbook test results as JUnit XML, the report CI systems read (`receiver test --junit`).

One <testsuite> per test file, one <testcase> per test; a failed test
carries its failures and its timeline, a file that cannot be loaded is one
errored case with its problems. The layout is the one Jenkins, GitLab and
GitHub test reporters accept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from receiver.model import rfc3339
from receiver.scenario.replay import Result
from receiver.scenario.runner import FileResult


def junit_xml(results: list[FileResult]) -> ET.ElementTree[ET.Element]:
    root = ET.Element("testsuites", name="receiver test")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for file in results:
        suite = ET.SubElement(root, "testsuite", name=str(file.path))
        counts = _suite(suite, file)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(root)


def _suite(suite: ET.Element, file: FileResult) -> dict[str, int]:
    if file.problems:
        case = ET.SubElement(suite, "testcase", name="load", classname=str(file.path))
        error = ET.SubElement(case, "error", message=f"{len(file.problems)} problem(s)")
        error.text = "\n".join(file.problems)
        return {"tests": 1, "failures": 0, "errors": 1}
    failures = 0
    for result in file.cases:
        case = ET.SubElement(suite, "testcase", name=result.name, classname=str(file.path))
        if not result.passed:
            failures += 1
            failure = ET.SubElement(case, "failure", message=result.failures[0].splitlines()[0])
            failure.text = "\n".join(result.failures)
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(result.timeline or ["(nothing happened)"])
    return {"tests": len(file.cases), "failures": failures, "errors": 0}


def write_junit(results: list[FileResult], path: Path) -> None:
    junit_xml(results).write(path, encoding="utf-8", xml_declaration=True)


def replay_junit(result: Result, suite_name: str) -> ET.ElementTree[ET.Element]:
    """`receiver replay --junit`: one failed case per decision that differs, one passed
    case for all the decisions that came out as recorded."""
    root = ET.Element("testsuites", name="receiver replay")
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    same = result.decisions - len(result.differences)
    ET.SubElement(suite, "testcase", name=f"{same} decisions as recorded", classname=suite_name)
    for difference in result.differences:
        case = ET.SubElement(
            suite,
            "testcase",
            name=f"{rfc3339(difference.at)} {difference.subject}",
            classname=suite_name,
        )
        failure = ET.SubElement(case, "failure", message=str(difference.kind))
        failure.text = (
            f"{difference.where}\nrecorded: {difference.recorded}\nreplayed: {difference.replayed}"
        )
    counts = {"tests": 1 + len(result.differences), "failures": len(result.differences)}
    for element in (root, suite):
        element.set("tests", str(counts["tests"]))
        element.set("failures", str(counts["failures"]))
        element.set("errors", "0")
    ET.indent(root)
    return ET.ElementTree(root)
