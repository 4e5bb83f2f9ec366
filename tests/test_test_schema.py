"""The runbook-test JSON Schema stays in step with the test-file loader (the authority).

The schema ships as package data (receiver/scenario/runbook-test.schema.json)
so editors validate test files while typing, as they do runbooks.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from receiver.runbook import RunbookInvalid
from receiver.scenario import spec

RULES = Path(__file__).parent.parent / "rules"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    text = resources.files("receiver.scenario").joinpath("runbook-test.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ("TOP", None),
        ("CASE", "case"),
        ("FLEET", "workload"),
        ("SIGNAL", "signal"),
        ("HEARTBEAT", "heartbeat"),
        ("EXPECT", "expect"),
    ],
)
def test_every_field_of_the_loader_is_in_the_schema(
    validator: Draft202012Validator, table: str, where: str | None
) -> None:
    schema = validator.schema
    node = schema if where is None else schema["$defs"][where]
    assert set(node["properties"]) == set(getattr(spec, table))


def test_the_example_tests_are_valid(validator: Draft202012Validator) -> None:
    for path in RULES.glob("*.test.yaml"):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, f"{path}: {errors[0].message}"


GOOD = """\
apiVersion: remediation/v1
kind: RunbookTest
runbook: shop.yaml
tests:
  - name: t
    fleet: [{deployment: checkout, namespace: shop, replicas: 3}]
    signals:
      - {at: 0s, alert: {alertname: X, namespace: shop, pod: checkout-0}}
"""

BAD = {
    "unknown top field": ("tests:", "test:"),
    "unknown case field": ("    fleet:", "    flet: []\n    fleet:"),
    "two workload kinds": ("{deployment: checkout,", "{deployment: checkout, daemonset: d,"),
    "replicas zero": ("replicas: 3", "replicas: 0"),
    "alert and resume": ("{at: 0s, alert:", "{at: 0s, resume: shop/x, alert:"),
    "status beside a heartbeat": (
        "{at: 0s, alert: {alertname: X, namespace: shop, pod: checkout-0}}",
        "{at: 0s, status: resolved, heartbeat: {namespace: shop, pod: p, status: ok}}",
    ),
    "bad heartbeat status": (
        "{at: 0s, alert: {alertname: X, namespace: shop, pod: checkout-0}}",
        "{at: 0s, heartbeat: {namespace: shop, pod: p, status: sick}}",
    ),
    "bad time": ("at: 0s", "at: soon"),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=str)
def test_schema_and_loader_reject_the_same_mistakes(
    validator: Draft202012Validator, tmp_path: Path, case: str
) -> None:
    good = tmp_path / "good.test.yaml"
    good.write_text(GOOD)
    spec.load_test_file(good)
    assert not list(validator.iter_errors(yaml.safe_load(GOOD)))
    old, new = BAD[case]
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    bad = tmp_path / "bad.test.yaml"
    bad.write_text(text)
    assert list(validator.iter_errors(yaml.safe_load(text))), "the schema accepts it"
    with pytest.raises(RunbookInvalid):
        spec.load_test_file(bad)
