"""The escalation tree: intensity at every level, strategies, parents, freezes."""

from __future__ import annotations

import pytest
from builders import T0, alert, fleet, run, runbook, snapshot, summary

from receiver.decide import reset
from receiver.decide.fold import fold
from receiver.model import Snapshot, SupervisorState

RULE = """
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{restart: {}}]
notifiers:
  oncall: {log: {}}
"""


def tree(
    strategy: str = "one_for_one", group_max: int = 10, leaf_max: int = 1, freeze: str = ""
) -> str:
    return f"""
supervisors:
  - name: root
    match: {{namespace: shop}}
    intensity: {{max: 10, period: 1h}}
    onEscalate: [{{notify: oncall}}]
    children:
      - name: group
        match: {{tier: shop}}
        strategy: {strategy}
        intensity: {{max: {group_max}, period: 30m}}
        onEscalate: [{{rolloutRestart: {{}}}}]
        children:
          - name: db
            match: {{app: db}}
            intensity: {{max: {leaf_max}, period: 10m}}
            {freeze}
          - name: api
            match: {{app: api}}
            intensity: {{max: {leaf_max}, period: 10m}}
            {freeze}
          - name: web
            match: {{app: web}}
            intensity: {{max: {leaf_max}, period: 10m}}
            {freeze}
{RULE}"""


def shop() -> Snapshot:
    return snapshot(
        *(fleet(app, 3, labels={"app": app, "tier": "shop"}) for app in ("db", "api", "web"))
    )


def test_actions_count_against_every_ancestor() -> None:
    rb = runbook(tree())
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    assert {name: len(snap.supervisor(name).counted) for name in ("api", "group", "root")} == {
        "api": 1,
        "group": 1,
        "root": 1,
    }
    assert snap.supervisor("db").counted == ()


def test_exceeding_intensity_escalates_instead_of_acting() -> None:
    rb = runbook(tree(leaf_max=1))
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    snap, plans = run(rb, snap, [alert("api-1")], T0 + 60)
    assert summary(plans[0]) == ["blocked escalated shop/api-1", "escalated api intensity"]
    state = snap.supervisor("api")
    assert state.counted == (), "an escalated supervisor starts with a fresh budget"
    assert state.frozen_until == T0 + 60 + 600, "frozen for its period by default"
    assert snap.supervisor("group").counted == (T0, T0 + 60), "counted once against the parent"


def test_intensity_window_slides() -> None:
    rb = runbook(tree(leaf_max=1))
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    _, plans = run(rb, snap, [alert("api-1")], T0 + 601)
    assert summary(plans[0]) == ["restart shop/api-1"]


@pytest.mark.parametrize(
    ("strategy", "failing", "restarted"),
    [
        pytest.param("one_for_one", "api", ["api"], id="one_for_one restarts the failing child"),
        pytest.param("one_for_all", "api", ["db", "api", "web"], id="one_for_all restarts all"),
        pytest.param("rest_for_one", "api", ["api", "web"], id="rest_for_one: it and later ones"),
        pytest.param("rest_for_one", "db", ["db", "api", "web"], id="rest_for_one from the first"),
        pytest.param("rest_for_one", "web", ["web"], id="rest_for_one from the last"),
    ],
)
def test_strategy_decides_what_the_group_restarts(
    strategy: str, failing: str, restarted: list[str]
) -> None:
    """The leaf escalates (max 1); the group has max 1 so the leaf's escalation tips it over."""
    rb = runbook(tree(strategy, group_max=1, leaf_max=1))
    snap, _ = run(rb, shop(), [alert(f"{failing}-0")], T0)
    _, plans = run(rb, snap, [alert(f"{failing}-1")], T0 + 60)
    rollouts = [a.target for a in plans[0].actions if a.kind == "rolloutRestart"]
    assert rollouts == [f"shop/deployment/{name}" for name in restarted]
    assert [e.supervisor for e in plans[0].escalations] == [failing, "group"]


def test_escalation_climbs_to_the_root_which_notifies_and_freezes_everything() -> None:
    rb = runbook(tree(group_max=1, leaf_max=1).replace("max: 10, period: 1h", "max: 2, period: 1h"))
    snap, _ = run(rb, shop(), [alert("api-0")], T0)  # counts: api 1, group 1, root 1
    snap, plans = run(rb, snap, [alert("api-1")], T0 + 60)
    # api escalates -> group (1+1 > 1) escalates -> root (1+1 = 2, within) absorbs it
    assert [e.supervisor for e in plans[0].escalations] == ["api", "group"]
    snap, plans = run(rb, snap, [alert("db-0")], T0 + 120)
    # group is frozen: db-0 is blocked before any count
    assert summary(plans[0]) == ["blocked frozen shop/db-0"]


def test_root_escalation_freezes_all_supervisors_below() -> None:
    rb = runbook(
        """
supervisors:
  - name: root
    match: {namespace: shop}
    intensity: {max: 2, period: 1h}
    onEscalate: [{notify: oncall}]
    children:
      - {name: api, match: {app: api}, intensity: {max: 10, period: 10m}}
      - {name: web, match: {app: web}, intensity: {max: 10, period: 10m}}
"""
        + RULE
    )
    snap = shop()
    snap, plans = run(rb, snap, [alert("api-0"), alert("web-0"), alert("web-1")], T0)
    assert [summary(p) for p in plans] == [
        ["restart shop/api-0"],
        ["restart shop/web-0"],
        ["notify oncall", "blocked escalated shop/web-1", "escalated root intensity"],
    ]
    _, plans = run(rb, snap, [alert("api-1")], T0 + 60)
    assert summary(plans[0]) == ["blocked frozen shop/api-1"]
    _, plans = run(rb, snap, [alert("api-1")], T0 + 3600)
    assert summary(plans[0]) == ["restart shop/api-1"], "the freeze thaws after the period"


def test_freeze_for_zero_does_not_freeze() -> None:
    rb = runbook(tree(leaf_max=1, freeze="freezeFor: 0s"))
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    snap, plans = run(rb, snap, [alert("api-1")], T0 + 60)
    assert plans[0].escalations[0].frozen_until is None
    _, plans = run(rb, snap, [alert("api-2")], T0 + 120)
    assert summary(plans[0]) == ["restart shop/api-2"]


def test_an_escalated_occurrence_is_not_handled_again() -> None:
    rb = runbook(tree(leaf_max=1, freeze="freezeFor: 0s"))
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    snap, _ = run(rb, snap, [alert("api-1")], T0 + 60)
    _, plans = run(rb, snap, [alert("api-1")], T0 + 90)
    assert summary(plans[0]) == ["blocked duplicate shop/api-1"]


def test_a_human_reset_thaws_the_subtree_and_refills_budgets() -> None:
    rb = runbook(tree(group_max=1, leaf_max=1))
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    snap, _ = run(rb, snap, [alert("api-1")], T0 + 60)
    assert snap.supervisor("group").frozen(T0 + 120)
    snap = fold(snap, reset(rb, snap, "group", T0 + 120))
    assert not snap.supervisor("group").frozen(T0 + 120)
    assert not snap.supervisor("api").frozen(T0 + 120)
    _, plans = run(rb, snap, [alert("web-0")], T0 + 120)
    assert summary(plans[0]) == ["restart shop/web-0"]


def test_reset_of_an_unknown_supervisor_is_an_error() -> None:
    with pytest.raises(LookupError, match="no supervisor nope"):
        reset(runbook(tree()), shop(), "nope", T0)


def test_rollout_restart_skips_workloads_with_protected_pods() -> None:
    rb = runbook(tree("one_for_all", group_max=1, leaf_max=1), settings="protect: [{app: db}]")
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    _, plans = run(rb, snap, [alert("api-1")], T0 + 60)
    assert [a.target for a in plans[0].actions] == ["shop/deployment/api", "shop/deployment/web"]
    assert [f"{b.reason} {b.target}" for b in plans[0].blocked][
        -1
    ] == "protected shop/deployment/db"


def test_budget_state_is_pruned_to_the_window() -> None:
    rb = runbook(tree(leaf_max=5))
    old = SupervisorState(counted=(T0 - 7200, T0 - 7100))
    snap = Snapshot(pods=shop().pods, supervisors={"api": old})
    snap, _ = run(rb, snap, [alert("api-0")], T0)
    assert snap.supervisor("api").counted == (T0,)


WORKLOAD_RULES = """
supervisors:
  - name: api
    match: {app: api}
    intensity: {max: 1, period: 10m}
    freezeFor: 0s
    guards: {rateLimit: {max: 1, per: 10m}}
rules:
  - name: stuck
    match: {alertname: WorkloadStuck}
    steps: [{rolloutRestart: {}}, {rolloutRestart: {}}]
  - name: page
    match: {alertname: Page}
    steps: [{notify: oncall}]
notifiers:
  oncall: {log: {}}
"""


def test_a_workload_escalation_is_remembered_on_the_workload() -> None:
    rb = runbook(WORKLOAD_RULES.replace("    guards: {rateLimit: {max: 1, per: 10m}}\n", ""))
    snap, _ = run(rb, shop(), [alert(None, name="WorkloadStuck", deployment="api")], T0)
    second = alert(None, name="WorkloadStuck", deployment="api", starts_at=T0 + 60)
    snap, plans = run(rb, snap, [second], T0 + 60)
    assert summary(plans[0]) == [
        "blocked escalated shop/deployment/api",
        "escalated api intensity",
    ]
    assert plans[0].escalations[0].origin == "shop/deployment/api"
    _, plans = run(rb, snap, [second], T0 + 90)
    assert summary(plans[0]) == ["blocked duplicate shop/deployment/api"]


def test_rule_driven_rollout_restarts_obey_rate_limits() -> None:
    rb = runbook(
        WORKLOAD_RULES.replace(
            "max: 1, period: 10m}\n    freezeFor", "max: 9, period: 10m}\n    freezeFor"
        )
    )
    snap, _ = run(rb, shop(), [alert(None, name="WorkloadStuck", deployment="api")], T0)
    second = alert(None, name="WorkloadStuck", deployment="api", starts_at=T0 + 60)
    _, plans = run(rb, snap, [second], T0 + 60)
    assert summary(plans[0]) == ["blocked rate_limited shop/deployment/api"]


def test_notify_steps_stay_quiet_in_a_frozen_subtree() -> None:
    rb = runbook(WORKLOAD_RULES)
    frozen = SupervisorState(frozen_until=T0 + 60)
    snap = Snapshot(pods=shop().pods, supervisors={"api": frozen})
    _, plans = run(rb, snap, [alert("api-0", name="Page")], T0)
    assert summary(plans[0]) == ["blocked frozen shop/api-0"]


def test_a_dry_run_rule_spends_no_shared_budget_and_freezes_nothing() -> None:
    rb = runbook(
        tree(leaf_max=1).replace(
            "    steps: [{restart: {}}]", "    steps: [{restart: {}}]\n    dryRun: true"
        )
    )
    snap, _ = run(rb, shop(), [alert("api-0")], T0)
    snap, plans = run(rb, snap, [alert("api-1")], T0 + 60)
    assert summary(plans[0]) == ["restart shop/api-1 (dry-run)"]
    assert snap.supervisor("api") == SupervisorState()


def test_a_dry_run_rule_escalation_reports_without_freezing() -> None:
    rb = runbook(
        tree(leaf_max=1).replace(
            "    steps: [{restart: {}}]", "    steps: [{restart: {}}]\n    dryRun: true"
        )
    )
    spent = SupervisorState(counted=(T0 - 10,))
    snap = Snapshot(pods=shop().pods, supervisors={"api": spent})
    snap, plans = run(rb, snap, [alert("api-1")], T0)
    assert summary(plans[0]) == ["blocked escalated shop/api-1", "escalated api intensity"]
    assert plans[0].escalations[0].frozen_until is None
    assert snap.supervisor("api") == spent
