"""DeadlineTracker on a simulated clock: conditions become changes, silence becomes missed."""

from __future__ import annotations

import pytest

from receiver.ingest import Change, DeadlineTracker
from receiver.model import HeartbeatStatus, PodKey, Status

OK = HeartbeatStatus.OK
DEGRADED = HeartbeatStatus.DEGRADED
FAILING = HeartbeatStatus.FAILING
MISSED = HeartbeatStatus.MISSED
FIRING = Status.FIRING
RESOLVED = Status.RESOLVED

T0 = 1_000.0  # when the tracker (the receiver) started
REFRESH = 60.0
DEADLINE = 15.0  # interval 5s x missAfter 3
POD = PodKey("shop", "checkout-0")


def tracker(started_at: float = T0, refresh: float = REFRESH) -> DeadlineTracker:
    return DeadlineTracker(started_at=started_at, refresh=refresh)


def change(name: str, status: Status, starts_at: float, reason: str = "") -> Change:
    return Change(POD, name, status, starts_at, reason)


def summary(changes: list[Change]) -> list[tuple[str, str, float]]:
    """What a decision cares about: which signal, firing or resolved, since when."""
    return [(c.name, str(c.status), c.starts_at) for c in changes]


def missed_reason(deadline: float = DEADLINE) -> str:
    return f"no heartbeat within {deadline:g}s"


# -- beats: conditions become changes -----------------------------------------------------------

# id, beats as (status, reason, offset from T0), changes of the last beat as (name, status, start)
BEAT_CASES = [
    ("first beat ok", [(OK, "", 0)], []),
    ("ok stays ok", [(OK, "", 0), (OK, "", 5), (OK, "", 500)], []),
    (
        "degraded fires at once",
        [(OK, "", 0), (DEGRADED, "slow db", 5)],
        [("HeartbeatDegraded", "firing", T0 + 5)],
    ),
    ("first beat degraded fires", [(DEGRADED, "x", 0)], [("HeartbeatDegraded", "firing", T0)]),
    ("first beat failing fires", [(FAILING, "x", 0)], [("HeartbeatFailing", "firing", T0)]),
    (
        "persisting degraded is quiet within refresh",
        [(DEGRADED, "x", 0), (DEGRADED, "x", 5), (DEGRADED, "x", REFRESH - 1)],
        [],
    ),
    (
        "persisting degraded is re-announced after refresh with its original start",
        [(DEGRADED, "x", 0), (DEGRADED, "x", 5), (DEGRADED, "x", REFRESH)],
        [("HeartbeatDegraded", "firing", T0)],
    ),
    (
        "degraded to ok resolves",
        [(DEGRADED, "x", 0), (OK, "", 5)],
        [("HeartbeatDegraded", "resolved", T0)],
    ),
    (
        "degraded to failing resolves one and fires the other",
        [(DEGRADED, "x", 0), (FAILING, "y", 5)],
        [("HeartbeatDegraded", "resolved", T0), ("HeartbeatFailing", "firing", T0 + 5)],
    ),
    (
        "failing to degraded resolves one and fires the other",
        [(FAILING, "x", 0), (DEGRADED, "y", 5)],
        [("HeartbeatFailing", "resolved", T0), ("HeartbeatDegraded", "firing", T0 + 5)],
    ),
    (
        "degraded again after ok is a new occurrence",
        [(DEGRADED, "x", 0), (OK, "", 5), (DEGRADED, "x", 10)],
        [("HeartbeatDegraded", "firing", T0 + 10)],
    ),
]


@pytest.mark.parametrize(
    ("beats", "expected"),
    [case[1:] for case in BEAT_CASES],
    ids=[case[0] for case in BEAT_CASES],
)
def test_beat_changes(
    beats: list[tuple[HeartbeatStatus, str, float]], expected: list[tuple[str, str, float]]
) -> None:
    t = tracker()
    changes: list[Change] = []
    for status, reason, offset in beats:
        changes = t.beat(POD, status, reason, DEADLINE, T0 + offset)

    assert summary(changes) == expected


def test_changes_carry_pod_and_reason() -> None:
    t = tracker()

    fired = t.beat(POD, DEGRADED, "db pool 90% used", DEADLINE, T0)
    moved = t.beat(POD, FAILING, "db unreachable", DEADLINE, T0 + 5)

    assert fired == [change("HeartbeatDegraded", FIRING, T0, "db pool 90% used")]
    assert moved == [
        change("HeartbeatDegraded", RESOLVED, T0, "db pool 90% used"),
        change("HeartbeatFailing", FIRING, T0 + 5, "db unreachable"),
    ]
    assert t.condition(POD) is FAILING


def test_persisting_condition_is_re_announced_once_per_refresh() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "x", DEADLINE, T0)
    announced = []
    for second in range(1, 301):  # a beat every second for five minutes
        if t.beat(POD, DEGRADED, "x", DEADLINE, T0 + second):
            announced.append(second)

    assert announced == [60, 120, 180, 240, 300]


def test_re_announcement_keeps_the_reason_of_the_start() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "first words", DEADLINE, T0)

    (again,) = t.beat(POD, DEGRADED, "other words", DEADLINE, T0 + REFRESH)

    assert again == change("HeartbeatDegraded", FIRING, T0, "first words")


# -- deadlines ----------------------------------------------------------------------------------


def test_silence_past_the_deadline_is_missed_and_a_beat_resolves_it() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)

    assert t.due(T0 + DEADLINE - 0.001) == []
    assert t.due(T0 + DEADLINE) == [POD]
    missed = t.miss(POD, T0 + DEADLINE)
    assert missed == [change("HeartbeatMissed", FIRING, T0 + DEADLINE, missed_reason())]
    assert t.condition(POD) is MISSED
    assert t.missed_total == 1

    back = t.beat(POD, OK, "", DEADLINE, T0 + 40)
    assert back == [change("HeartbeatMissed", RESOLVED, T0 + DEADLINE, missed_reason())]
    assert t.condition(POD) is OK


def test_beats_in_time_are_never_due() -> None:
    t = tracker()
    for second in range(0, 600, 5):
        t.beat(POD, OK, "", DEADLINE, T0 + second)
        assert t.due(T0 + second + 4.999) == []

    assert t.missed_total == 0


def test_a_missed_pod_is_re_announced_every_refresh_with_its_start() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    start = T0 + DEADLINE
    assert t.due(start) == [POD]
    t.miss(POD, start)

    # Due again every deadline, so that a replacement under its name soon shows (the
    # pipeline checks); announced again only every refresh.
    assert t.due(start + DEADLINE - 0.001) == []
    for n in (1, 2, 3):
        assert t.due(start + n * DEADLINE) == [POD]
        assert t.miss(POD, start + n * DEADLINE) == []
    assert t.due(start + REFRESH) == [POD]
    again = t.miss(POD, start + REFRESH)
    assert again == [change("HeartbeatMissed", FIRING, start, missed_reason())]
    for n in (5, 6, 7):
        assert t.due(start + n * DEADLINE) == [POD]
        assert t.miss(POD, start + n * DEADLINE) == []
    assert t.due(start + 2 * REFRESH) == [POD]
    assert summary(t.miss(POD, start + 2 * REFRESH)) == [("HeartbeatMissed", "firing", start)]
    assert t.missed_total == 1  # one silence, announced three times


def test_a_degraded_pod_going_silent_resolves_degraded_and_fires_missed() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "slow", DEADLINE, T0)

    assert t.due(T0 + DEADLINE) == [POD]
    changes = t.miss(POD, T0 + DEADLINE)

    assert changes == [
        change("HeartbeatDegraded", RESOLVED, T0, "slow"),
        change("HeartbeatMissed", FIRING, T0 + DEADLINE, missed_reason()),
    ]


def test_missed_then_degraded_resolves_missed_and_fires_degraded() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    t.due(T0 + 20)
    t.miss(POD, T0 + 20)

    changes = t.beat(POD, DEGRADED, "warming up", DEADLINE, T0 + 30)

    assert summary(changes) == [
        ("HeartbeatMissed", "resolved", T0 + 20),
        ("HeartbeatDegraded", "firing", T0 + 30),
    ]


def test_missed_reason_names_the_deadline() -> None:
    t = tracker()
    t.beat(POD, OK, "", 90.0, T0)
    t.due(T0 + 90)

    (missed,) = t.miss(POD, T0 + 90)

    assert missed.reason == "no heartbeat within 1m30s"


def test_a_beat_with_no_deadline_is_never_due() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    t.beat(POD, OK, "", None, T0 + 1)  # the runbook no longer expects beats from it

    assert t.due(T0 + 10_000) == []
    assert POD in t


def test_a_first_beat_with_no_deadline_is_never_due() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "x", None, T0)

    assert t.due(T0 + 10_000) == []
    assert t.condition(POD) is DEGRADED


def test_a_shorter_deadline_takes_effect_at_once() -> None:
    t = tracker()
    t.beat(POD, OK, "", 300.0, T0)
    t.beat(POD, OK, "", 10.0, T0 + 1)

    assert t.due(T0 + 11) == [POD]


def test_a_longer_deadline_postpones_the_check() -> None:
    t = tracker()
    t.beat(POD, OK, "", 10.0, T0)
    t.beat(POD, OK, "", 300.0, T0 + 1)

    assert t.due(T0 + 11) == []
    assert t.due(T0 + 301) == [POD]


# -- start-up grace -----------------------------------------------------------------------------

# id, pod started (offset from T0), deadline, first offset at which it is due
WATCH_CASES = [
    ("pod older than the receiver waits a deadline from start-up", -3600.0, 30.0, 30.0),
    ("pod started just before the receiver", -10.0, 30.0, 30.0),
    ("pod started with the receiver", 0.0, 30.0, 30.0),
    ("pod started later waits a deadline from its own start", 100.0, 30.0, 130.0),
    ("long deadline", 5.0, 600.0, 605.0),
]


@pytest.mark.parametrize(
    ("started", "deadline", "due_at"),
    [case[1:] for case in WATCH_CASES],
    ids=[case[0] for case in WATCH_CASES],
)
def test_watch_grace_period(started: float, deadline: float, due_at: float) -> None:
    t = tracker()
    t.watch(POD, deadline, T0 + started)

    assert t.due(T0 + due_at - 0.001) == []
    assert t.due(T0 + due_at) == [POD]


def test_watched_pod_that_never_beats_is_missed_since_its_due_time() -> None:
    t = tracker()
    t.watch(POD, 30.0, T0 - 3600)
    t.due(T0 + 30)

    (missed,) = t.miss(POD, T0 + 30)

    assert missed == change("HeartbeatMissed", FIRING, T0 + 30, "no heartbeat within 30s")


def test_watch_is_a_no_op_for_a_pod_already_heard() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0 + 100)
    t.watch(POD, 1.0, T0)  # would be due at T0 + 1 if it replaced the entry

    assert t.due(T0 + 100 + DEADLINE - 0.001) == []
    assert t.due(T0 + 100 + DEADLINE) == [POD]


def test_a_watched_pod_that_beats_moves_its_deadline() -> None:
    t = tracker()
    t.watch(POD, 30.0, T0)
    t.beat(POD, OK, "", 30.0, T0 + 20)

    assert t.due(T0 + 30) == []
    assert t.due(T0 + 50) == [POD]


# -- postpone, forget, unconfirm ----------------------------------------------------------------


def test_postpone_looks_again_later() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    assert t.due(T0 + DEADLINE) == [POD]

    t.postpone(POD, T0 + 100)

    assert t.due(T0 + 99) == []
    assert t.due(T0 + 100) == [POD]
    assert t.condition(POD) is OK  # postponing declares nothing


def test_postpone_earlier_than_the_deadline() -> None:
    t = tracker()
    t.beat(POD, OK, "", 300.0, T0)

    t.postpone(POD, T0 + 10)

    assert t.due(T0 + 10) == [POD]


def test_postpone_and_unconfirm_of_an_unknown_pod_are_ignored() -> None:
    t = tracker()

    t.postpone(POD, T0)
    t.unconfirm(POD)
    t.forget(POD)

    assert POD not in t
    assert t.due(T0 + 10_000) == []


def test_forgotten_pod_is_never_due() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "x", DEADLINE, T0)

    t.forget(POD)

    assert POD not in t
    assert t.condition(POD) is None
    assert t.due(T0 + 10_000) == []
    assert t.missed_total == 0


def test_forgotten_pod_that_beats_again_starts_fresh() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "x", DEADLINE, T0)
    t.forget(POD)

    changes = t.beat(POD, DEGRADED, "x", DEADLINE, T0 + 5)

    assert summary(changes) == [("HeartbeatDegraded", "firing", T0 + 5)]
    assert t.due(T0 + 5 + DEADLINE) == [POD]


def test_unconfirm_re_announces_at_the_next_beat() -> None:
    t = tracker()
    t.beat(POD, DEGRADED, "x", DEADLINE, T0)

    t.unconfirm(POD)  # the firing change was not applied

    again = t.beat(POD, DEGRADED, "x", DEADLINE, T0 + 1)
    assert again == [change("HeartbeatDegraded", FIRING, T0, "x")]
    assert t.beat(POD, DEGRADED, "x", DEADLINE, T0 + 2) == []  # confirmed again: quiet
    assert summary(t.beat(POD, DEGRADED, "x", DEADLINE, T0 + 1 + REFRESH)) == [
        ("HeartbeatDegraded", "firing", T0)
    ]


def test_unconfirm_of_an_ok_pod_announces_nothing() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)

    t.unconfirm(POD)

    assert t.beat(POD, OK, "", DEADLINE, T0 + 1) == []


# -- many pods ----------------------------------------------------------------------------------


def pods(count: int) -> list[PodKey]:
    return [PodKey("shop", f"checkout-{i:04d}") for i in range(count)]


def test_many_pods_only_the_silent_are_due_and_the_heap_stays_bounded() -> None:
    t = tracker()
    everyone = pods(1000)
    silent = set(everyone[::97])  # 11 pods stop beating after the first round
    for key in everyone:
        t.beat(key, OK, "", DEADLINE, T0)

    found: list[PodKey] = []
    announced: list[PodKey] = []
    for second in range(1, 301):
        now = T0 + second
        if second % 5 == 0:
            for key in everyone:
                if key not in silent:
                    t.beat(key, OK, "", DEADLINE, now)
        due = t.due(now)
        found.extend(due)
        for key in due:
            announced.extend(c.key for c in t.miss(key, now))
        # White box: `_heap` is the tracker's only per-beat memory. Beats that only push a
        # deadline later must not add items, or a fleet that beats every 5s would grow it
        # without bound; one queued item per pod is the promise of the module docstring.
        assert len(t._heap) <= len(t)

    # each silent pod: due every 15 s from T0 + 15 to T0 + 300; missed at T0 + 15, then
    # re-announced at 75, 135, 195, 255
    assert sorted(found) == sorted(key for key in silent for _ in range(20))
    assert sorted(announced) == sorted(key for key in silent for _ in range(5))
    assert t.missed_total == len(silent)
    assert len(t) == 1000


def test_a_pod_is_due_once_even_after_its_deadline_moved_earlier() -> None:
    """Regression: a later queued item left behind by an earlier one made a pod due twice.

    A missed pod is queued at miss + refresh; a beat with a shorter deadline queues it again
    earlier. When both items fell due in one call, due() listed the pod twice and the
    caller announced HeartbeatMissed twice.
    """
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    assert t.due(T0 + 16) == [POD]
    t.miss(POD, T0 + 16)  # re-check queued at T0 + 76
    for second in range(20, 120, 10):  # beating again, past the stale re-check at T0 + 76
        t.beat(POD, OK, "", DEADLINE, T0 + second)
        assert t.due(T0 + second + 1) == []

    assert t.due(T0 + 125) == [POD]  # last beat at T0 + 110
    assert t.miss(POD, T0 + 125)[0].starts_at == T0 + 125
    assert t.due(T0 + 10_000) == [POD]
    # White box: only the live item and none left behind once their time passed.
    assert len(t._heap) <= 1


@pytest.mark.parametrize(
    "earlier",
    [1.0, 30.0, 59.0],
    ids=["just after", "half way", "just before the queued time"],
)
def test_postpone_earlier_then_miss_is_due_once(earlier: float) -> None:
    t = tracker()
    t.beat(POD, OK, "", 100.0, T0)  # queued at T0 + 100
    t.postpone(POD, T0 + earlier)  # queued again, earlier
    assert t.due(T0 + earlier) == [POD]
    t.miss(POD, T0 + earlier)  # re-check at T0 + earlier + 60, which may be after T0 + 100

    seen = t.due(T0 + 10_000)

    assert seen == [POD]


def test_keys_len_contains_and_condition() -> None:
    t = tracker()
    a, b, c = pods(3)
    t.beat(a, OK, "", DEADLINE, T0)
    t.beat(b, FAILING, "x", DEADLINE, T0)
    t.watch(c, DEADLINE, T0)

    assert len(t) == 3
    assert t.keys() == {a, b, c}
    assert a in t
    assert "shop/checkout-0000" not in t
    assert [t.condition(k) for k in (a, b, c)] == [OK, FAILING, OK]


def test_missed_total_counts_each_silence_once() -> None:
    t = tracker()
    a, b = pods(2)
    for key in (a, b):
        t.beat(key, OK, "", DEADLINE, T0)
    for key in t.due(T0 + 20):
        t.miss(key, T0 + 20)
    t.beat(a, OK, "", DEADLINE, T0 + 30)  # a is back; b stays silent
    for key in t.due(T0 + 80):
        t.miss(key, T0 + 80)

    assert t.missed_total == 3  # a, b, and a again; b's re-announcement is not a new miss


# -- waking for the earliest deadline, taking due pods in slices ---------------------------------


def test_next_due_is_none_while_nothing_is_queued() -> None:
    t = tracker()
    assert t.next_due() is None
    t.beat(POD, OK, "", None, T0)  # no deadline: nothing to wake for
    assert t.next_due() is None


def test_next_due_is_the_earliest_deadline() -> None:
    t = tracker()
    a, b = pods(2)
    t.beat(a, OK, "", DEADLINE, T0 + 3)
    t.beat(b, OK, "", DEADLINE, T0 + 1)
    assert t.next_due() == T0 + 1 + DEADLINE
    assert t.due(T0 + 1 + DEADLINE) == [b]
    t.miss(b, T0 + 1 + DEADLINE)
    assert t.next_due() == T0 + 3 + DEADLINE


def test_next_due_may_be_early_but_the_early_look_finds_nothing_and_requeues() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    t.beat(POD, OK, "", DEADLINE, T0 + 5)  # moves the deadline, not the queued item
    assert t.next_due() == T0 + DEADLINE
    assert t.due(T0 + DEADLINE) == []
    assert t.next_due() == T0 + 5 + DEADLINE


def test_next_due_is_never_later_than_a_postponed_look() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    t.postpone(POD, T0 + 2)
    assert t.next_due() == T0 + 2


@pytest.mark.parametrize("limit", [1, 7, 100, 999, 1000, 5000], ids=lambda n: f"limit {n}")
def test_due_in_slices_finds_what_one_call_finds_with_bounded_work(limit: int) -> None:
    whole, sliced = tracker(), tracker()
    everyone = pods(1000)
    for i, key in enumerate(everyone):  # deadlines bunched within one second
        for t in (whole, sliced):
            t.beat(key, OK, "", DEADLINE, T0 + (i % 10) / 10)
    for key in everyone[::3]:  # a third beat again: their queued items are stale
        for t in (whole, sliced):
            t.beat(key, OK, "", DEADLINE, T0 + 5)
    now = T0 + DEADLINE + 1

    at_once = whole.due(now)
    in_slices: list[PodKey] = []
    calls = 0
    while (next_due := sliced.next_due()) is not None and next_due <= now:
        before = len(sliced._heap)
        in_slices.extend(sliced.due(now, limit=limit))
        # White box: at most `limit` items popped (each requeued at most once).
        assert before - len(sliced._heap) <= limit
        calls += 1

    assert sorted(in_slices) == sorted(at_once) == sorted(set(everyone) - set(everyone[::3]))
    assert calls == -(-1000 // limit)  # every queued item looked at once, `limit` per call


def test_due_with_limit_zero_looks_at_nothing() -> None:
    t = tracker()
    t.beat(POD, OK, "", DEADLINE, T0)
    assert t.due(T0 + 100, limit=0) == []
    assert t.due(T0 + 100) == [POD]
