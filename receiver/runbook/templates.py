"""Notifier messages: Jinja2 in a sandbox, bounded in time and output, checked before use.

The sandbox keeps a template away from the receiver's objects; it does not
bound cost. A template is text anyone who edits the runbook writes, so a
render here also stops:

- at MAX_TEMPLATE_OUTPUT characters, streamed chunk by chunk, and before an
  operator, method or filter builds a value past that size in one step
  (`'x' * 100000000`, `'x'.center(10**8)`, `'%100000000s' % x`): these are
  refused from their operands, before anything is allocated;
- at MAX_TEMPLATE_SECONDS: a trace function on the rendering thread sees
  every line of template code (each loop iteration) and every Python call
  made for it, and raises once the deadline passes. Loops that print nothing
  are stopped too, which an output bound alone would not do.

`check` is what `receiver check` runs: syntax, and every variable a template
reads must be one delivery passes (VARIABLES), so `{{ orign }}` fails the
check instead of rendering empty for months.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sized
from types import FrameType
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, str_join
from jinja2.sandbox import SandboxedEnvironment

from receiver.runbook.limits import (
    MAX_TEMPLATE_OUTPUT,
    MAX_TEMPLATE_SECONDS,
    MAX_TEMPLATE_SOURCE,
)
from receiver.runbook.suggest import closest, did_you_mean

VARIABLES = {
    "action": "notify: the action this message is sent by",
    "detail": "why, in words: the same text as the decision log's detail",
    "rule": "the rule whose step this is, or empty",
    "supervisor": "the escalating supervisor, or empty",
    "cause": "why it escalated: intensity, systemic or bad_rollout; empty outside escalations",
    "origin": "the pod or child supervisor that tipped the escalation over, or empty",
    "pod": "the pod, as namespace/name, or empty",
    "workload": "the workload, as namespace/kind/name (shop/deployment/web), or empty",
    "signal": "the signal's name (alertname, HeartbeatMissed, ...), or empty",
    "labels": "the signal's labels, a mapping: {{ labels.severity }}",
    "dry_run": "true when nothing was changed (dry-run)",
    "namespace": "the namespace of the pod or workload, or empty",
    "frozen_until": "when the escalation's freeze ends (RFC 3339, UTC), or empty",
    "link": "the receiver's page on this (supervisor, pod, decisions): settings.externalURL",
}
"""Each variable a message may read, with what it holds (docs/runbook.md lists them)."""

_GROWING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class TemplateRefused(Exception):
    """A render stopped at a bound; the message says which."""


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` to a bounded join: doubling a string with ~ grows it past any bound."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _BoundedEnvironment(SandboxedEnvironment):
    """A sandbox whose operators, calls and filters refuse results past the output bound."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=jinja2.Undefined)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _before_binop(operator, left, right)
        return _sized(super().call_binop(context, operator, left, right))

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _before_call(__obj, args, kwargs)
        return _sized(SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs))

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        # each part is a value already within the bound, so this join allocates little
        return _sized(str_join(parts))  # type: ignore[no-any-return]


def check(text: str) -> tuple[str, str] | None:
    """What is wrong with a message template, as (found, expected); None when nothing is."""
    if len(text) > MAX_TEMPLATE_SOURCE:
        found = f"a template of {len(text)} characters"
        return found, f"a template of at most {MAX_TEMPLATE_SOURCE} characters"
    try:
        _compiled(text)  # code generation has limits of its own (nesting)
        read = meta.find_undeclared_variables(_ENV.parse(text))
    except jinja2.TemplateSyntaxError as exc:
        what = (exc.message or "").rstrip(".")
        return f"a template error ({what}, template line {exc.lineno})", "a valid Jinja2 template"
    except RecursionError:  # Jinja's parser and compiler recurse once per nesting level
        return "a template nested too deeply to compile", "a valid Jinja2 template"
    unknown = sorted(read - VARIABLES.keys() - _ENV.globals.keys())
    if unknown:
        names = ", ".join(f'"{name}"' for name in unknown)
        found = f"the undefined variable{'s' if len(unknown) > 1 else ''} {names}"
        return found, "variables among: " + ", ".join(VARIABLES) + _did_you_mean(unknown)
    return None


def _did_you_mean(unknown: list[str]) -> str:
    if len(unknown) == 1:
        return did_you_mean(unknown[0], VARIABLES)
    close = [(name, closest(name, VARIABLES)) for name in unknown]
    said = ", ".join(f'"{c}" for "{name}"' for name, c in close if c)
    return f" (did you mean {said}?)" if said else ""


def render(text: str, context: Mapping[str, Any]) -> str:
    """The message, or TemplateRefused past a bound (other errors are the template's own)."""
    template = _compiled(text)
    deadline = time.monotonic() + MAX_TEMPLATE_SECONDS
    out: list[str] = []
    size = 0
    with _deadline(deadline):
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_TEMPLATE_OUTPUT:
                raise TemplateRefused(f"output past {MAX_TEMPLATE_OUTPUT} characters")
            out.append(chunk)
    return "".join(out)


@functools.lru_cache(maxsize=64)  # a runbook's few messages, compiled once per text
def _compiled(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


# -- the time bound ----------------------------------------------------------


@contextlib.contextmanager
def _deadline(deadline: float) -> Iterator[None]:
    """Trace this thread until the block ends; past the deadline, raise in the running code."""

    def expired() -> None:
        if time.monotonic() > deadline:
            raise TemplateRefused(f"render took longer than {MAX_TEMPLATE_SECONDS:g}s")

    def each_line(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        expired()
        return each_line

    def each_call(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        expired()
        # Only template code is traced line by line: what it calls is checked per call.
        return each_line if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(each_call)
    try:
        yield
    finally:
        sys.settrace(previous)


# -- the output bound, before a step builds a large value -----------------------


def _before_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if _sequence(seq) and isinstance(times, int) and len(seq) * times > MAX_TEMPLATE_OUTPUT:
                raise TemplateRefused(f"a value of {len(seq) * times} items from *")
    elif operator == "+":
        if _sequence(left) and _sequence(right) and len(left) + len(right) > MAX_TEMPLATE_OUTPUT:
            raise TemplateRefused(f"a value of {len(left) + len(right)} items from +")
    elif operator == "**":
        _before_power(left, right)
    elif operator == "%" and isinstance(left, str):
        _before_percent_format(left, right)


def _before_power(base: Any, exponent: Any) -> None:
    """A power of more digits than the output bound: 9 ** 9 ** 9 would run for minutes."""
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        digits = exponent * math.log10(abs(base))
        if digits > MAX_TEMPLATE_OUTPUT:
            raise TemplateRefused(f"a number of about {digits:.0f} digits from **")


def _before_percent_format(spec: str, args: Any) -> None:
    values = args if isinstance(args, tuple) else (args,)
    for match in _PERCENT_SPEC.finditer(spec):
        for width in match.groups():
            if width == "*":
                _refuse_large_ints(values, "a * width")
            elif width is not None:
                _refuse_large_ints((_number(width),), "a width")


def _before_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    method = getattr(obj, "__wrapped__", obj)  # Jinja wraps str.format to sandbox it
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(method, "__name__", "")
    if name in _GROWING_METHODS:
        _refuse_large_ints((*args, *kwargs.values()), f"str.{name}")
    elif name == "join" and args:
        _before_join(owner, args[0])
    elif name in ("format", "format_map"):
        for field in _FORMAT_FIELD.findall(owner):
            _refuse_large_ints([_number(d) for d in _DIGITS.findall(field)], "a format width")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, refusing numbers past the bound (widths, counts) and results past it."""
    # Filters marked pass_context (and the like) take that first, then the value filtered.
    skip = 0 if getattr(function, "jinja_pass_arg", None) is None else 1

    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value, options = args[skip : skip + 1], args[skip + 1 :]
        _refuse_large_ints((*options, *kwargs.values()), f"the {name} filter")
        if value:
            _before_filter(name, value[0], options, kwargs)
        return _sized(function(*args, **kwargs))

    return bounded


def _before_filter(name: str, value: Any, options: tuple[Any, ...], kwargs: Any) -> None:
    if name == "join":
        _before_join(str(options[0]) if options else str(kwargs.get("d", "")), value)
    elif name == "format" and isinstance(value, str):
        _before_percent_format(value, options or tuple(kwargs.values()))
    elif name == "replace" and len(options) >= 2 and isinstance(value, str):
        old, new = str(options[0]), str(options[1])
        grown = len(value) + (value.count(old) if old else len(value) + 1) * len(new)
        if grown > MAX_TEMPLATE_OUTPUT:
            raise TemplateRefused(f"a value of up to {grown} characters from replace")


def _before_join(separator: str, items: Any) -> None:
    """`a.join([a] * 16000)`: every item is within the bound, their sum need not be."""
    if isinstance(items, list | tuple):
        total = len(separator) * len(items) + sum(len(i) for i in items if isinstance(i, str))
        if total > MAX_TEMPLATE_OUTPUT:
            raise TemplateRefused(f"a value of {total} characters from join")


def _refuse_large_ints(values: Any, where: str) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TEMPLATE_OUTPUT:
            raise TemplateRefused(f"{value} given to {where}, past {MAX_TEMPLATE_OUTPUT}")


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else MAX_TEMPLATE_OUTPUT + 1


def _sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _sized(value: Any) -> Any:
    """The value, unless it already holds more items than the whole output may."""
    if (
        isinstance(value, Sized)
        and not isinstance(value, Mapping)
        and len(value) > MAX_TEMPLATE_OUTPUT
    ):
        raise TemplateRefused(f"a value of {len(value)} items")
    return value


_ENV = _BoundedEnvironment()  # last: its filters are wrapped by the helpers above
