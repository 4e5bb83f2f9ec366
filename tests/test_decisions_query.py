"""GET /api/v1/decisions: its query parameters are whole numbers that fit an answer, or a 400."""

from __future__ import annotations

from pathlib import Path

import pytest
from service_builders import harness


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("since=34820869498550439903232", "since", id="since-past-64-bits"),
        pytest.param("since=9223372036854775808", "since", id="since-one-past"),
        pytest.param("since=-1", "since", id="since-negative"),
        pytest.param("limit=abc", "limit", id="limit-not-a-number"),
        pytest.param("limit=1e3", "limit", id="limit-exponent"),
    ],
)
def test_a_parameter_that_is_no_whole_number_in_range_is_a_400_naming_it(
    tmp_path: Path, query: str, field: str
) -> None:
    answer = harness(tmp_path).client().get(f"/api/v1/decisions?{query}")
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert answer.json()["error"].startswith(f"{field}: found ")


def test_the_largest_since_is_answered(tmp_path: Path) -> None:
    answer = harness(tmp_path).client().get("/api/v1/decisions?since=9223372036854775807")
    assert answer.status_code == 200
    assert answer.json() == {"decisions": [], "next": 9223372036854775807, "more": False}
