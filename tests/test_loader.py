"""The runbook loader: bad runbooks as fixtures with exact messages, good ones compiled right."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import runbook

from receiver.runbook import RunbookInvalid, load_file, load_text
from receiver.runbook.matchers import Op
from receiver.runbook.quantities import Quantity, format_duration, parse_duration, parse_quantity
from receiver.runbook.types import EscalationKind, Exhausted, StepKind, Strategy

ROOT = Path(__file__).parent.parent
BAD = Path(__file__).parent / "fixtures" / "bad_runbooks"


@pytest.mark.parametrize("fixture", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_runbook_reports_exactly(fixture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = (fixture.with_suffix(".expected")).read_text().rstrip("\n")
    monkeypatch.chdir(BAD)  # messages name the file as given
    with pytest.raises(RunbookInvalid) as caught:
        load_file(fixture.name)
    assert str(caught.value) == expected


def test_every_fixture_has_its_expected_message() -> None:
    yamls = {p.stem for p in BAD.glob("*.yaml")}
    assert yamls == {p.stem for p in BAD.glob("*.expected")}
    assert len(yamls) >= 20


def test_all_problems_are_collected_not_only_the_first() -> None:
    with pytest.raises(RunbookInvalid) as caught:
        load_text((BAD / "many_mistakes.yaml").read_text(), "many_mistakes.yaml")
    assert len(caught.value.problems) == 5
    assert [p.line for p in caught.value.problems] == sorted(p.line for p in caught.value.problems)


def test_empty_document() -> None:
    with pytest.raises(RunbookInvalid, match="found an empty document, expected a Runbook"):
        load_text("", "empty.yaml")


def test_example_runbook_compiles_to_the_tree_it_describes() -> None:
    rb = load_file(ROOT / "rules" / "shop.yaml")
    assert rb.parent["cart"] == "storefront"
    assert rb.parent["storefront"] == "shop"
    storefront = rb.by_name["storefront"]
    assert storefront.strategy is Strategy.REST_FOR_ONE
    assert [c.name for c in storefront.children] == ["catalog", "cart", "web"]
    assert [e.kind for e in storefront.on_escalate] == [
        EscalationKind.ROLLOUT_RESTART,
        EscalationKind.NOTIFY,
    ]
    checkout = rb.by_name["checkout"]
    assert checkout.guards is not None
    assert checkout.guards.max_unavailable == Quantity(30, percent=True)
    assert checkout.freeze_seconds == 600
    outlier = rb.rules[0]
    assert [s.kind for s in outlier.steps] == [StepKind.DRAIN, StepKind.DRAIN, StepKind.RESTART]
    assert [s.duration for s in outlier.steps] == [120, 300, None]
    assert outlier.exhausted is Exhausted.PAUSE
    assert outlier.match.matchers[1].op is Op.RE
    assert rb.settings.rate_limit is not None
    assert rb.settings.rate_limit.max == 30


def test_defaults() -> None:
    rb = runbook(
        """
supervisors:
  - {name: s, intensity: {max: 1, period: 5s}}
rules:
  - {name: r, match: {alertname: X}, steps: [{restart: }]}
"""
    )
    assert rb.settings.traffic_label == "remediation/traffic"
    assert rb.settings.dry_run is False
    assert rb.settings.signal_ttl == 300
    assert rb.rules[0].probation == 600
    assert rb.rules[0].exhausted is Exhausted.PAUSE
    assert rb.by_name["s"].strategy is Strategy.ONE_FOR_ONE
    assert rb.by_name["s"].match.matches({"anything": "at all"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5), ("1m30s", 90)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "1.5h", "-1s", "1s1h"])
def test_bad_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("raw", "size", "down", "up"),
    [(3, 10, 3, 3), ("30%", 10, 3, 3), ("25%", 10, 2, 3), ("0%", 7, 0, 0), ("100%", 7, 7, 7)],
)
def test_quantities(raw: object, size: int, down: int, up: int) -> None:
    quantity = parse_quantity(raw)
    assert quantity is not None
    assert quantity.of(size, round_up=False) == down
    assert quantity.of(size, round_up=True) == up


@pytest.mark.parametrize("raw", [True, -1, "x%", "1.5", None, 2.5])
def test_bad_quantities(raw: object) -> None:
    assert parse_quantity(raw) is None


@pytest.mark.parametrize(
    ("matcher", "labels", "matches"),
    [
        pytest.param("checkout", {"app": "checkout"}, True, id="equality"),
        pytest.param("=checkout", {"app": "checkout"}, True, id="explicit equality"),
        pytest.param("checkout", {"app": "checkout-v2"}, False, id="equality is exact"),
        pytest.param("!=checkout", {"app": "web"}, True, id="inequality"),
        pytest.param("!=checkout", {}, True, id="inequality with the label absent"),
        pytest.param("=~check.*", {"app": "checkout"}, True, id="regex"),
        pytest.param("=~check", {"app": "checkout"}, False, id="regex is anchored"),
        pytest.param("=~a|b", {"app": "b"}, True, id="alternation is anchored as a group"),
        pytest.param("!~a|b", {"app": "ab"}, True, id="negative regex"),
        pytest.param("=~.*", {}, True, id="absent label matches the empty string"),
        pytest.param("", {}, True, id="empty value matches an absent label"),
        pytest.param("=~.+", {}, False, id="absent label fails a non-empty regex"),
    ],
)
def test_alertmanager_matcher_semantics(
    matcher: str, labels: dict[str, str], matches: bool
) -> None:
    rb = runbook(
        f"""
rules:
  - name: r
    match: {{app: "{matcher}"}}
    steps: [{{restart: {{}}}}]
"""
    )
    assert rb.rules[0].match.matches(labels) is matches
