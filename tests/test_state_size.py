"""The state object at every limit stays under its budget (a ConfigMap holds at most 1 MiB).

Holds and open outcome watches share it with the supervisors, workloads and
recent actions. Each of the two is bounded in bytes (MAX_HOLDS_BYTES,
MAX_WATCHES_BYTES), so neither many nor long entries can make the object
unwritable, which would fail every save and answer every decision 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest
from builders import T0, alert, fleet, run, runbook, snapshot

from receiver.cluster.codec import StoredState, encode_state
from receiver.decide import HoldRefused, fold, hold
from receiver.ingest.holds import MAX_AUTHOR, MAX_REASON, MAX_TARGET
from receiver.model import Hold, HoldKind, SupervisorState, Target, Watch, Workload
from receiver.model.hold import MAX_HOLDS_BYTES, holds_bytes
from receiver.model.watch import (
    MAX_WATCHES_BYTES,
    WATCHED_TARGETS,
    WATCHES_PER_TARGET,
    watches_bytes,
)

BUDGET = 900 * 1024
"""What the state object may take at worst, with room under the ConfigMap's 1 MiB."""

RUNBOOK = """
supervisors:
  - name: shop
    match: {namespace: shop}
    intensity: {max: 1000, period: 10m}
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}]
"""

LONG_NAME = 63  # a runbook name, a Kubernetes namespace
LONGEST = 253  # a Kubernetes object name
WHEN = 1.2345678901234567e9  # a float whose repr is as long as a timestamp's can be
# Characters JSON escapes at 12 bytes each (\ud83d\ude80): the worst a hold's text can cost.
ROCKET = "\U0001f680"


def at_the_limit(n: int) -> Hold:
    return Hold(
        id=f"{n:08x}",
        kind=HoldKind.WORKLOAD,
        target=(ROCKET * MAX_TARGET),
        reason=ROCKET * MAX_REASON,
        author=ROCKET * MAX_AUTHOR + " via " + "t" * LONG_NAME,
        created=WHEN,
        expires=WHEN,
    )


def full_holds() -> tuple[Hold, ...]:
    """Holds of every field at its longest, set until the next is refused."""
    snap, n = snapshot(), 0
    while holds_bytes((*snap.holds, at_the_limit(n))) <= MAX_HOLDS_BYTES:
        snap = fold(snap, hold(snap, replace(at_the_limit(n), expires=T0 + 60), T0))
        n += 1
    with pytest.raises(HoldRefused, match="bytes of the state object"):
        hold(snap, replace(at_the_limit(n), expires=T0 + 60), T0)
    return snap.holds


def watch_at_the_limit(i: int, chain: int) -> Watch:
    return Watch(
        rule="r" * LONG_NAME,
        action="rolloutRestart",
        pod="p" * LONGEST,
        at=WHEN + i,
        until=WHEN,
        supervisors=tuple(f"{'s' * (LONG_NAME - 2)}{j:02d}" for j in range(chain)),
        healthy_at=WHEN,
    )


def full_watches(chain: int) -> dict[Workload, tuple[Watch, ...]]:
    """WATCHED_TARGETS targets of WATCHES_PER_TARGET watches, every name at its longest."""
    return {
        Workload(f"{'n' * (LONG_NAME - 3)}{t:03d}", "StatefulSet", "w" * LONGEST): tuple(
            watch_at_the_limit(t * WATCHES_PER_TARGET + i, chain) for i in range(WATCHES_PER_TARGET)
        )
        for t in range(WATCHED_TARGETS)
    }


def test_watches_bytes_never_counts_short() -> None:
    for watches in (full_watches(0), full_watches(8)):
        for target, kept in watches.items():
            assert len(_watches_json({target: kept})) - 2 <= watches_bytes(
                target, kept
            )  # less the list's brackets, which the overhead's comma covers
    odd = Workload('n"s', "k\\", f"x{ROCKET}\u00e9\n")  # what JSON escapes, for a bound's sake
    kept = (Watch(rule='r"', action="drain", pod=f"p\\{ROCKET}", at=WHEN, until=WHEN),)
    assert len(_watches_json({odd: kept})) - 2 <= watches_bytes(odd, kept)
    assert watches_bytes(Workload("a", "b", "c"), ()) == 0


def test_with_everyday_names_the_count_bounds_the_watches_first() -> None:
    everyday = {
        Workload("shop", "Deployment", f"checkout-{t}"): tuple(
            Watch(
                rule="error-outlier",
                action="restart",
                pod=f"checkout-{t}-7d9f8c6b5-x2x9z",
                at=WHEN + i,
                until=WHEN,
                supervisors=("checkout", "shop"),
                healthy_at=WHEN,
            )
            for i in range(WATCHES_PER_TARGET)
        )
        for t in range(WATCHED_TARGETS)
    }
    assert sum(watches_bytes(t, ws) for t, ws in everyday.items()) < MAX_WATCHES_BYTES


def test_a_decision_that_opens_a_watch_keeps_the_watches_under_their_share() -> None:
    """At Kubernetes' name limits the count bound alone would allow over 1 MiB of watches."""
    over = full_watches(chain=8)
    assert len(_watches_json(over)) > 1024 * 1024
    rb = runbook(RUNBOOK)
    snap = replace(snapshot(fleet("checkout", 3)), watches=over)
    snap, plans = run(rb, snap, [alert("checkout-0")], T0)
    assert [a.kind for a in plans[0].actions] == ["drain"]
    assert len(_watches_json(snap.watches)) <= MAX_WATCHES_BYTES
    newest = Workload("shop", "Deployment", "checkout")
    assert [w.pod for w in snap.watches[newest]] == ["shop/checkout-0"]  # the new one is kept
    kept = [t for t, ws in snap.watches.items() if ws and t != newest]
    dropped = [t for t in over if t not in kept]
    assert kept
    assert dropped
    # The targets acted on longest ago went first.
    assert max(over[t][-1].at for t in dropped) < min(over[t][-1].at for t in kept)


def test_the_state_object_at_every_limit_stays_under_its_budget() -> None:
    holds = full_holds()
    assert holds_bytes(holds) <= MAX_HOLDS_BYTES
    supervisors = {  # a supervisor at a spent budget of 1000 actions
        f"{'s' * (LONG_NAME - 2)}{j:02d}": SupervisorState(
            counted=(WHEN,) * 1000, actions=(WHEN,) * 1000, frozen_until=WHEN, escalations=9
        )
        for j in range(2)
    }
    # Watches at Kubernetes' name limits, trimmed to their share as a decision that opens one does.
    snap = replace(snapshot(fleet("checkout", 1)), watches=full_watches(chain=8))
    watches = run(runbook(RUNBOOK), snap, [alert("checkout-0")], T0)[0].watches
    data = encode_state(StoredState({}, supervisors, (WHEN,) * 1000, holds, watches))
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    print(f"state object at every limit: {size} bytes of {BUDGET}")
    assert len(data["holds"]) > MAX_HOLDS_BYTES * 0.9  # the holds really are at their limit
    assert len(data["watches"]) > MAX_WATCHES_BYTES * 0.9  # and so are the watches
    assert size < BUDGET


def _watches_json(watches: Mapping[Target, tuple[Watch, ...]]) -> str:
    """The state object's `watches` entry, as the codec writes it."""
    return encode_state(StoredState(watches=watches))["watches"]
