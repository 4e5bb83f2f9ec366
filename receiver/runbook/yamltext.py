"""Untrusted YAML in, a node tree out, within the bounds of runbook/limits.py.

PyYAML composes recursively (100k nested brackets end in RecursionError),
resolves aliases by sharing nodes (so 820 bytes of nested aliases describe
billions of nodes for whoever walks them), and converts integers of any
length (past 4,300 digits Python refuses with ValueError). Every one of
these becomes a Problem here, before the loader walks anything.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from receiver.runbook.limits import MAX_BYTES, MAX_DEPTH, MAX_NODES
from receiver.runbook.problems import Problem, RunbookInvalid


class _TooDeep(yaml.MarkedYAMLError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses to nest deeper than MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(
                    problem=f"found collections nested more than {MAX_DEPTH} deep, "
                    f"expected at most {MAX_DEPTH} levels",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_source(path: Path) -> tuple[str | None, list[Problem]]:
    """A file's text, or the problem: too large, or not UTF-8 (with its line).

    A file that cannot be read raises OSError: that is the machine's fault, not the runbook's.
    """
    file = str(path)
    with path.open("rb") as stream:
        data = stream.read(MAX_BYTES + 1)  # never more, however large the file
    if len(data) > MAX_BYTES:
        found = f"found a file of more than {MAX_BYTES} bytes"
        return None, [Problem(file, 1, "", f"{found}, expected at most {MAX_BYTES} bytes")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        message = f"found the byte 0x{byte} at offset {exc.start}, expected text in UTF-8"
        return None, [Problem(file, line, "", message)]


def source_text(path: Path) -> str:
    """A YAML file's text for the loaders; RunbookInvalid when too large or not UTF-8."""
    text, problems = read_source(path)
    if text is None:
        raise RunbookInvalid(problems)
    return text


def document_kind(text: str) -> str | None:
    """The top-level `kind:` of a YAML document, read within the bounds; None if it has none."""
    node, problems = compose(text, "")
    if problems or not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if key.value == "kind" and isinstance(value, yaml.ScalarNode):
            return str(value.value)
    return None


def compose(text: str, file: str) -> tuple[yaml.Node | None, list[Problem]]:
    """Parse YAML text into a node tree within the bounds, or report why not with its line."""
    if len(text) > MAX_BYTES:
        found = f"found a document of {len(text)} characters"
        return None, [Problem(file, 1, "", f"{found}, expected at most {MAX_BYTES}")]
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        if isinstance(exc, _TooDeep):
            return None, [Problem(file, line, "", exc.problem or "")]
        what = exc.problem or "the text is not valid YAML"
        return None, [Problem(file, line, "", f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, "", f"YAML error: {exc}")]
    if node is not None:
        crossed = _crossing(node)
        if crossed is not None:
            found = f"found more than {MAX_NODES} values once aliases are expanded"
            message = f"{found}, expected at most {MAX_NODES} (aliases that nest multiply)"
            return None, [Problem(file, int(crossed.start_mark.line) + 1, "", message)]
    return node, []


def _compose(text: str) -> yaml.Node | None:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _crossing(root: yaml.Node) -> yaml.Node | None:
    """The node at which the tree, aliases expanded, passes MAX_NODES; None if it never does.

    Walks the tree as the loader will, shared (aliased) nodes once per use,
    and stops at the limit, so this costs at most MAX_NODES steps.
    """
    stack = [root]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return node
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return None
