"""Guard usage as the console shows it agrees with the guards' own verdicts, for any fleet.

If the console says "unavailable 2 of 2", an action on a healthy pod must be
held by maxUnavailable; if it says "signalling 4, systemic above 3", by
systemic. A property test over fleets and limits keeps the two from drifting.
"""

from __future__ import annotations

from builders import T0, fleet, in_state, runbook, snapshot, with_pod
from hypothesis import given
from hypothesis import strategies as st

from receiver.decide.draft import Draft
from receiver.decide.guards import check_availability, check_systemic
from receiver.decide.tree import Tree
from receiver.model import PodKey, PodState, Reason
from receiver.report.usage import Usage


def guarded(max_unavailable: str, max_unhealthy: str) -> str:
    return f"""
supervisors:
  - name: checkout
    match: {{app: checkout}}
    intensity: {{max: 100, period: 10m}}
    guards: {{maxUnavailable: {max_unavailable}, maxUnhealthy: {max_unhealthy}}}
rules:
  - name: outlier
    match: {{alertname: PodErrorRatioOutlier}}
    steps: [{{drain: {{for: 2m}}}}]
"""


@given(
    size=st.integers(2, 12),
    drained=st.integers(0, 12),
    signalling=st.integers(0, 12),
    max_unavailable=st.sampled_from(["1", "2", "30%", "50%"]),
    max_unhealthy=st.sampled_from(["20%", "50%", "70%"]),
)
def test_usage_at_its_limit_is_exactly_when_the_guard_holds(
    size: int, drained: int, signalling: int, max_unavailable: str, max_unhealthy: str
) -> None:
    book = runbook(guarded(max_unavailable, max_unhealthy))
    snap = snapshot(fleet(replicas=size))
    # The last pod stays serving and quiet: the one an action would be for.
    for i in range(min(drained, size - 1)):
        snap = with_pod(snap, f"checkout-{i}", lifecycle=in_state(PodState.DRAINED, until=T0 + 60))
    for i in range(min(signalling, size)):
        key = PodKey("shop", f"checkout-{i}")
        life = snap.pods[key].lifecycle
        snap = with_pod(snap, f"checkout-{i}", lifecycle=life.with_signal(f"fp-{i}", T0 + 300, T0))
    target = snap.pods[PodKey("shop", f"checkout-{size - 1}")]
    [guard] = Usage(book, snap, T0).fleet_guards(target)
    tree = Tree(book, Draft(snap, T0))
    chain = tree.chain(target)

    unavailable = guard["maxUnavailable"]
    held = check_availability(tree, target, chain)
    assert (unavailable["used"] + 1 > unavailable["limit"]) == (
        held is not None and held.reason is Reason.MAX_UNAVAILABLE
    )
    unhealthy = guard["maxUnhealthy"]
    systemic = check_systemic(tree, target, chain, T0)
    assert (unhealthy["used"] > unhealthy["limit"]) == (systemic is not None)
    assert guard["size"] == size
