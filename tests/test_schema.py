"""The runbook JSON Schema (for editors) stays in step with the loader (the authority).

The schema ships as package data: receiver/runbook/runbook.schema.json. These tests
fail when a field is added to one and not the other, when a value format drifts, or
when the schema accepts something the loader rejects (or the other way round).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from receiver.runbook import RunbookInvalid, fields, load_file, load_text
from receiver.runbook.quantities import parse_duration, parse_quantity
from receiver.runbook.types import Exhausted, NotifierKind, Strategy

RULES = Path(__file__).parent.parent / "rules"

# Each loader field table and where its object sits in the schema, as a JSON
# pointer walked from the root through $refs. A table used in several places
# is listed once per place, so every usage is checked.
TABLES = [
    ("TOP", ""),
    ("SETTINGS", "/properties/settings"),
    ("TARGET_LABELS", "/properties/settings/properties/targetLabels"),
    ("RATE_LIMIT", "/properties/settings/properties/rateLimit"),
    ("HEARTBEAT", "/properties/heartbeats/items"),
    ("SUPERVISOR", "/properties/supervisors/items"),
    ("SUPERVISOR", "/properties/supervisors/items/properties/children/items"),
    ("INTENSITY", "/properties/supervisors/items/properties/intensity"),
    ("GUARDS", "/properties/supervisors/items/properties/guards"),
    ("RATE_LIMIT", "/properties/supervisors/items/properties/guards/properties/rateLimit"),
    ("ESCALATION", "/properties/supervisors/items/properties/onEscalate/items"),
    ("BAD_ROLLOUT", "/properties/supervisors/items/properties/guards/properties/badRollout"),
    (
        "REMEDY",
        "/properties/supervisors/items/properties/guards/properties/badRollout/properties/remedy/items",
    ),
    ("RULE", "/properties/rules/items"),
    ("STEP", "/properties/rules/items/properties/steps/items"),
    ("DRAIN", "/properties/rules/items/properties/steps/items/properties/drain"),
    ("NOTIFIER", "/properties/notifiers/additionalProperties"),
    ("NOTIFIER_TARGET", "/properties/notifiers/additionalProperties/properties/alertmanager"),
    ("WEBHOOK", "/properties/notifiers/additionalProperties/properties/webhook"),
    ("SLACK", "/properties/notifiers/additionalProperties/properties/slack"),
    ("PAGERDUTY", "/properties/notifiers/additionalProperties/properties/pagerduty"),
]

ENUMS: list[tuple[type[StrEnum], str]] = [
    (Strategy, "/properties/supervisors/items/properties/strategy"),
    (Exhausted, "/properties/rules/items/properties/exhausted"),
]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = resources.files("receiver.runbook").joinpath("runbook.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def at(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    """The subschema at a JSON pointer, following $refs on the way and at the end."""
    node = deref(schema, schema)
    for part in pointer.split("/")[1:]:
        node = deref(schema, node[part])
    return node


def deref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local $refs are expected, found {ref}"
        node = schema
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def subschemas(node: object, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside the schema, with where it is."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from subschemas(sub, f"{where}/{key}/{name}")
            elif isinstance(value, dict):
                yield from subschemas(value, f"{where}/{key}")
            elif isinstance(value, list):
                for i, sub in enumerate(value):
                    yield from subschemas(sub, f"{where}/{key}/{i}")


# -- the schema itself ------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]


def test_objects_with_fields_reject_unknown_fields(schema: dict[str, Any]) -> None:
    open_objects = [
        where
        for where, node in subschemas(schema)
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_every_field_has_a_description(schema: dict[str, Any]) -> None:
    undescribed = [
        f"{where}/properties/{name}"
        for where, node in subschemas(schema)
        for name, field in node.get("properties", {}).items()
        if not field.get("description")
    ]
    assert undescribed == []


# -- in step with the loader ------------------------------------------------


def test_every_loader_table_is_compared() -> None:
    tables = {
        name
        for name, value in vars(fields).items()
        if name.isupper()
        and isinstance(value, dict)
        and all(isinstance(v, str) for v in value.values())
    }
    assert tables == {name for name, _ in TABLES}


@pytest.mark.parametrize(
    ("table", "pointer"), TABLES, ids=[f"{name}@{pointer or '/'}" for name, pointer in TABLES]
)
def test_schema_fields_match_loader_table(schema: dict[str, Any], table: str, pointer: str) -> None:
    properties = at(schema, pointer)["properties"]
    assert sorted(properties) == sorted(getattr(fields, table))


@pytest.mark.parametrize(("enum", "pointer"), ENUMS, ids=[e.__name__ for e, _ in ENUMS])
def test_schema_enum_matches_loader_enum(
    schema: dict[str, Any], enum: type[StrEnum], pointer: str
) -> None:
    assert at(schema, pointer)["enum"] == [member.value for member in enum]


def test_notifier_kinds_match(schema: dict[str, Any]) -> None:
    notifier = at(schema, "/$defs/notifier")
    kinds = [branch["required"] for branch in notifier["oneOf"]]
    assert kinds == [[kind.value] for kind in NotifierKind]
    assert set(fields.NOTIFIER) == {kind.value for kind in NotifierKind} | {"message"}


DURATIONS = [
    "30s", "5m", "1h30m", "500ms", "1d", "2m500ms", "1d2h3m4s5ms", " 5m ", "90s", "0s1ms",
    "0s", "00m", "", "5", "30 minutes", "1m30", "1s1h", "5M", "-5m", "1.5h", "5 m", "m",
]  # fmt: skip

QUANTITIES = [
    0, 3, 250, "3", "0%", "30%", "100%", "007%", " 30% ",
    -1, "101%", "130%", "30 %", "-1", "1.5", "%", "x", 1.5, True, None,
]  # fmt: skip


def schema_accepts(schema: dict[str, Any], ref: str, value: object) -> bool:
    """Whether one $defs entry accepts a value, resolved within the whole schema."""
    wrapper = {"$defs": schema["$defs"], "$ref": f"#/$defs/{ref}"}
    return bool(Draft202012Validator(wrapper).is_valid(value))


@pytest.mark.parametrize("text", DURATIONS, ids=repr)
def test_duration_patterns_agree_with_parser(schema: dict[str, Any], text: str) -> None:
    seconds = parse_duration(text)
    assert schema_accepts(schema, "durationOrZero", text) == (seconds is not None)
    assert schema_accepts(schema, "duration", text) == (seconds is not None and seconds > 0)


@pytest.mark.parametrize("raw", QUANTITIES, ids=repr)
def test_quantity_schema_agrees_with_loader(schema: dict[str, Any], raw: object) -> None:
    quantity = parse_quantity(raw)
    loader_accepts = quantity is not None and not (quantity.percent and quantity.value > 100)
    assert schema_accepts(schema, "quantity", raw) == loader_accepts


# -- the repository's runbooks ----------------------------------------------


def runbook_files() -> list[Path]:
    return [
        path
        for path in sorted(RULES.glob("*.yaml"))
        if (yaml.safe_load(path.read_text("utf-8")) or {}).get("kind") == "Runbook"
    ]


def test_rules_directory_has_runbooks() -> None:
    assert runbook_files(), f"no kind: Runbook files in {RULES}"


@pytest.mark.parametrize("path", runbook_files(), ids=lambda p: p.name)
def test_repository_runbooks_are_valid(validator: Draft202012Validator, path: Path) -> None:
    doc = yaml.safe_load(path.read_text("utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    load_file(path)


# -- schema and loader agree, case by case -----------------------------------

BASE: dict[str, Any] = {
    "apiVersion": "remediation/v1",
    "kind": "Runbook",
    "settings": {"namespaces": ["shop"], "rateLimit": {"max": 30, "per": "10m"}},
    "heartbeats": [{"match": {"namespace": "shop"}, "interval": "5s"}],
    "supervisors": [
        {
            "name": "checkout",
            "match": {"app": "checkout"},
            "intensity": {"max": 3, "period": "10m"},
            "guards": {"maxUnavailable": "30%", "cooldown": "1m"},
            "onEscalate": [{"notify": "oncall"}],
        }
    ],
    "rules": [
        {
            "name": "error-outlier",
            "match": {"alertname": "PodErrorRatioOutlier", "severity": "=~warning|critical"},
            "steps": [{"drain": {"for": "2m"}}, {"notify": "oncall"}, {"restart": {}}],
        }
    ],
    "notifiers": {"oncall": {"alertmanager": {"url": "http://alertmanager:9093"}}},
}

DELETE = object()


def changed(path: str, value: object) -> dict[str, Any]:
    """BASE with one value set (or deleted) at a dotted path like `rules.0.steps.0`."""
    doc = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return doc


def test_base_runbook_is_valid(validator: Draft202012Validator) -> None:
    assert list(validator.iter_errors(BASE)) == []
    load_text(yaml.safe_dump(BASE))


VALID = [
    pytest.param(changed("rules.0.steps.2", {"restart": None}), id="bare-restart"),
    pytest.param(changed("supervisors.0.freezeFor", "0s"), id="zero-freezeFor"),
    pytest.param(changed("supervisors.0.guards.minAvailable", "3"), id="count-as-string"),
    pytest.param(changed("settings.namespaces", ["*"]), id="every-namespace"),
    pytest.param(changed("notifiers.oncall", {"log": None, "message": "{{ cause }}"}), id="log"),
]


@pytest.mark.parametrize("doc", VALID)
def test_schema_and_loader_accept(validator: Draft202012Validator, doc: dict[str, Any]) -> None:
    assert [e.message for e in validator.iter_errors(doc)] == []
    load_text(yaml.safe_dump(doc))


# (runbook, where the schema reports it, where the loader reports it)
INVALID = [
    pytest.param(
        changed("settings.colour", "blue"),
        ("settings",),
        "settings.colour",
        id="unknown-field-in-settings",
    ),
    pytest.param(
        changed("rules.0.steps.0", {"drain": {"for": "2m"}, "restart": {}}),
        ("rules", 0, "steps", 0),
        "rules[0].steps[0]",
        id="step-with-two-keys",
    ),
    pytest.param(
        changed("supervisors.0.guards.maxUnavailable", "130%"),
        ("supervisors", 0, "guards", "maxUnavailable"),
        "supervisors[0].guards.maxUnavailable",
        id="percentage-over-100",
    ),
    pytest.param(
        changed("heartbeats.0.interval", "30 minutes"),
        ("heartbeats", 0, "interval"),
        "heartbeats[0].interval",
        id="duration-in-words",
    ),
    pytest.param(
        changed("settings.namespaces", DELETE),
        ("settings",),
        "settings.namespaces",
        id="missing-namespaces",
    ),
    pytest.param(
        changed("notifiers.oncall.log", {}),
        ("notifiers", "oncall"),
        "notifiers.oncall",
        id="notifier-with-two-kinds",
    ),
    pytest.param(
        changed("rules.0.steps.2", {"restart": {"now": True}}),
        ("rules", 0, "steps", 2, "restart"),
        "rules[0].steps[2].restart.now",
        id="restart-with-options",
    ),
    pytest.param(
        changed("rules.0.steps", []),
        ("rules", 0, "steps"),
        "rules[0].steps",
        id="no-steps",
    ),
    pytest.param(
        changed("heartbeats.0.missAfter", 1001),
        ("heartbeats", 0, "missAfter"),
        "heartbeats[0].missAfter",
        id="missAfter-past-its-bound",
    ),
    pytest.param(
        changed("supervisors.0.guards.maxUnavailable", 1_000_001),
        ("supervisors", 0, "guards", "maxUnavailable"),
        "supervisors[0].guards.maxUnavailable",
        id="count-past-its-bound",
    ),
    pytest.param(
        changed("supervisors.0.intensity.max", 1_000_001),
        ("supervisors", 0, "intensity", "max"),
        "supervisors[0].intensity.max",
        id="intensity-past-its-bound",
    ),
    pytest.param(
        changed("rules.0.probation", "0s"),
        ("rules", 0, "probation"),
        "rules[0].probation",
        id="zero-probation",
    ),
]


@pytest.mark.parametrize(("doc", "schema_where", "loader_where"), INVALID)
def test_schema_and_loader_reject(
    validator: Draft202012Validator,
    doc: dict[str, Any],
    schema_where: tuple[str | int, ...],
    loader_where: str,
) -> None:
    assert [tuple(e.absolute_path) for e in validator.iter_errors(doc)] == [schema_where]
    with pytest.raises(RunbookInvalid) as caught:
        load_text(yaml.safe_dump(doc))
    assert loader_where in [problem.path for problem in caught.value.problems]
