"""Notifier messages: rendered within their bounds, checked against the variables passed."""

from __future__ import annotations

import pytest

from receiver.act.notify import context_for, render
from receiver.decide import Action, ActionKind, Plan
from receiver.runbook import templates
from receiver.runbook.limits import MAX_TEMPLATE_OUTPUT
from receiver.runbook.templates import TemplateRefused
from receiver.runbook.types import Notifier, NotifierKind

CONTEXT = {"supervisor": "shop", "cause": "intensity", "origin": "shop/web-1", "labels": {"a": "b"}}


def test_variables_are_exactly_what_delivery_passes() -> None:
    action = Action(kind=ActionKind.NOTIFY, notifier="oncall")
    assert set(context_for(action, Plan(at=0.0))) == set(templates.VARIABLES)


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        pytest.param(
            "{{ supervisor }} escalated ({{ cause }})", "shop escalated (intensity)", id="plain"
        ),
        pytest.param("{{ supervisor ~ '/' ~ origin }}", "shop/shop-web-1", id="tilde"),
        pytest.param("{{ labels|dictsort|join(',') }}", "('a', 'b')", id="filters"),
        pytest.param(
            "{{ '%d' % 200000 }} {{ '{}'.format(200000) }}", "200000 200000", id="big-ints"
        ),
        pytest.param("{{ 'x' * 16384 }}", "x" * 16384, id="at-the-bound"),
    ],
)
def test_renders_within_bounds(text: str, rendered: str) -> None:
    assert templates.render(text, CONTEXT).replace("shop/web-1", "shop-web-1") == rendered


# Each refused before it builds its value (or, for loops, at the deadline): today's
# SandboxedEnvironment renders the first one as 100 MB and holds the thread on the loops.
REFUSED = [
    ("{{ 'x' * 100000000 }}", "a value of 100000000 items from *"),
    ("{{ 100000000 * 'x' }}", "a value of 100000000 items from *"),
    ("{{ 'x' * 10000 + 'y' * 10000 }}", "a value of 20000 items from +"),
    ("{{ 'x'.center(100000000) }}", "100000000 given to str.center, past 16384"),
    ("{{ 'x'|center(100000000) }}", "100000000 given to the center filter, past 16384"),
    ("{{ '%100000000s' % 'x' }}", "100000000 given to a width, past 16384"),
    ("{{ '%*s' % (100000000, 'x') }}", "100000000 given to a * width, past 16384"),
    ("{{ '{:>100000000}'.format(1) }}", "100000000 given to a format width, past 16384"),
    ("{{ 2 ** 100000 }}", "a number of about 30103 digits from **"),
    (
        "{% set a = 'x' * 10000 %}{{ ([a] * 16000)|join }}",
        "a value of 160000000 characters from join",
    ),
    (
        "{% set a = 'x' * 10000 %}{{ a.join([a] * 16000) }}",
        "a value of 320000000 characters from join",
    ),
    (
        "{{ ('x' * 10000)|replace('x', 'y' * 10000) }}",
        "a value of up to 100010000 characters from replace",
    ),
    (
        "{% set s = namespace(v='x') %}{% for i in range(30) %}{% set s.v = s.v ~ s.v %}"
        "{% endfor %}{{ s.v }}",
        "a value of 32768 items",
    ),
    (
        "{% for i in range(10000) %}{{ i }}{% endfor %}",
        f"output past {MAX_TEMPLATE_OUTPUT} characters",
    ),
    (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "render took longer than 1s",
    ),
    (
        "{% for i in 'x' * 10000 %}{% for j in 'x' * 10000 %}{% endfor %}{% endfor %}",
        "render took longer than 1s",
    ),
    ("{{ lipsum(n=100000000) }}", "render took longer than 1s"),
]


@pytest.mark.parametrize(("text", "why"), REFUSED, ids=[t[:40] for t, _ in REFUSED])
def test_refused_past_a_bound(text: str, why: str) -> None:
    with pytest.raises(TemplateRefused) as caught:
        templates.render(text, CONTEXT)
    assert str(caught.value) == why


def test_a_refused_message_still_notifies_with_the_detail() -> None:
    notifier = Notifier(name="n", kind=NotifierKind.LOG, message="{{ 'x' * 100000000 }}")
    message = render(notifier, {"detail": "shop escalated"})
    assert message == (
        "shop escalated (message template failed: a value of 100000000 items from *)"
    )


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (
            "{{ supervisor }} {% for k, v in labels.items() %}{{ k }}{{ loop.index }}{% endfor %}",
            None,
        ),
        ("{{ range(3)|list }} {% set x = 1 %}{{ x }}", None),
        ("{{ orign }}", 'the undefined variable "orign"'),
        ("{{ pods }}{{ lables }}", 'the undefined variables "lables", "pods"'),
        (
            "{{ supervisor ",
            "a template error (unexpected end of template, expected 'end of print statement', "
            "template line 1)",
        ),
        ("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}", "a template nested too deeply to compile"),
        ("x" * 4096, None),
        ("x" * 4097, "a template of 4097 characters"),
    ],
)
def test_check(text: str, fault: str | None) -> None:
    found = templates.check(text)
    assert (found[0] if found else None) == fault
