"""The runbook limits: exact at their edge, the same in docs/service.md, no traceback past them."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from receiver.runbook import RunbookInvalid, load_file, load_text
from receiver.runbook import limits as L
from receiver.runbook.matchers import parse_matcher
from receiver.runbook.quantities import parse_duration, parse_quantity
from receiver.runbook.reader import Reader
from receiver.runbook.yamltext import compose, document_kind
from receiver.scenario.spec import is_test_file

ROOT = Path(__file__).parent.parent
BAD = Path(__file__).parent / "fixtures" / "bad_runbooks"
HEAD = "apiVersion: remediation/v1\nkind: Runbook\nsettings:\n  namespaces: [shop]\n"


def test_check_on_the_folder_of_bad_runbooks_lists_problems_and_never_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "check", str(BAD)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == ""
    failed = re.findall(r"^FAILED .*/(\w+)\.yaml: \d+ problem", done.stdout, re.MULTILINE)
    assert sorted(failed) == sorted(p.stem for p in BAD.glob("*.yaml"))


def test_a_file_past_the_size_limit_is_not_read_past_it(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(HEAD + "#" * L.MAX_BYTES, encoding="utf-8")
    with pytest.raises(RunbookInvalid) as caught:
        load_file(path)
    assert str(caught.value) == (
        f"{path}:1: found a file of more than 1048576 bytes, expected at most 1048576 bytes"
    )


def values(n: int) -> str:
    """A document of exactly n YAML nodes: the root mapping, one key, a list of n - 3 items."""
    return "x: [" + ", ".join(["1"] * (n - 3)) + "]\n"


def test_alias_expansion_is_bounded_exactly_at_the_limit() -> None:
    assert compose(values(L.MAX_NODES), "f.yaml")[1] == []
    assert [str(p) for p in compose(values(L.MAX_NODES + 1), "f.yaml")[1]] == [
        "f.yaml:1: found more than 50000 values once aliases are expanded, "
        "expected at most 50000 (aliases that nest multiply)"
    ]


def test_an_alias_bomb_is_refused_before_the_loader_reads_a_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: list[str] = []
    mapping = Reader.mapping
    monkeypatch.setattr(
        Reader,
        "mapping",
        lambda self, node, path, **kw: read.append(path) or mapping(self, node, path, **kw),
    )
    with pytest.raises(RunbookInvalid) as caught:
        load_file(BAD / "aliases_expand_past_bound.yaml")
    assert len(caught.value.problems) == 1
    assert read == []


def test_nesting_is_bounded_exactly_at_the_limit() -> None:
    # the root mapping is level 1, so the flow lists can nest MAX_DEPTH - 1 deep
    deep = L.MAX_DEPTH - 1
    assert compose("x: " + "[" * deep + "]" * deep, "f.yaml")[1] == []
    too_deep = compose("x: " + "[" * (deep + 1) + "]" * (deep + 1), "f.yaml")[1]
    assert [p.message for p in too_deep] == [
        "found collections nested more than 64 deep, expected at most 64 levels"
    ]


@pytest.mark.parametrize(
    ("text", "test_file"),
    [
        ("kind: " + "[" * 100_000, False),
        ("kind: RunbookTest\nx: " + "9" * 5000, True),
        ("kind: RunbookTest\nx: [" + ", ".join(["*a"] * 3) + "]\ny: &a 1\n", False),
        ("\ufeffkind: RunbookTest\n" + "x: " + "{" * 10_000, False),
    ],
    ids=["deep", "digits", "undefined-alias", "bom-and-deep"],
)
def test_deciding_a_files_kind_is_bounded_too(text: str, test_file: bool) -> None:
    assert is_test_file(text) is test_file


def test_document_kind() -> None:
    assert document_kind("kind: RunbookTest\nx: " + "9" * 5000) == "RunbookTest"
    assert document_kind("- kind: RunbookTest") is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("9" * 5000 + "d", math.inf), ("9" * 19 + "s", math.inf), ("9" * 18 + "ms", 1e15)],
)
def test_durations_too_long_to_convert_read_as_past_every_bound(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_counts_too_long_to_convert_read_as_past_every_bound() -> None:
    quantity = parse_quantity("9" * 5000)
    assert quantity is not None
    assert quantity.value > L.MAX_COUNT


def test_a_duration_at_its_bound_loads() -> None:
    rb = load_text(HEAD + "  signalTTL: 365d\n")
    assert rb.settings.signal_ttl == L.MAX_DURATION


def test_a_backtracking_pattern_matches_as_re2_does() -> None:
    # Python's re takes over a minute on this; RE2 is linear in the label's length.
    matcher = parse_matcher("severity", "=~(a+)+")
    assert matcher.matches({"severity": "a" * 30 + "!"}) is False
    assert matcher.matches({"severity": "a" * 100_000}) is True


# -- docs/service.md says the same ------------------------------------------------


def documented() -> dict[str, str]:
    text = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
    section = text.split("### Runbook limits", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {bound.strip(): default.strip() for bound, default in rows[1:]}


@pytest.mark.parametrize(
    ("bound", "value"),
    [
        ("runbook file size", f"{L.MAX_BYTES} bytes (a ConfigMap's limit)"),
        ("nesting of YAML collections", f"{L.MAX_DEPTH} levels"),
        ("values once YAML aliases are expanded", f"{L.MAX_NODES} (the example runbook has 230)"),
        ("problems listed", str(L.MAX_PROBLEMS)),
        ("digits of a number", str(L.MAX_NUMBER_DIGITS)),
        ("`heartbeats[].missAfter`", str(L.MAX_MISS_AFTER)),
        ("a notifier message's template", f"{L.MAX_TEMPLATE_SOURCE} characters"),
        (
            "all notifier templates together",
            f"{L.MAX_TEMPLATE_SOURCE_TOTAL} characters (checking each compiles it)",
        ),
        ("notifier message output", f"{L.MAX_TEMPLATE_OUTPUT} characters"),
        ("notifier message render time", f"{L.MAX_TEMPLATE_SECONDS:g}s"),
    ],
)
def test_the_limits_table_in_docs_matches_the_code(bound: str, value: str) -> None:
    assert documented()[bound] == value


def test_the_limits_table_states_the_duration_and_count_bounds() -> None:
    rows = documented()
    durations = next(v for k, v in rows.items() if k.startswith("every duration"))
    counts = next(v for k, v in rows.items() if k.startswith("whole numbers"))
    assert durations == f"{int(L.MAX_DURATION // L.DAY)}d"
    assert counts == str(L.MAX_COUNT)
