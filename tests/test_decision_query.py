"""Decision-log filters and kinds, as a table; and who an operator action records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from service_builders import alert, harness, webhook

from receiver.report.query import DecisionQuery, kind
from receiver.service.auth import Tokens, load_tokens


def entry(id_: int, **parts: Any) -> dict[str, Any]:
    return {"id": id_, "at": "2026-01-01T00:00:00.000Z", "signal": None, "actions": [],
            "blocked": [], "escalations": [], **parts}  # fmt: skip


def action(target: str, outcome: str = "applied", rule: str = "outlier") -> dict[str, Any]:
    return {
        "action": "drain",
        "target": target,
        "rule": rule,
        "supervisor": None,
        "outcome": outcome,
        "reason": None,
        "dryRun": outcome == "dry_run",
        "detail": "",
    }


def blocked(target: str, reason: str, supervisor: str | None = None) -> dict[str, Any]:
    return {"reason": reason, "wanted": "drain", "target": target, "rule": "outlier",
            "supervisor": supervisor, "detail": ""}  # fmt: skip


LOG = [
    entry(1, actions=[action("shop/checkout-1")]),
    entry(2, blocked=[blocked("shop/checkout-2", "duplicate")]),
    entry(
        3,
        blocked=[blocked("shop/checkout-3", "systemic", "checkout")],
        escalations=[
            {
                "supervisor": "checkout",
                "cause": "systemic",
                "origin": "",
                "frozenUntil": None,
                "detail": "",
            }
        ],
    ),
    entry(4, blocked=[blocked("shop/checkout-4", "frozen", "checkout")]),
    entry(5, actions=[action("web/front-1", "dry_run", rule="slow")]),
    entry(
        6,
        operator="reset supervisor checkout and its subtree",
        by="alice",
        asked={"action": "reset", "target": "checkout"},
    ),
]


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        ({}, [1, 2, 3, 4, 5, 6]),
        ({"pod": "checkout-1"}, [1]),
        ({"pod": "shop/checkout-2"}, [2]),
        ({"namespace": "web"}, [5]),
        ({"rule": "slow"}, [5]),
        ({"reason": "systemic"}, [3]),
        ({"reason": "frozen"}, [4]),
        ({"outcome": "held"}, [4]),
        ({"outcome": "escalated"}, [3]),
        ({"outcome": "dry_run"}, [5]),
        ({"outcome": "acted"}, [1]),
        ({"outcome": "nothing"}, [2]),
        ({"outcome": "operator"}, [6]),
        ({"supervisor": "checkout"}, [3, 4, 6]),
        ({"namespace": "shop", "reason": "duplicate"}, [2]),
        ({"pod": "checkout-1", "reason": "frozen"}, []),
    ],
    ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_filters(filters: dict[str, str], ids: list[int]) -> None:
    query = DecisionQuery.from_params(filters)
    assert [e["id"] for e in query.select(LOG, 0)] == ids


def test_a_fleet_matches_the_pods_it_holds_now() -> None:
    query = DecisionQuery(fleet="shop/deployment/checkout",
                          fleet_pods=frozenset({"shop/checkout-1", "shop/checkout-4"}))  # fmt: skip
    assert [e["id"] for e in query.select(LOG, 0)] == [1, 4]
    assert [e["id"] for e in query.select(LOG, 1)] == [4]


def test_kinds() -> None:
    assert [kind(e) for e in LOG] == [
        "acted", "nothing", "escalated", "held", "dry_run", "operator",
    ]  # fmt: skip


def test_named_tokens_name_who_acted_and_never_show_the_token(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("# admins\nalice: alice-token-0123456789\nbob-token-0123456789\n")
    tokens = load_tokens(file=file, env_name="UNSET", environ={})
    assert tokens is not None
    assert tokens.name("Bearer alice-token-0123456789") == "alice"
    assert tokens.name("Bearer bob-token-0123456789") == "token 2"
    assert tokens.name("Bearer nope") == "unknown"
    assert not tokens.allow("Bearer alice")
    assert Tokens(()).name(None) == "anyone (no auth)"


def test_resume_and_reset_record_who_in_the_decision_log(tmp_path: Path) -> None:
    h = harness(tmp_path)
    client = h.client()
    auth = {"Authorization": "Bearer webhook-token-0123456789"}
    pod = sorted(k.name for k in h.cluster.snapshot().pods)[0]
    client.post("/api/v1/alerts", json=webhook(alert(pod)), headers=auth)
    resumed = client.post(f"/api/v1/pods/shop/{pod}/resume", headers=auth).json()["decision"]
    assert resumed["by"] == "token 1"
    assert resumed["asked"] == {"action": "resume", "target": f"shop/{pod}"}
    assert resumed["operator"] == f"resume pod shop/{pod} (was drained)"
    reset = client.post("/api/v1/supervisors/checkout/reset", headers=auth).json()["decision"]
    assert reset["asked"] == {"action": "reset", "target": "checkout"}
    assert reset["by"] == "token 1"
    log = client.get("/api/v1/decisions", params={"outcome": "operator"}).json()["decisions"]
    assert [e["id"] for e in log] == [reset["id"]]
    assert reset["id"] == resumed["id"] + 1
