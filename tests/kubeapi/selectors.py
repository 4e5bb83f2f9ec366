"""Label and field selectors, parsed by the grammar of k8s.io/apimachinery/pkg/labels.

Label selector: comma-separated requirements, each one of `key`, `!key`, `key=v`,
`key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`, `key>n`, `key<n`. `!=` and `notin`
also match objects without the key. Like the real parser, `key in ()` means the set {""}.
Field selector: comma-separated `path=v`, `path==v`, `path!=v` over the fields a kind allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SPECIAL = "!=(),<>"
_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class SelectorError(ValueError):
    """A selector the real server would refuse with 400 BadRequest."""


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _SPECIAL:
            two = text[i : i + 2]
            if two in ("==", "!="):
                out.append(two)
                i += 2
            else:
                out.append(ch)
                i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            out.append(text[i:j])
            i = j
    return out


def _check_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r}: bad prefix")
    if not name or len(name) > 63 or not _NAME.match(name):
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r}")
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _NAME.match(value):
        raise SelectorError(f"unable to parse requirement: invalid label value {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # exists, !, =, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key, "")
        match self.op:
            case "exists":
                return has
            case "!":
                return not has
            case "=" | "in":
                return has and value in self.values
            case "!=" | "notin":
                return not has or value not in self.values
            case _:
                if not has or not re.fullmatch(r"-?\d+", value):
                    return False
                limit = int(self.values[0])
                return int(value) > limit if self.op == "gt" else int(value) < limit


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self, found: str | None, expected: str) -> SelectorError:
        return SelectorError(f"found '{found or 'EOS'}', expected: {expected}")

    def ident(self, what: str) -> str:
        tok = self.take()
        if tok is None or tok in _SPECIAL or tok in ("==", "!="):
            raise self.fail(tok, what)
        return tok

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.take()
            return Requirement(_check_key(self.ident("identifier after '!'")), "!")
        key = _check_key(self.ident("identifier"))
        op = self.peek()
        if op in (None, ","):
            return Requirement(key, "exists")
        self.take()
        if op in ("=", "==", "!="):
            value = "" if self.peek() in (None, ",") else self.ident("value")
            return Requirement(key, "!=" if op == "!=" else "=", (_check_value(value),))
        if op in (">", "<"):
            value = self.ident("integer value")
            if not re.fullmatch(r"-?\d+", value):
                raise SelectorError(f"unable to parse requirement: {value!r} is not an integer")
            return Requirement(key, "gt" if op == ">" else "lt", (value,))
        if op in ("in", "notin"):
            return Requirement(key, op, self.values())
        raise self.fail(op, "=, !=, ==, in, notin, >, <")

    def values(self) -> tuple[str, ...]:
        if self.take() != "(":
            raise self.fail(self.toks[self.pos - 1], "'(' after in/notin")
        if self.peek() == ")":
            self.take()
            return ("",)
        out: list[str] = []
        while True:
            tok = self.peek()
            out.append(_check_value("" if tok in (",", ")") else self.ident("value")))
            tok = self.take()
            if tok == ")":
                return tuple(out)
            if tok != ",":
                raise self.fail(tok, "',' or ')'")


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text or not text.strip():
            return cls()
        parser = _Parser(text)
        reqs = [parser.requirement()]
        while parser.peek() is not None:
            tok = parser.take()
            if tok != ",":
                raise parser.fail(tok, "','")
            reqs.append(parser.requirement())
        return cls(tuple(reqs))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)


COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
# The field labels the real server registers per kind (pods: GetAttrs / PodToSelectableFields).
KIND_FIELDS: Mapping[str, frozenset[str]] = {
    "Pod": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "Event": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
}


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if path == "source" and isinstance(obj.get("source"), Mapping):
        value = obj["source"].get("component")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (path, equal?, value)

    @classmethod
    def parse(cls, text: str | None, kind: str) -> FieldSelector:
        if not text or not text.strip():
            return cls()
        allowed = COMMON_FIELDS | KIND_FIELDS.get(kind, frozenset())
        terms = []
        for part in text.split(","):
            m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
            if m is None:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
            path, op, value = m.groups()
            if path not in allowed:
                raise SelectorError(f'field label not supported: "{path}"')
            terms.append((path, op != "!=", value))
        return cls(tuple(terms))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_field(obj, path) == value) == equal for path, equal, value in self.terms)
