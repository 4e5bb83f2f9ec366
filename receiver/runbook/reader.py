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

from receiver.runbook.limits import MAX_COUNT, MAX_DURATION, MAX_NUMBER_DIGITS
from receiver.runbook.matchers import MatcherError, Selector, parse_matcher
from receiver.runbook.problems import Problem
from receiver.runbook.quantities import (
    DURATION_HINT,
    QUANTITY_HINT,
    Quantity,
    format_duration,
    parse_duration,
    parse_quantity,
)
from receiver.runbook.suggest import did_you_mean
from receiver.runbook.yamltext import compose

T = TypeVar("T")
Node = yaml.Node

LABEL_NAME = re.compile(r"^(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z_][-A-Za-z0-9_.]*$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")
NAME_HINT = "a name of lower-case letters, digits, '-' and '_'"
SHOWN = 80
"""Characters of a found value a message shows: a 1 MB string must not make a 1 MB problem."""

__all__ = ["Node", "Reader", "compose", "describe", "key_text", "line_of"]


def key_text(node: Node) -> str:
    """A mapping key as a field name: a scalar's text, shortened; what a collection is."""
    if not isinstance(node, yaml.ScalarNode):
        return f"<{describe(node)}>"
    text = str(node.value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


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
        if len(value) > SHOWN:  # the start says where; the length says how much
            return json.dumps(value[:SHOWN], ensure_ascii=False) + f"... ({len(value)} characters)"
        return json.dumps(value, ensure_ascii=False)  # quoted, with newlines escaped
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TooLong:
    """A number written with more digits than any bound allows: never converted."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __str__(self) -> str:
        return f"a number of {self.digits} digits"


def _scalar(node: Node) -> object:
    if node.tag == "tag:yaml.org,2002:int":
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_NUMBER_DIGITS:
            return TooLong(digits)
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError):
        # e.g. a timestamp like 2024-13-45 that resolves as one but is no date: a string
        return str(node.value)


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
            key = key_text(key_node)
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

    def integer(
        self, node: Node, path: str, *, minimum: int = 0, maximum: int = MAX_COUNT
    ) -> int | None:
        value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        too_large = isinstance(value, int) and not isinstance(value, bool) and value > maximum
        if too_large or isinstance(value, TooLong):
            self.wrong(node, path, f"a whole number of at most {maximum}")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.wrong(node, path, f"a whole number of at least {minimum}")
            return None
        return value

    def duration(
        self,
        node: Node,
        path: str,
        *,
        allow_zero: bool = False,
        maximum: float = MAX_DURATION,
    ) -> float | None:
        value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        seconds = parse_duration(value) if isinstance(value, str) else None
        if seconds is None or (seconds == 0 and not allow_zero):
            self.wrong(node, path, ("a " if allow_zero else "a non-zero ") + DURATION_HINT)
            return None
        if seconds > maximum:
            self.wrong(node, path, f"a duration of at most {format_duration(maximum)}")
            return None
        return seconds

    def quantity(self, node: Node, path: str, *, maximum: int = MAX_COUNT) -> Quantity | None:
        raw = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(raw, TooLong):
            self.wrong(node, path, f"a count of at most {maximum} or a percentage")
            return None
        quantity = parse_quantity(raw)
        if quantity is None:
            self.wrong(node, path, QUANTITY_HINT)
            return None
        if quantity.percent and quantity.value > 100:
            self.wrong(node, path, "a percentage of at most 100%")
            return None
        if not quantity.percent and quantity.value > maximum:
            self.wrong(node, path, f"a count of at most {maximum} or a percentage")
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
                    f"a regular expression RE2 compiles ({exc})",
                )
        return Selector(tuple(matchers))

    def string_map(self, node: Node, path: str, what: str) -> dict[str, str] | None:
        if not isinstance(node, yaml.MappingNode):
            self.wrong(node, path, what)
            return None
        out: dict[str, str] = {}
        for key_node, value_node in node.value:
            value = self.string(value_node, f"{path}.{key_text(key_node)}")
            if value is not None:
                out[key_text(key_node)] = value
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
            name = key_text(key_node)
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
