"""The CLI as a client of a live `receiver serve`: status, decisions (--follow), resume, reset,
hold and unhold.

And `receiver explain`, offline, against the same runbook the server runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_receiver import RUNBOOK, TOKEN, Receiver, alert, receiver

RECEIVER = [sys.executable, "-m", "receiver"]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Receiver]:
    with receiver(tmp_path) as server:
        yield server


def cli(live: Receiver | None, *args: str, token: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    if live is not None:
        env["RECEIVER_URL"] = live.base
    if token:
        env["RECEIVER_TOKEN"] = TOKEN
    return subprocess.run(
        [*RECEIVER, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_status_prints_the_banner_guard_usage_and_held_pods(live: Receiver) -> None:
    live.alerts(*(alert(f"checkout-{i}") for i in range(4)))
    done = cli(live, "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("! supervisor checkout is frozen for another")
    assert lines[2].startswith("! fleet shop/statefulset/checkout is held as systemic: 4 of 6")
    assert (
        "    checkout: unavailable 0 of 2 (maxUnavailable 2); signalling 4, systemic above 3; "
        "cooldown 1m" in lines
    )
    assert any(
        line.startswith("  shop/checkout-0: serving (signalling); last: held drain (systemic)")
        for line in lines
    )


def test_decisions_filters_by_pod_and_reason(live: Receiver) -> None:
    live.alerts(alert("checkout-1"), alert("checkout-2", name="SomethingElse"))
    everything = cli(live, "decisions").stdout.splitlines()
    assert len(everything) == 2
    by_pod = cli(live, "decisions", "--pod", "shop/checkout-1").stdout.splitlines()
    assert len(by_pod) == 1
    assert "acted     drain shop/checkout-1 [applied] step 1 of rule error-outlier" in by_pod[0]
    by_reason = cli(live, "decisions", "--reason", "no_rule").stdout.splitlines()
    assert len(by_reason) == 1
    assert "nothing shop/checkout-2 [no_rule]" in by_reason[0]
    assert cli(live, "decisions", "--pod", "checkout-1", "--reason", "no_rule").stdout == ""


def test_decisions_follow_prints_new_decisions_as_they_come(live: Receiver) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    follower = subprocess.Popen(
        [*RECEIVER, "decisions", "--follow", "--url", live.base, "--pod", "checkout-3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        live.alerts(alert("checkout-2"))
        live.alerts(alert("checkout-3"))
        assert follower.stdout is not None
        line = follower.stdout.readline()  # blocks until the follower prints
        assert "drain shop/checkout-3 [applied]" in line
        assert "checkout-2" not in line
    finally:
        follower.terminate()
        follower.communicate(timeout=10)


def test_resume_and_reset_need_the_token_and_are_in_the_log(live: Receiver) -> None:
    live.alerts(alert("checkout-1"))
    refused = cli(live, "resume", "shop/checkout-1")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"receiver resume: 401 from {live.base}: missing or invalid bearer token"
    )
    resumed = cli(live, "resume", "shop/checkout-1", token=True)
    assert resumed.returncode == 0, resumed.stderr
    restored, followed = resumed.stdout.splitlines()
    assert restored.endswith(
        "restore shop/checkout-1 [applied] resumed by a human from drained (by token 1)"
    )
    assert followed.endswith(  # the human ended the drain before its outcome was known
        "outcome [superseded] drain of shop/checkout-1 (rule error-outlier) superseded: "
        "resume pod shop/checkout-1 (was drained)"
    )
    pods = live.status()["pods"]
    assert [(p["pod"], p["state"]) for p in pods] == [("shop/checkout-1", "serving")]

    live.alerts(*(alert(f"checkout-{i}") for i in range(4)))
    assert live.status()["supervisors"][0]["frozenUntil"]
    reset = cli(live, "reset", "checkout", token=True)
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.endswith(
        "operator  reset supervisor checkout and its subtree (by token 1)\n"
    )
    assert not live.status()["supervisors"][0]["frozenUntil"]
    logged = cli(live, "decisions", "--supervisor", "checkout", "--limit", "1")
    assert logged.stdout == reset.stdout
    missing = cli(live, "reset", "nobody", token=True)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"receiver reset: 404 from {live.base}: no supervisor nobody"


def test_hold_keeps_automation_off_a_pod_until_unhold(live: Receiver) -> None:
    refused = cli(live, "hold", "--pod", "shop/checkout-1", "--for", "2h", "--reason", "x")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"receiver hold: 401 from {live.base}: missing or invalid bearer token"
    )
    held = cli(
        live, "hold", "--pod", "shop/checkout-1", "--for", "2h", "--reason", "heap dump",
        "--author", "alice", token=True,
    )  # fmt: skip
    assert held.returncode == 0, held.stderr
    first, logged = held.stdout.splitlines()
    hold_id = first.split()[1].rstrip(":")
    assert first.startswith(f"hold {hold_id}: pod shop/checkout-1 held by alice via token 1 until")
    assert first.endswith(f"(lift it: receiver unhold {hold_id})")
    assert logged.endswith(
        f"set hold: pod shop/checkout-1 is held by alice via token 1 until "
        f"{live.status()['holds'][0]['expires'][:19]}Z (hold {hold_id}): heap dump (by token 1)"
    )

    blocked = live.alerts(alert("checkout-1"))["decisions"][0]["blocked"][0]
    assert (blocked["reason"], blocked["wanted"], blocked["target"]) == (
        "held",
        "drain",
        "shop/checkout-1",
    )
    assert "held by alice via token 1" in blocked["detail"]
    assert blocked["detail"].endswith(f"(hold {hold_id}): heap dump")
    status = cli(live, "status").stdout.splitlines()
    assert status[1].startswith("! pod shop/checkout-1 is held by alice via token 1 for another ")
    assert status[1].endswith(
        f": heap dump; automation is off there until then or until `receiver unhold {hold_id}`"
    )
    assert any(
        line.startswith(f"  {hold_id}  pod shop/checkout-1 by alice via token 1") for line in status
    )

    lifted = cli(live, "unhold", hold_id, token=True)
    assert lifted.returncode == 0, lifted.stderr
    assert lifted.stdout.endswith(
        f"operator  lift hold {hold_id} on pod shop/checkout-1 (set by alice via token 1: "
        "heap dump) (by token 1)\n"
    )
    assert live.status()["holds"] == []
    acted = live.alerts(alert("checkout-1"))["decisions"][0]["actions"]
    assert [(a["action"], a["outcome"]) for a in acted] == [("drain", "applied")]
    again = cli(live, "unhold", hold_id, token=True)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"receiver unhold: 404 from {live.base}: no hold {hold_id} in force "
        "(it may have expired or been lifted)"
    )


def test_hold_of_a_workload_and_the_errors_a_hold_request_gets(live: Receiver) -> None:
    held = cli(
        live, "hold", "--workload", "shop/StatefulSet/checkout", "--until",
        "2099-01-01T00:00:00Z", "--reason", "x", token=True,
    )  # fmt: skip
    assert held.returncode == 1
    assert held.stderr.strip() == (
        f'receiver hold: 400 from {live.base}: until: found "2099-01-01T00:00:00Z", '
        "expected at most 7d ahead (holds expire; set a new one then)"
    )
    unknown = cli(
        live, "hold", "--supervisor", "nobody", "--for", "1h", "--reason", "x", token=True
    )
    assert unknown.stderr.strip() == (
        f'receiver hold: 400 from {live.base}: supervisor: found "nobody", '
        "expected a supervisor of the runbook (checkout, shop)"
    )
    assert live.status()["holds"] == []
    held = cli(
        live, "hold", "--workload", "shop/StatefulSet/checkout", "--for", "30m", "--reason",
        "migrating", token=True,
    )  # fmt: skip
    assert held.returncode == 0, held.stderr
    assert [(h["kind"], h["target"]) for h in live.status()["holds"]] == [
        ("workload", "shop/statefulset/checkout")
    ]
    blocked = live.alerts(alert("checkout-2"))["decisions"][0]["blocked"]
    assert [b["reason"] for b in blocked] == ["held"]


def test_a_client_without_a_receiver_says_where_it_looked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    done = subprocess.run(
        [*RECEIVER, "status", "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("receiver status: cannot reach http://127.0.0.1:9:")
    assert "(set --url or $RECEIVER_URL)" in done.stderr


def test_explain_walks_rule_supervisors_guards_and_decides(tmp_path: Path) -> None:
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    done = cli(
        None, "explain", "--runbook", str(runbook), "--replicas", "6",
        "alertname=PodErrorRatioOutlier", "namespace=shop", "pod=checkout-7f9c4-x2v7p",
        "app=checkout",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "fleet: assumed, the pod and 5 healthy peers (--fleet FILE to give it)",
        'alert: {alertname="PodErrorRatioOutlier", app="checkout", namespace="shop", '
        'pod="checkout-7f9c4-x2v7p"}',
        "rule: error-outlier (steps: drain 10m, restart; then pause)",
        'pod: shop/checkout-7f9c4-x2v7p (labels {app="checkout", namespace="shop", '
        'pod="checkout-7f9c4-x2v7p", workload="checkout", workload_kind="Deployment"})',
        "supervisors: checkout <- shop",
        "guards of checkout: unavailable 0 of 2 (maxUnavailable 2); signalling 0, "
        "systemic above 3; cooldown 1m, fleet shop/deployment/checkout (6 pods)",
        "intensity of checkout: 0 of 10",
        "intensity of shop: 0 of 20",
        "decision now:",
        "  drain shop/checkout-7f9c4-x2v7p: step 1 of rule error-outlier: drain for 10m",
    ]


def test_explain_with_a_fleet_file_and_no_matching_rule(tmp_path: Path) -> None:
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "fleet:\n"
        "  - {statefulset: checkout, namespace: shop, replicas: 3, labels: {app: checkout}}\n",
        encoding="utf-8",
    )
    done = cli(
        None, "explain", "--runbook", str(runbook), "--fleet", str(fleet),
        "alertname=Other", "namespace=shop", "pod=checkout-2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rule: none matches (rules: error-outlier)" in done.stdout
    assert "fleet shop/statefulset/checkout (3 pods)" in done.stdout
    assert done.stdout.endswith(
        "decision now:\n  not acted (no_rule) shop/checkout-2: no rule matches the signal\n"
    )
    bad = cli(None, "explain", "--runbook", str(runbook), "alertname=Other")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "receiver explain: labels need namespace, pod (as NAME=VALUE)"
