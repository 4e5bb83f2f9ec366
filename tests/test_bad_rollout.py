"""The badRollout guard: signalling pods concentrated in a recent rollout's newest revision.

Bad rollout, not bad pod: restarting a pod of a bad revision brings the same
revision back, so per-pod steps stop with `bad_rollout` and the supervisor
escalates with the guard's remedy (notify, pauseRollout).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from builders import T0, alert, fleet, run, runbook, snapshot, summary
from service_builders import RUNBOOK, auth, body, harness, webhook
from service_builders import alert as webhook_alert

from receiver.cluster import MemoryCluster
from receiver.decide import tick
from receiver.decide.draft import Draft
from receiver.decide.escalation import pause_rollout
from receiver.decide.tree import Tree
from receiver.model import Hold, HoldKind, PodKey, Rollout, Snapshot, Workload
from receiver.report.banner import banner
from receiver.report.text import status_lines
from receiver.runbook import RunbookInvalid
from receiver.runbook.types import DEFAULT_BAD_ROLLOUT, EscalationKind

CHECKOUT = Workload("shop", "Deployment", "checkout")
RULE = """
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{restart: {}}]
notifiers:
  oncall: {log: {}}
"""


def supervised(guards: str = "{}", *, on_escalate: str = "[{notify: oncall}]") -> str:
    return f"""
supervisors:
  - name: checkout
    match: {{app: checkout}}
    intensity: {{max: 100, period: 10m}}
    guards: {guards}
    onEscalate: {on_escalate}
{RULE}"""


def rolling(
    on_newest: range = range(3),
    *,
    ago: float = 60.0,
    kind: str = "Deployment",
    old: str = "a",
) -> Snapshot:
    """Ten checkout pods on revision `old`, those in `on_newest` on b (made `ago` s before T0)."""
    pods = fleet(kind=kind)
    workload = Workload("shop", kind, "checkout")
    for i, key in enumerate(sorted(pods, key=lambda k: int(k.name.rsplit("-", 1)[1]))):
        pods[key] = replace(pods[key], revision="b" if i in on_newest else old)
    return replace(snapshot(pods), rollouts={workload: Rollout(revision="b", since=T0 - ago)})


def first(guards: str, snap: Snapshot, pods: list[int]) -> list[str]:
    """What the first of the signalled pods' decisions says (the batch is observed whole)."""
    rb = runbook(supervised(guards))
    _, plans = run(rb, snap, [alert(f"checkout-{i}") for i in pods], T0)
    return summary(plans[0])


HELD = [
    "notify oncall",
    "blocked bad_rollout shop/checkout-0",
    "escalated checkout bad_rollout",
]

CASES = [
    # id, guards, fleet, pods signalling (the first one decided), expected summary
    ("two of two on the newest revision", "{}", rolling(), [0, 1], HELD),
    ("one bad pod on the newest revision", "{}", rolling(), [0], ["restart shop/checkout-0"]),
    ("a pod of the old revision", "{}", rolling(), [7, 8], ["restart shop/checkout-7"]),
    (
        "an old pod is not held when the new ones are bad",
        "{}",
        rolling(),
        [7, 0, 1],
        ["restart shop/checkout-7"],
    ),
    ("too small a share", "{}", rolling(), [0, 1, 7], ["restart shop/checkout-0"]),
    ("minShare lowered", "{badRollout: {minShare: 60%}}", rolling(), [0, 1, 7], HELD),
    (
        "minSignalling raised",
        "{badRollout: {minSignalling: 3}}",
        rolling(),
        [0, 1],
        ["restart shop/checkout-0"],
    ),
    ("minSignalling 1", "{badRollout: {minSignalling: 1}}", rolling(), [0], HELD),
    (
        "window 0s turns it off",
        "{badRollout: {window: 0s}}",
        rolling(),
        [0, 1],
        ["restart shop/checkout-0"],
    ),
    (
        "finished past the window",
        "{}",
        rolling(range(10), ago=3600),
        [0, 1],
        ["restart shop/checkout-0"],
    ),
    ("finished within the window", "{}", rolling(range(10), ago=600), [0, 1], HELD),
    ("still rolling out past the window", "{}", rolling(ago=3600), [0, 1], HELD),
    (
        "a shorter window",
        "{badRollout: {window: 5m}}",
        rolling(range(10), ago=600),
        [0, 1],
        ["restart shop/checkout-0"],
    ),
    (
        "no rollout known",
        "{}",
        replace(rolling(), rollouts={}),
        [0, 1],
        ["restart shop/checkout-0"],
    ),
    (
        "pods without a revision",
        "{}",
        rolling(range(0), old=""),
        [0, 1],
        ["restart shop/checkout-0"],
    ),
]


@pytest.mark.parametrize(
    ("guards", "snap", "pods", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_rollout_guard(
    guards: str, snap: Snapshot, pods: list[int], expected: list[str]
) -> None:
    assert first(guards, snap, pods) == expected


def test_it_is_on_by_default_without_any_guards() -> None:
    rb = runbook(supervised().replace("    guards: {}\n", ""))
    assert rb.supervisors[0].guards is None
    _, plans = run(rb, rolling(), [alert("checkout-0"), alert("checkout-1")], T0)
    assert summary(plans[0]) == HELD


def test_the_detail_names_the_revision_and_the_numbers() -> None:
    rb = runbook(supervised())
    _, plans = run(rb, rolling(), [alert("checkout-0"), alert("checkout-1")], T0)
    assert plans[0].blocked[0].detail == (
        "2 of 2 signalling pods in the fleet are on the newest revision b of "
        "shop/deployment/checkout (still rolling out), at least badRollout minShare 80% and "
        "minSignalling 2: restarting them brings the same revision back"
    )
    _, plans = run(rb, rolling(range(10)), [alert("checkout-0"), alert("checkout-1")], T0)
    assert "(made 1m ago)" in plans[0].blocked[0].detail


def test_the_remedy_pauses_the_deployment_and_notifies() -> None:
    guards = "{badRollout: {remedy: [{pauseRollout: {}}, {notify: oncall}]}}"
    rb = runbook(supervised(guards, on_escalate="[{rolloutRestart: {}}]"))
    snap, plans = run(rb, rolling(), [alert("checkout-0"), alert("checkout-1")], T0)
    assert summary(plans[0]) == [
        "pauseRollout shop/deployment/checkout",
        "notify oncall",
        "blocked bad_rollout shop/checkout-0",
        "escalated checkout bad_rollout",
    ]
    assert summary(plans[1]) == ["blocked frozen shop/checkout-1"]
    assert snap.supervisor("checkout").frozen(T0 + 1)


def test_a_rollout_restart_is_never_the_default_remedy() -> None:
    """It would roll the same bad revision out again: without a remedy, only notifications."""
    rb = runbook(supervised(on_escalate="[{rolloutRestart: {}}, {notify: oncall}]"))
    _, plans = run(rb, rolling(), [alert("checkout-0"), alert("checkout-1")], T0)
    assert summary(plans[0]) == HELD


def test_only_a_deployment_rollout_can_be_paused() -> None:
    rb = runbook(supervised("{badRollout: {remedy: [{pauseRollout: {}}]}}"))
    snap = rolling(kind="StatefulSet")
    _, plans = run(rb, snap, [alert("checkout-0"), alert("checkout-1")], T0)
    assert summary(plans[0]) == [
        "blocked bad_rollout shop/checkout-0",
        "blocked invalid_target shop/statefulset/checkout",
        "escalated checkout bad_rollout",
    ]
    assert "only a Deployment's rollout can be paused" in plans[0].blocked[1].detail


def test_a_dry_run_pause_changes_nothing() -> None:
    rb = runbook(
        supervised("{badRollout: {remedy: [{pauseRollout: {}}]}}"), settings="dryRun: true"
    )
    _, plans = run(rb, rolling(), [alert("checkout-0"), alert("checkout-1")], T0)
    assert summary(plans[0])[0] == "pauseRollout shop/deployment/checkout (dry-run)"


def test_a_settling_restart_is_held_when_the_window_ends() -> None:
    """The first pod's report looks like one bad pod; the second shows the rollout."""
    rb = runbook(supervised(), settle="10s")
    snap, plans = run(rb, rolling(), [alert("checkout-0")], T0)
    assert summary(plans[0]) == ["drain shop/checkout-0", "blocked settling shop/checkout-0"]
    snap, plans = run(rb, snap, [alert("checkout-1")], T0 + 1)
    assert summary(plans[0]) == [*HELD[:1], "blocked bad_rollout shop/checkout-1", *HELD[2:]]
    plan = tick(rb, snap, now=T0 + 10)
    assert "restart shop/checkout-0" not in summary(plan)
    assert "restore shop/checkout-0" in summary(plan)


def test_defaults() -> None:
    assert (DEFAULT_BAD_ROLLOUT.min_share, DEFAULT_BAD_ROLLOUT.min_signalling) == (80, 2)
    assert DEFAULT_BAD_ROLLOUT.window == 1800.0
    assert DEFAULT_BAD_ROLLOUT.remedy is None


def test_the_loader_reads_every_field() -> None:
    guards = (
        "{badRollout: {minShare: 60%, minSignalling: 3, window: 1h, remedy: [{pauseRollout: {}}]}}"
    )
    guard = runbook(supervised(guards)).supervisors[0].bad_rollout
    assert (guard.min_share, guard.min_signalling, guard.window) == (60, 3, 3600.0)
    assert guard.remedy is not None
    assert guard.remedy[0].kind is EscalationKind.PAUSE_ROLLOUT


@pytest.mark.parametrize(
    ("guards", "message"),
    [
        (
            "{badRollout: {minShare: 3}}",
            "supervisors[0].guards.badRollout.minShare: found 3, expected a percentage from 1% "
            "to 100%",
        ),
        (
            "{badRollout: {minSignalling: 0}}",
            "supervisors[0].guards.badRollout.minSignalling: found 0, expected a whole number "
            "of at least 1",
        ),
        (
            "{badRollout: {remedy: [{rolloutRestart: {}}]}}",
            'supervisors[0].guards.badRollout.remedy[0]: found "rolloutRestart", expected a '
            "remedy, one of: pauseRollout, notify",
        ),
        (
            "{badRollout: {remedy: [{notify: pager}]}}",
            "supervisors[0].guards.badRollout.remedy[0].notify: found the undefined notifier "
            '"pager", expected one defined under notifiers: oncall',
        ),
        (
            "{badRollout: {minshare: 50%}}",
            "supervisors[0].guards.badRollout.minshare: found an unknown field, expected one of: "
            'minShare, minSignalling, window, remedy (did you mean "minShare"?)',
        ),
    ],
)
def test_bad_fields_are_named_with_the_fix(guards: str, message: str) -> None:
    with pytest.raises(RunbookInvalid) as caught:
        runbook(supervised(guards))
    assert message in str(caught.value)


def test_the_memory_cluster_models_rollouts_and_pauses() -> None:
    now = [T0]
    cluster = MemoryCluster(clock=lambda: now[0], traffic_label="remediation/traffic")
    cluster.add_workload(CHECKOUT, replicas=3, labels={"app": "checkout"})
    first_pod = PodKey("shop", "checkout-0")
    cluster.roll_out(CHECKOUT, "b", pods=[first_pod])
    snap = cluster.snapshot()
    assert snap.rollouts[CHECKOUT] == Rollout(revision="b", since=T0)
    assert [snap.pods[PodKey("shop", f"checkout-{i}")].revision for i in range(3)] == ["b", "", ""]
    asyncio.run(cluster.evict(PodKey("shop", "checkout-2")))
    now[0] += 60
    replacement = [p for p in cluster.snapshot().pods.values() if p.created_at is not None]
    assert [p.revision for p in replacement] == ["b"]  # the controller makes the newest
    asyncio.run(cluster.pause_rollout(CHECKOUT))
    assert cluster.paused_rollouts == {CHECKOUT}
    with pytest.raises(LookupError):
        asyncio.run(cluster.pause_rollout(Workload("shop", "StatefulSet", "checkout")))


ROLLOUT_RUNBOOK = RUNBOOK.replace(
    "guards: {maxUnavailable: 50%, maxUnhealthy: 50%}",
    "guards: {maxUnavailable: 50%, maxUnhealthy: 50%, badRollout: {remedy: [{pauseRollout: {}}]}}",
)


def test_through_the_service_metrics_status_and_console(tmp_path: Path) -> None:
    h = harness(tmp_path, runbook=ROLLOUT_RUNBOOK)
    labels = {"supervisor": "checkout", "cause": "bad_rollout"}
    assert h.registry.get_sample_value("remediation_escalations_total", labels) == 0.0
    assert (
        h.registry.get_sample_value(
            "remediation_blocked_decisions_total", {"reason": "bad_rollout"}
        )
        == 0.0
    )
    new = [PodKey("shop", "checkout-0"), PodKey("shop", "checkout-1")]
    h.cluster.roll_out(CHECKOUT, "b", pods=new)
    client = h.client()
    payload = webhook(webhook_alert("checkout-0"), webhook_alert("checkout-1"))
    decisions = client.post("/api/v1/alerts", content=body(payload), headers=auth()).json()[
        "decisions"
    ]
    assert [d["blocked"][0]["reason"] for d in decisions] == ["bad_rollout", "frozen"]
    assert [e["cause"] for e in decisions[0]["escalations"]] == ["bad_rollout"]
    assert h.cluster.paused_rollouts == {CHECKOUT}
    assert h.metric("remediation_escalations_total", labels) == 1
    assert h.metric("remediation_blocked_decisions_total", {"reason": "bad_rollout"}) == 1
    events = [e.reason for e in h.cluster.events if e.workload == CHECKOUT]
    assert "RolloutPaused" in events
    status = client.get("/api/v1/status").json()
    held = {p["pod"]: p for p in status["pods"]}["shop/checkout-0"]
    assert (held["revision"], held["newestRevision"]) == ("b", True)
    assert held["why"]["last"]["reason"] == "bad_rollout"
    text = "\n".join(status_lines(status))
    assert "shop/checkout-0: serving (signalling), revision b (newest); last: held" in text
    # Frozen by the escalation: the banner says so, and why.
    frozen = "! supervisor checkout is frozen for another 10m after supervisor checkout escalated"
    assert f"{frozen} (bad_rollout) on shop/checkout-0" in text
    page = client.get("/").text
    assert "revision b of shop/deployment/checkout" in page
    assert "(its workload&#39;s newest)" in page or "(its workload's newest)" in page


def test_holds_and_a_bad_rollout_side_by_side_in_decisions_status_and_banner(
    tmp_path: Path,
) -> None:
    """An operator's hold outranks the guard on the pod it covers; the status lists the
    hold, the rules' outcomes and the bad-rollout freeze, and the banner tells both."""
    h = harness(tmp_path, runbook=ROLLOUT_RUNBOOK)
    client = h.client()
    asked = {"pod": "shop/checkout-1", "for": "1h", "reason": "heap dump"}
    assert client.post("/api/v1/holds", json=asked, headers=auth()).status_code == 200
    new = [PodKey("shop", "checkout-0"), PodKey("shop", "checkout-1")]
    h.cluster.roll_out(CHECKOUT, "b", pods=new)
    payload = webhook(webhook_alert("checkout-0"), webhook_alert("checkout-1"))
    decisions = client.post("/api/v1/alerts", content=body(payload), headers=auth()).json()[
        "decisions"
    ]
    assert [d["blocked"][0]["reason"] for d in decisions] == ["bad_rollout", "held"]
    assert h.cluster.paused_rollouts == {CHECKOUT}
    status = client.get("/api/v1/status").json()
    assert [hold["target"] for hold in status["holds"]] == ["shop/checkout-1"]
    assert {r["rule"] for r in status["ruleOutcomes"]} >= {"error-outlier"}
    texts = [line["text"] for line in status["banner"]]
    frozen = [t for t in texts if t.startswith("supervisor checkout is frozen")]
    held = [t for t in texts if t.startswith("pod shop/checkout-1 is held by")]
    assert len(frozen) == len(held) == 1, texts
    assert "(bad_rollout) on shop/checkout-0" in frozen[0]
    assert texts.index(frozen[0]) < texts.index(held[0])  # most urgent first


def test_the_banner_names_a_fleet_held_as_a_bad_rollout() -> None:
    status = {
        "supervisors": [],
        "fleets": [],
        "runbook": {"dryRun": False},
        "pods": [
            {
                "pod": f"shop/checkout-{i}",
                "fleet": "shop/deployment/checkout",
                "state": "serving",
                "wouldMeet": {
                    "reason": "bad_rollout",
                    "supervisor": "checkout",
                    "detail": "2 of 2",
                },
            }
            for i in range(2)
        ],
    }
    assert banner(status) == [
        {
            "level": "bad",
            "text": "fleet shop/deployment/checkout is held as a bad rollout: 2 of 2; no pod of "
            "the newest revision is acted on, the supervisor escalates",
            "href": "/supervisors/checkout",
        }
    ]


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        pytest.param(
            HoldKind.WORKLOAD, "shop/deployment/checkout", ["blocked held"], id="workload"
        ),
        pytest.param(HoldKind.SUPERVISOR, "checkout", ["blocked held"], id="its supervisor"),
        pytest.param(HoldKind.POD, "shop/checkout-3", ["pauseRollout"], id="one pod: not"),
    ],
)
def test_a_hold_on_the_workload_blocks_its_pause(
    kind: HoldKind, target: str, expected: list[str]
) -> None:
    """The remedy's own check: the origin's signal is blocked `held` before it escalates,
    but a supervisor matching some of the Deployment's pods may hold them."""
    rb = runbook(supervised("{badRollout: {remedy: [{pauseRollout: {}}]}}"))
    hold = Hold(
        id="h1", kind=kind, target=target, reason="r", author="a", created=T0, expires=T0 + 60
    )
    snap = replace(rolling(), holds=(hold,))
    draft = Draft(snap, T0)
    origin = snap.pods[PodKey("shop", "checkout-0")]
    supervisor = rb.by_name["checkout"]
    pause_rollout(rb, Tree(rb, draft), draft, supervisor, origin, "outlier", False, T0)
    found = [str(a.kind) for a in draft.actions] + [f"blocked {b.reason}" for b in draft.blocked]
    assert found == expected
    if kind is not HoldKind.POD:
        assert "is held by a until" in draft.blocked[0].detail
        assert draft.blocked[0].supervisor == "checkout"
