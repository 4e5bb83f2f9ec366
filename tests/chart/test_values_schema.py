"""values.schema.json makes a typo fail at install, and docs/chart.md explains every value."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest
import yaml

from .render import CHART, REPO, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
VALUES = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("values", "culprit"),
    [
        pytest.param({"replicaCont": 3}, "replicaCont", id="top-level-typo"),
        pytest.param({"serviceMonitor": {"enabeld": True}}, "enabeld", id="nested-typo"),
        pytest.param({"receiver": {"dryrun": True}}, "dryrun", id="case-typo"),
        pytest.param({"rbac": {"clusterwide": True}}, "clusterwide", id="rbac-typo"),
        pytest.param({"replicaCount": "2"}, "replicaCount", id="wrong-type"),
        pytest.param({"receiver": {"logLevel": "verbose"}}, "logLevel", id="not-a-choice"),
        pytest.param(
            {"securityContext": {"runAsUser": 0, "runAsGroup": 0}}, "runAsUser", id="root"
        ),
        pytest.param(
            {"networkPolicy": {"enabled": True}}, "from", id="network-policy-without-peers"
        ),
        pytest.param({"alertmanagerConfig": {"groupWait": "soon"}}, "groupWait", id="bad-duration"),
    ],
)
def test_bad_values_fail_at_install(values: dict[str, Any], culprit: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert culprit in str(caught.value)


def test_the_defaults_satisfy_the_schema() -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(VALUES)


def _objects(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if schema.get("type") == "object" and "properties" in schema:
        yield path or "(root)", schema
        for key, sub in schema["properties"].items():
            yield from _objects(sub, f"{path}.{key}" if path else key)


def test_every_level_the_chart_defines_rejects_unknown_keys() -> None:
    levels = dict(_objects(SCHEMA))
    assert len(levels) > 10
    assert {p for p, s in levels.items() if s.get("additionalProperties") is not False} == set()


def _leaves(values: dict[str, Any], path: str = "") -> Iterator[str]:
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, dict) and value and here not in FREE_FORM:
            yield from _leaves(value, here)
        else:
            yield here


# Maps whose keys are the user's (resources), not the chart's.
FREE_FORM = {"resources", "relay.resources"}


def test_every_value_is_in_the_schema_and_documented() -> None:
    docs = (REPO / "docs" / "chart.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z][\w.]*)`", docs))
    leaves = list(_leaves(VALUES))
    assert len(leaves) > 40
    undocumented = [leaf for leaf in leaves if leaf not in documented]
    assert undocumented == []
    for leaf in leaves:
        schema = SCHEMA
        for key in leaf.split("."):
            schema = schema["properties"][key]
