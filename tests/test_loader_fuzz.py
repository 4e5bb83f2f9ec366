"""The runbook loader under hypothesis: whatever the bytes, a Runbook or a RunbookInvalid.

Never a traceback: random bytes, YAML-ish text, byte-level mutations of
rules/shop.yaml, and shop.yaml with one value anywhere swapped for another.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.runbook import Runbook, RunbookInvalid, load_file, load_text
from receiver.runbook.limits import MAX_PROBLEMS
from receiver.runbook.templates import check as check_template

SHOP = (Path(__file__).parent.parent / "rules" / "shop.yaml").read_bytes()
SHOP_DOC = yaml.safe_load(SHOP)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

# Pieces that have broken a loader before, or look like they could.
NASTY = [
    b"&a ", b"*a", b"[", b"]", b"{", b"}", b": ", b"- ", b"\n  ", b"\t", b"? ", b"!!python/object ",
    b"<<: *a", b"9" * 5000, b"\xff\xfe", b"\x00", b"=~(a+)+", b"=~(?=a)", b"{{ orign }}",
    b"{% for %}", b"99999999999d", b"0x" + b"f" * 40, b"1e999", b"'", b'"', b"|", b">",
    b"%YAML 1.1\n", b"---\n", b"...\n", b"~", b"null", b"yes", b"2024-13-45",
    b"\xf0\x9f\x98\x80", b"\\ud800",
]  # fmt: skip

YAMLISH = st.text(
    alphabet=st.sampled_from(list("[]{}:,-&*!|>'\"#?%@`~ \n\t\\aAz09.=~")), max_size=400
)


def outcome(data: bytes, tmp_path: Path) -> Runbook | RunbookInvalid:
    path = tmp_path / "runbook.yaml"
    path.write_bytes(data)
    try:
        return load_file(path)
    except RunbookInvalid as exc:
        return exc


def assert_well_formed(result: Runbook | RunbookInvalid) -> None:
    if isinstance(result, RunbookInvalid):
        assert result.problems, "RunbookInvalid without a problem"
        assert len(result.problems) <= MAX_PROBLEMS + 1
        assert all(p.line >= 1 and p.message for p in result.problems)
        str(result)  # renders
    else:
        assert isinstance(result, Runbook)


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(data: bytes, tmp_path_factory: Any) -> None:
    assert_well_formed(outcome(data, tmp_path_factory.mktemp("fuzz")))


@FUZZ
@given(text=YAMLISH)
def test_yamlish_text(text: str) -> None:
    try:
        result: Runbook | RunbookInvalid = load_text(text, "fuzz.yaml")
    except RunbookInvalid as exc:
        result = exc
    assert_well_formed(result)


@st.composite
def mutated_shop(draw: st.DrawFn) -> bytes:
    data = bytearray(SHOP)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        end = at + draw(st.integers(0, 40))
        piece = draw(st.sampled_from(NASTY) | st.binary(max_size=8))
        data[at:end] = piece
    return bytes(data)


@FUZZ
@given(data=mutated_shop())
def test_mutations_of_the_example_runbook(data: bytes, tmp_path_factory: Any) -> None:
    assert_well_formed(outcome(data, tmp_path_factory.mktemp("fuzz")))


BIG = "BIG_INTEGER"  # a 5000-digit integer in the YAML, which no Python int may be repr'd as
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | st.sampled_from([BIG, "9" * 5000 + "d", "99999999999d", "0s", "=~(a+)+", "=~(", "101%"])
    | st.sampled_from(["{{ orign }}", "{{ 'x' * 100000000 }}", "{% for %}", "", " ", "*", "30%"])
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a value sits, containers included."""
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += paths(value, (*prefix, i))
    return found


PATHS = [p for p in paths(SHOP_DOC) if p]


@FUZZ
@given(where=st.sampled_from(PATHS), value=VALUES)
def test_any_value_anywhere_in_the_example_runbook(where: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(SHOP_DOC)
    node = doc
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    text = yaml.safe_dump(doc, allow_unicode=True).replace(BIG, "9" * 5000)
    try:
        result: Runbook | RunbookInvalid = load_text(text, "fuzz.yaml")
    except RunbookInvalid as exc:
        result = exc
    assert_well_formed(result)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("{}%#()[]'\"*+~|.,: xyz019")), max_size=120))
def test_template_check_never_raises(text: str) -> None:
    fault = check_template(text)
    assert fault is None or all(fault)
