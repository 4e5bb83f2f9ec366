"""Typed reading of a YAML node tree that keeps line numbers.

PyYAML's composer gives nodes with their position; the Reader turns them
into Python values one field at a time and records a Problem for each
fault instead of stopping at the first, so `receiver check` can show them
all at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import yaml

from receiver.runbook.matchers import MatcherError, Selector, parse_matcher
from receiver.runbook.problems import Problem
from receiver.runbook.quantities import (
    DURATION_HINT,
    QUANTITY_HINT,
    Quantity,
    parse_duration,
    parse_quantity,
)
from receiver.runbook.suggest import did_you_mean

T = TypeVar("T")
Node = yaml.Node

LABEL_NAME = re.compile(r"^(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z_][-A-Za-z0-9_.]*$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")
NAME_HINT = "a name of lower-case letters, digits, '-' and '_'"


def compose(text: str, file: str) -> tuple[Node | None, list[Problem]]:
    """Parse YAML text into a node tree, or report the syntax error with its line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or "the text is not valid YAML"
        return None, [Problem(file, line, "", f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, "", f"YAML error: {exc}")]


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def describe(node: Node) -> str:
    """How a found value reads in a message."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping" if node.value else "an empty mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list" if node.value else "an empty list"
    value = _scalar(node)
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # quoted, with newlines escaped
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalar(node: Node) -> object:
    return yaml.SafeLoader("").construct_object(node, deep=True)


class Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: Node, path: str, found: str, expected: str) -> None:
        self.problems.append(
            Problem(self.file, line_of(node), path, f"found {found}, expected {expected}")
        )

    def wrong(self, node: Node, path: str, expected: str) -> None:
        self.problem(node, path, describe(node), expected)

    # -- containers ---------------------------------------------------------

    def mapping(
        self,
        node: Node,
        path: str,
        *,
        known: Mapping[str, str],
        required: tuple[str, ...] = (),
        what: str = "a mapping",
    ) -> dict[str, Node] | None:
        """Fields of a mapping; `known` maps each field name to its description."""
        if not isinstance(node, yaml.MappingNode):
            self.wrong(node, path, what)
            return None
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key in fields:
                self.problem(key_node, where, "a second value for this field", "each field once")
            elif key not in known:
                expected = "one of: " + ", ".join(known) + did_you_mean(key, known)
                self.problem(key_node, where, "an unknown field", expected)
            else:
                fields[key] = value_node
        for key in required:
            if key not in fields:
                where = f"{path}.{key}" if path else key
                self.problem(node, where, "nothing", known[key])
        return fields

    def sequence(self, node: Node, path: str, what: str) -> list[Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.wrong(node, path, what)
            return None
        return list(node.value)

    def items(
        self, node: Node | None, path: str, what: str, read: Callable[[Node, str], T | None]
    ) -> tuple[T, ...]:
        """Read every item of a list, keeping the good ones and reporting the rest."""
        if node is None:
            return ()
        out = []
        for i, item in enumerate(self.sequence(node, path, what) or ()):
            value = read(item, f"{path}[{i}]")
            if value is not None:
                out.append(value)
        return tuple(out)

    # -- scalars ------------------------------------------------------------

    def string(
        self,
        node: Node,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        hint: str = "a string",
    ) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or not isinstance(_scalar(node), str):
            self.wrong(node, path, hint)
            return None
        value = str(node.value)
        if pattern is not None and not pattern.fullmatch(value):
            self.wrong(node, path, hint)
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.wrong(node, path, "true or false")
            return None
        return value

    def integer(self, node: Node, path: str, *, minimum: int = 0) -> int | None:
        value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.wrong(node, path, f"a whole number of at least {minimum}")
            return None
        return value

    def duration(self, node: Node, path: str, *, allow_zero: bool = False) -> float | None:
        value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        seconds = parse_duration(value) if isinstance(value, str) else None
        if seconds is None or (seconds == 0 and not allow_zero):
            self.wrong(node, path, ("a " if allow_zero else "a non-zero ") + DURATION_HINT)
            return None
        return seconds

    def quantity(self, node: Node, path: str) -> Quantity | None:
        raw = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        quantity = parse_quantity(raw)
        if quantity is None:
            self.wrong(node, path, QUANTITY_HINT)
            return None
        if quantity.percent and quantity.value > 100:
            self.wrong(node, path, "a percentage of at most 100%")
            return None
        return quantity

    def selector(self, node: Node, path: str) -> Selector | None:
        """A mapping of label name to value, the value optionally prefixed by an operator."""
        fields = self.labels(node, path)
        if fields is None:
            return None
        matchers = []
        for name, (value_node, value) in fields.items():
            try:
                matchers.append(parse_matcher(name, value))
            except MatcherError as exc:
                self.problem(
                    value_node,
                    f"{path}.{name}",
                    describe(value_node),
                    f"a regular expression that compiles ({exc})",
                )
        return Selector(tuple(matchers))

    def string_map(self, node: Node, path: str, what: str) -> dict[str, str] | None:
        if not isinstance(node, yaml.MappingNode):
            self.wrong(node, path, what)
            return None
        out: dict[str, str] = {}
        for key_node, value_node in node.value:
            value = self.string(value_node, f"{path}.{key_node.value}")
            if value is not None:
                out[str(key_node.value)] = value
        return out

    def labels(self, node: Node, path: str) -> dict[str, tuple[Node, str]] | None:
        what = (
            'a mapping of label name to value, like {app: checkout, severity: "=~warning|critical"}'
        )
        if not isinstance(node, yaml.MappingNode):
            self.wrong(node, path, what)
            return None
        out: dict[str, tuple[Node, str]] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            where = f"{path}.{name}"
            if not LABEL_NAME.fullmatch(name):
                self.problem(key_node, where, f'the label name "{name}"', "a valid label name")
                continue
            if name in out:
                self.problem(key_node, where, "a second matcher for this label", "each label once")
                continue
            raw = _scalar(value_node) if isinstance(value_node, yaml.ScalarNode) else None
            if isinstance(raw, bool) or raw is None or isinstance(raw, list | dict):
                self.wrong(value_node, where, 'a label value as a string, like "true" or "=~a|b"')
                continue
            out[name] = (value_node, str(value_node.value))
        return out
