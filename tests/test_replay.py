"""The signal journal (service/journal.py) and `receiver replay` (scenario/replay.py).

The demo's story is played headless here, on a clock the test moves, through
the service's pipeline with a journal: replayed under the demo's runbook it
comes out as decided, under changed runbooks it shows the differences.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from service_builders import BEAT_TOKEN, RUNBOOK, TOKEN, alert, auth, harness, webhook
from service_builders import Clock as ServiceClock
from starlette.testclient import TestClient

from receiver.act import ActionResult, Applied
from receiver.cli import main
from receiver.cluster import MemoryCluster
from receiver.decide import Action, ActionKind, Plan
from receiver.demo import RUNBOOK as DEMO_RUNBOOK
from receiver.demo.fleet import LENGTH, cast, report, seed
from receiver.ingest import Beat
from receiver.metrics import Metrics
from receiver.model import (
    HeartbeatStatus,
    Lifecycle,
    Outcome,
    Pod,
    PodKey,
    PodState,
    Snapshot,
    Watch,
    Workload,
    parse_pod_key,
)
from receiver.runbook import load_file
from receiver.scenario import journal
from receiver.scenario.gates import Gates
from receiver.scenario.journal import Verdict
from receiver.scenario.replay import Kind, Replay, Result, compare, replay
from receiver.service.app import create_app
from receiver.service.auth import Tokens
from receiver.service.journal import Journal, JournalOptions
from receiver.service.pipeline import Pipeline
from receiver.service.runtime import Options
from receiver.service.serve import build, memory_cluster

T0 = 1_767_225_600.0
TICK = 0.25


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class UnheardJournal(Journal):
    """A journal that does not take the cluster's word for what changed: it compares
    the whole fleet before every decision (the journal's own fallback)."""

    def hear(self, changed: set[PodKey]) -> None:
        pass


def story(
    runbook_path: Path,
    journal_path: Path,
    journal_class: type[Journal] = Journal,
    **journal_options: int,
) -> None:
    """The demo's story (receiver/demo/fleet.py) on a simulated clock, journalled."""
    runbook = load_file(runbook_path)
    clock = Clock()
    cluster = memory_cluster(runbook, (), clock=clock)
    seed(cluster)
    roles = cast(cluster)
    options = JournalOptions(path=journal_path, **journal_options)
    kept = journal_class(options, tick=TICK, traffic_label=runbook.settings.traffic_label)
    pipeline = Pipeline(
        runbook=runbook,
        cluster=cluster,
        metrics=Metrics(CollectorRegistry()),
        clock=clock,
        journal=kept,
    )

    async def play() -> None:
        for step in range(int(LENGTH / TICK)):
            clock.now = T0 + step * TICK
            if step % int(1 / TICK) == 0:  # every pod pushes once a second, one push each
                for key, pod in sorted(cluster.snapshot().pods.items()):
                    if pod.terminating or not pod.ready:
                        continue
                    said = report(roles.get(key, ""), pod.owner, step * TICK)
                    if said is not None:
                        beat = Beat(key, HeartbeatStatus(said[0]), said[1], 1.0)
                        await pipeline.heartbeats([beat], clock.now)
            await pipeline.tick()
            kept.written()  # as a live service's writer keeps up (the rotation reads its size)
        kept.close()

    asyncio.run(play())


def changed(tmp_path: Path, old: str, new: str) -> Path:
    text = DEMO_RUNBOOK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "changed.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def replayed(runbook: Path, *paths: Path) -> Result:
    return replay(load_file(runbook), journal.read(list(paths)))


@pytest.fixture(scope="module")
def demo_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("journal") / "journal.jsonl"
    story(DEMO_RUNBOOK, path)
    return path


# -- the demo's story ---------------------------------------------------------


def test_the_demo_replayed_under_its_own_runbook_comes_out_as_decided(demo_journal: Path) -> None:
    result = replayed(DEMO_RUNBOOK, demo_journal)
    assert result.differences == ()
    assert result.signals >= 15  # drains, flaps, a hang, the outage
    assert result.timed >= 3  # restores, a settle window that ended


def test_a_stricter_guard_shows_the_drains_it_would_have_held(
    demo_journal: Path, tmp_path: Path
) -> None:
    stricter = changed(
        tmp_path, "guards: {maxUnavailable: 1, cooldown: 2s}", "guards: {maxUnavailable: 0}"
    )
    result = replayed(stricter, demo_journal)
    held = [d for d in result.differences if d.subject == "HeartbeatDegraded firing shop/web-0"]
    assert len(held) == 3  # the flapper's three reports
    assert {d.kind for d in held} == {Kind.HELD}
    assert {d.replayed.blocked for d in held} == {("max_unavailable shop/web-0",)}
    assert not [d for d in result.differences if "checkout" in d.subject]


def test_a_shorter_drain_is_the_same_restore_taken_earlier(
    demo_journal: Path, tmp_path: Path
) -> None:
    shorter = changed(tmp_path, "- drain: {for: 8s}", "- drain: {for: 3s}")
    result = replayed(shorter, demo_journal)
    moved = [d for d in result.differences if d.kind is Kind.TIME]
    assert moved
    assert all(d.recorded == d.replayed for d in moved)
    assert all(d.recorded.actions[0].startswith("restore ") for d in moved)
    # 5 s earlier, give or take the tick it is taken at
    assert re.fullmatch(r"tick shop/checkout-0 \(-(4\.[5-9]|5\.0)s\)", moved[0].subject)


def test_restarts_the_recording_did_not_make_are_simulated(
    demo_journal: Path, tmp_path: Path
) -> None:
    """Without the systemic guard, the outage restarts pods: the replay replaces them itself."""
    reckless = changed(tmp_path, "maxUnhealthy: 30%", "maxUnhealthy: 100%")
    result = replayed(reckless, demo_journal)
    kinds = result.counts()
    assert kinds[Kind.ACTED] >= 1
    assert any(a.startswith("restart shop/checkout-") for d in result.differences
               for a in d.replayed.actions)  # fmt: skip


def test_the_receivers_own_restarts_are_followed_when_the_replay_makes_them_too(
    tmp_path: Path,
) -> None:
    """Recorded with restarts (evictions, replacements with new names): replayed under the
    same runbook, the replay takes the replacements from the journal, and nothing differs."""
    reckless = changed(tmp_path, "maxUnhealthy: 30%", "maxUnhealthy: 100%")
    path = tmp_path / "restarts.jsonl"
    story(reckless, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    causes = [p.get("cause") for line in lines for p in json.loads(line).get("set", ())]
    assert any(c and c.startswith("restart shop/checkout-") for c in causes)
    result = replayed(reckless, path)
    assert result.differences == ()
    # Under the demo's runbook those restarts are not made: their effects are not applied.
    strict = replayed(DEMO_RUNBOOK, path)
    assert strict.counts()[Kind.HELD] >= 1


# -- the journal: bounded, rotated, no secrets --------------------------------


def test_the_pods_the_cluster_says_it_wrote_make_the_same_lines_as_comparing_every_pod(
    tmp_path: Path,
) -> None:
    """Cluster.follow_pods lets the journal compare only what changed: the same journal,
    on a story with restarts (evicted pods gone, replacements added and turning Ready)."""
    reckless = changed(tmp_path, "maxUnhealthy: 30%", "maxUnhealthy: 100%")
    heard, compared = tmp_path / "heard.jsonl", tmp_path / "compared.jsonl"
    story(reckless, heard)
    story(reckless, compared, journal_class=UnheardJournal)

    def lines(path: Path) -> list[dict[str, object]]:
        out = []
        for line in path.read_text().splitlines():
            record = json.loads(line)
            for field in ("set", "gone"):
                if field in record:
                    record[field] = sorted(record[field], key=json.dumps)
            out.append(record)
        return out

    fleet_lines = [r for r in lines(heard) if r["type"] == "fleet"]
    assert any("set" in r for r in fleet_lines)
    assert any("gone" in r for r in fleet_lines)
    assert lines(heard) == lines(compared)


def test_the_journal_rotates_at_its_bound_and_keeps_its_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    story(DEMO_RUNBOOK, path, max_bytes=4096, files=3)
    files = sorted(tmp_path.glob("journal.jsonl*"))
    assert [f.name for f in files] == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2"]
    for file in files:
        start, *lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
        assert json.loads(start)["type"] == "start"  # each file replays alone
        # The bound counts the lines after the start line (the whole fleet), and is
        # passed by one decision's lines at most.
        assert len("".join(lines).encode()) < 4096 + 4096
    # The rotated files, given in any order, replay as one journal.
    assert replayed(DEMO_RUNBOOK, *reversed(files)).differences == ()


def test_a_fleet_larger_than_the_bound_gets_a_file_of_lines_not_a_file_per_decision(
    tmp_path: Path,
) -> None:
    runbook = load_file(DEMO_RUNBOOK)
    cluster = memory_cluster(runbook, ())
    cluster.add_workload(Workload("shop", "Deployment", "big"), replicas=200, labels={"app": "x"})
    path = tmp_path / "journal.jsonl"
    kept = Journal(JournalOptions(path=path, max_bytes=4096, files=3), tick=TICK, traffic_label="t")
    for i in range(5):
        kept.fleet(cluster.snapshot(), T0 + i)
        kept.batch(T0 + i, [], [])
        kept.written()  # as a live service, whose thread keeps up
    kept.close()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["journal.jsonl"]
    start, *lines = path.read_text(encoding="utf-8").splitlines()
    assert len(start) > 4096
    assert len(json.loads(start)["pods"]) == 200
    assert [json.loads(line)["type"] for line in lines] == ["batch"] * 5


def test_each_rotated_file_replays_alone_restarts_under_way_included(tmp_path: Path) -> None:
    reckless = changed(tmp_path, "maxUnhealthy: 30%", "maxUnhealthy: 100%")
    path = tmp_path / "journal.jsonl"
    story(reckless, path, max_bytes=4096, files=10)
    files = sorted(tmp_path.glob("journal.jsonl*"))
    assert len(files) >= 3
    for file in files:
        assert replayed(reckless, file).differences == (), file.name


def test_a_journal_left_by_an_earlier_run_is_kept_one_file_older(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text("earlier\n", encoding="utf-8")
    story(DEMO_RUNBOOK, path, files=2)
    assert (tmp_path / "journal.jsonl.1").read_text(encoding="utf-8") == "earlier\n"
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["type"] == "start"


def test_the_journal_keeps_no_token_no_annotation_and_not_the_traffic_label(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, journal=JournalOptions(path=path))
    with h.client() as client:
        answer = client.post(
            "/api/v1/alerts", json=webhook(alert("checkout-0", secret="no")), headers=auth()
        )
        assert answer.status_code == 200
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text
    assert "error ratio 5x the fleet" not in text  # the alert's annotation
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["type"] for line in lines] == ["start", "batch"]
    assert all("remediation/traffic" not in p["labels"] for p in lines[0]["pods"])
    assert lines[1]["decisions"] == [
        {"actions": ["drain shop/checkout-0"], "blocked": [], "escalations": []}
    ]


def test_a_reload_that_changes_the_traffic_label_starts_the_journal_again(
    tmp_path: Path,
) -> None:
    """The lines leave the traffic label out of a pod's labels: after a reload that renames
    it, the old one is a label like any other, from a new start line on."""
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, journal=JournalOptions(path=path))
    with h.client() as client:
        assert client.post("/api/v1/alerts", json=webhook(alert("checkout-0")), headers=auth())
        h.runbook_path.write_text(
            RUNBOOK.replace(
                "  namespaces: [shop]\n", "  namespaces: [shop]\n  trafficLabel: ops/traffic\n"
            ),
            encoding="utf-8",
        )
        assert client.post("/-/reload", headers=auth()).status_code == 200
        assert client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
    before = [
        json.loads(line) for line in (tmp_path / "journal.jsonl.1").read_text("utf-8").splitlines()
    ]
    after = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert (
        [line["type"] for line in before] == [line["type"] for line in after] == ["start", "batch"]
    )
    assert not any("remediation/traffic" in p["labels"] for p in before[0]["pods"])
    assert all("remediation/traffic" in p["labels"] for p in after[0]["pods"])
    assert after[1]["signals"][0]["labels"]["pod"] == "checkout-1"


# -- reading and comparing ----------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "replayed_", "kind"),
    [
        (Verdict(("drain p",)), Verdict(("drain p",)), None),
        (Verdict((), ("cooldown p",)), Verdict(("drain p",)), Kind.ACTED),
        (Verdict(), Verdict(("drain p",)), Kind.ACTED),
        (Verdict(("drain p",)), Verdict((), ("max_unavailable p",)), Kind.HELD),
        (Verdict(("drain p",)), Verdict(("restart p",)), Kind.ACTION),
        (Verdict((), ("cooldown p",)), Verdict((), ("systemic p",)), Kind.REASON),
        (Verdict((), ("systemic p",), ("shop systemic",)), Verdict((), ("systemic p",)),
         Kind.ESCALATION),
    ],
    ids=["same", "acted-where-held", "acted-where-nothing", "held-where-acted", "action",
         "reason", "escalation"],
)  # fmt: skip
def test_a_decision_differs_by_kind(recorded: Verdict, replayed_: Verdict, kind: Kind) -> None:
    assert compare(recorded, replayed_) == kind


def test_a_damaged_line_names_its_file_and_line(demo_journal: Path, tmp_path: Path) -> None:
    lines = demo_journal.read_text(encoding="utf-8").splitlines()
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join([*lines[:3], '{"type": "batch", "at": 1', *lines[3:]]) + "\n")
    with pytest.raises(journal.JournalInvalid) as caught:
        journal.read([damaged])
    assert str(caught.value).startswith(f"{damaged}:4: not a journal record (JSONDecodeError")
    assert "a damaged line can be deleted" in str(caught.value)


def test_a_line_naming_a_pod_without_its_namespace_is_damaged(
    demo_journal: Path, tmp_path: Path
) -> None:
    lines = demo_journal.read_text(encoding="utf-8").splitlines()
    human = '{"type": "human", "at": 1, "resume": "checkout-0", "decision": {}}'
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join([*lines[:3], human, *lines[3:]]) + "\n")
    with pytest.raises(journal.JournalInvalid) as caught:
        journal.read([damaged])
    assert "pod 'checkout-0', expected namespace/name" in str(caught.value)
    assert parse_pod_key(str(PodKey("shop", "a/b"))) == PodKey("shop", "a/b")


def test_a_last_line_cut_short_by_a_crash_is_the_end(demo_journal: Path, tmp_path: Path) -> None:
    text = demo_journal.read_text(encoding="utf-8")
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 20])
    assert len(journal.read([cut])) == len(text.splitlines()) - 1


def test_a_file_that_does_not_begin_with_a_start_line_is_refused(
    demo_journal: Path, tmp_path: Path
) -> None:
    headless = tmp_path / "headless.jsonl"
    headless.write_text("\n".join(demo_journal.read_text().splitlines()[1:]) + "\n")
    with pytest.raises(journal.JournalInvalid, match=r"headless.jsonl:1: the first line is a "):
        journal.read([headless])


# -- the command --------------------------------------------------------------


def test_the_command_exits_0_1_2_and_writes_junit(
    demo_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = main(["replay", "--runbook", str(DEMO_RUNBOOK), str(demo_journal)])
    out = capsys.readouterr().out.splitlines()
    assert same == 0
    assert out[-1].startswith("summary: ")
    assert out[-1].endswith(", no difference")

    stricter = changed(
        tmp_path, "guards: {maxUnavailable: 1, cooldown: 2s}", "guards: {maxUnavailable: 0}"
    )
    junit = tmp_path / "replay.xml"
    differ = main(["replay", "--runbook", str(stricter), str(demo_journal), "--junit", str(junit)])
    out = capsys.readouterr().out.splitlines()
    assert differ == 1
    assert "HeartbeatDegraded firing shop/web-0: held where it acted" in out[1]
    assert out[2] == "    recorded: drain shop/web-0"
    assert out[3] == "    replayed: held max_unavailable shop/web-0"
    assert " differ: " in out[-1]
    assert "held where it acted" in out[-1]
    xml = junit.read_text(encoding="utf-8")
    assert '<failure message="held where it acted">' in xml

    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert main(["replay", "--runbook", str(DEMO_RUNBOOK), str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"receiver replay: {bad}:1: not a journal record")


def test_a_journal_recorded_by_receiver_demo_replays_without_difference(tmp_path: Path) -> None:
    """The real demo (HTTP heartbeats, wall clock) for its first acts, then replay."""
    path = tmp_path / "demo.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "demo", "--listen", "127.0.0.1:0",
         "--duration", "18", "--journal", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"  journal: {path}" in done.stdout.splitlines()
    result = replayed(DEMO_RUNBOOK, path)
    assert result.differences == ()
    assert result.signals >= 4  # the bad pod degraded and well again, the flapper too
    stricter = changed(
        tmp_path, "guards: {maxUnavailable: 1, cooldown: 2s}", "guards: {maxUnavailable: 0}"
    )
    assert replayed(stricter, path).counts()[Kind.HELD] >= 1


def test_a_humans_resume_is_journalled_and_done_again(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, journal=JournalOptions(path=path))
    with h.client() as client:
        drained = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert drained.status_code == 200
        h.clock.now += 5
        resumed = client.post("/api/v1/pods/shop/checkout-1/resume", headers=auth())
        assert resumed.status_code == 200
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    human = [line for line in lines if line["type"] == "human"]
    assert [(line["resume"], line["decision"]["actions"]) for line in human] == [
        ("shop/checkout-1", ["restore shop/checkout-1"])
    ]
    result = replayed(h.runbook_path, path)
    assert (result.signals, result.timed, result.differences) == (1, 1, ())


def test_a_replica_that_leads_again_begins_a_new_file_with_the_state_it_finds(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, journal=JournalOptions(path=path))
    pipeline = h.service.pipeline
    with h.client() as client:
        pipeline.take_over(h.clock())  # leads for the first time: the journal goes on
        assert client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        h.clock.now += 5
        # Led by another replica meanwhile, whose changes to the state are in no line here.
        pipeline.take_over(h.clock())
        h.clock.now += 1
        assert client.post("/api/v1/alerts", json=webhook(alert("checkout-3")), headers=auth())
    pipeline.journal.close()  # type: ignore[union-attr]
    assert sorted(f.name for f in tmp_path.glob("journal.jsonl*")) == [
        "journal.jsonl",
        "journal.jsonl.1",
    ]
    first, newest = (
        [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        for file in (tmp_path / "journal.jsonl.1", path)
    )
    assert [line["type"] for line in first] == ["start", "batch"]
    assert [line["type"] for line in newest] == ["start", "batch"]
    assert newest[0]["at"] == h.clock.now  # the state as found at the first decision after


def test_a_tick_that_only_decides_outcomes_has_a_line() -> None:
    watch = Watch(rule="r", action="drain", pod="shop/a", at=T0, until=T0 + 60)
    assert journal.decided(Plan(at=T0, watches={PodKey("shop", "a"): (watch,)}))
    assert not journal.decided(Plan(at=T0))


def test_a_batch_cut_short_by_a_cluster_failure_is_replayed_as_far_as_it_was_decided(
    tmp_path: Path,
) -> None:
    """The rest came back with the re-delivery: decided twice, it would be `duplicate`."""
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, journal=JournalOptions(path=path))
    with h.client() as client:
        h.cluster.outage = True
        failed = client.post(
            "/api/v1/alerts", json=webhook(alert("checkout-1"), alert("checkout-2")), headers=auth()
        )
        assert failed.status_code == 503
        h.cluster.outage = False
        h.clock.now += 10
        again = client.post(
            "/api/v1/alerts", json=webhook(alert("checkout-1"), alert("checkout-2")), headers=auth()
        )
        assert again.status_code == 200
    batches = [b for b in map(json.loads, path.read_text().splitlines()) if b["type"] == "batch"]
    assert [(len(b["signals"]), len(b["decisions"])) for b in batches] == [(2, 0), (2, 2)]
    result = replayed(h.runbook_path, path)
    assert (result.signals, result.differences) == (2, ())


def test_serve_refuses_a_journal_bound_too_small_to_hold_a_line(tmp_path: Path) -> None:
    """In a process of its own: `serve` sets up logging for the whole process."""
    runbook = Path(__file__).parent.parent / "rules" / "shop.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--runbook", str(runbook),
         "--insecure-no-auth", "--journal", str(tmp_path / "j.jsonl"),
         "--journal-max-bytes", "100"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "receiver serve: --journal-max-bytes: found 100, expected 4096 or more\n"
    assert not (tmp_path / "j.jsonl").exists()


def human_lines(path: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line["type"] == "human"]


def test_a_hold_and_its_lifting_are_journalled_with_who_asked_and_done_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, journal=JournalOptions(path=path))
    with h.client() as client:
        asked = {"pod": "shop/checkout-1", "for": "1h", "reason": "heap dump"}
        held = client.post("/api/v1/holds", json=asked, headers=auth())
        assert held.status_code == 200, held.text
        hold_id = held.json()["hold"]["id"]
        h.clock.now += 5
        blocked = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert blocked.json()["decisions"][0]["blocked"][0]["reason"] == "held"
        h.clock.now += 5
        assert client.delete(f"/api/v1/holds/{hold_id}", headers=auth()).status_code == 200
        h.clock.now += 5
        again = alert("checkout-1", starts="2026-01-01T00:00:15Z")
        acted = client.post("/api/v1/alerts", json=webhook(again), headers=auth())
        assert [a["action"] for a in acted.json()["decisions"][0]["actions"]] == ["drain"]
    humans = human_lines(path)
    assert [(sorted(set(line) - {"at", "decision"}), line["by"]) for line in humans] == [
        (["by", "hold", "type"], "token 1"),
        (["by", "type", "unhold"], "token 1"),
    ]
    assert humans[0]["hold"]["id"] == humans[1]["unhold"] == hold_id  # type: ignore[index]
    result = replayed(h.runbook_path, path)
    assert (result.signals, result.timed, result.differences) == (2, 2, ())
    # Without the hold's line the first alert is acted on: the hold is what replay re-applies.
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    unheld = tmp_path / "unheld.jsonl"
    unheld.write_text("".join(line for line in lines if '"hold":' not in line), encoding="utf-8")
    kinds = [d.kind for d in replayed(h.runbook_path, unheld).differences]
    assert Kind.ACTED in kinds, kinds


BAD_ROLLOUT_RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop]
  settle: 0s
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 20, period: 10m}
    guards: {maxUnavailable: 50%, badRollout: {remedy: [{pauseRollout: {}}]}}
rules:
  - name: error-outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}, {restart: {}}]
"""


def test_a_bad_rollout_replays_from_the_journaled_revisions(tmp_path: Path) -> None:
    """The pods' revisions and the workload's newest one are journalled as they change, so
    the badRollout guard decides in the replay as it did; without the guard it differs."""
    path = tmp_path / "journal.jsonl"
    h = harness(tmp_path, runbook=BAD_ROLLOUT_RUNBOOK, journal=JournalOptions(path=path))
    checkout = Workload("shop", "Deployment", "checkout")
    with h.client() as client:
        first = client.post("/api/v1/alerts", json=webhook(alert("checkout-3")), headers=auth())
        assert [a["action"] for a in first.json()["decisions"][0]["actions"]] == ["drain"]
        h.clock.now += 30
        well = webhook(alert("checkout-3", status="resolved"))
        assert client.post("/api/v1/alerts", json=well, headers=auth()).status_code == 200
        h.cluster.roll_out(
            checkout, "b", pods=[PodKey("shop", "checkout-0"), PodKey("shop", "checkout-1")]
        )
        h.clock.now += 5
        bad = webhook(alert("checkout-0"), alert("checkout-1"))
        decisions = client.post("/api/v1/alerts", json=bad, headers=auth()).json()["decisions"]
        assert decisions[0]["blocked"][0]["reason"] == "bad_rollout"
        assert h.cluster.paused_rollouts == {checkout}
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    fleet = [line for line in lines if line["type"] == "fleet"]
    assert [r["revision"] for line in fleet for r in line.get("rollouts", ())] == ["b"]
    revisions = {p["name"]: p.get("revision") for line in fleet for p in line.get("set", ())}
    assert (revisions["checkout-0"], revisions["checkout-1"]) == ("b", "b")
    result = replayed(h.runbook_path, path)
    assert (result.signals, result.differences) == (4, ())
    off = tmp_path / "off.yaml"
    off.write_text(
        BAD_ROLLOUT_RUNBOOK.replace("badRollout: {remedy:", "badRollout: {window: 0s, remedy:"),
        encoding="utf-8",
    )
    differences = replayed(off, path).differences
    assert differences
    assert {d.kind for d in differences} <= {Kind.ACTED, Kind.ACTION, Kind.REASON}
    assert any("bad_rollout" in str(d.recorded) for d in differences), differences


# -- readiness the receiver's own gate writes made ------------------------------

GATED_RUNBOOK = RUNBOOK.replace("  settle: 0s", "  settle: 0s\n  drainBy: readinessGate")
NOT_TICKETS = GATED_RUNBOOK.replace(
    "match: {alertname: PodErrorRatioOutlier}",
    "match: {alertname: PodErrorRatioOutlier, severity: page}",
).replace("maxUnavailable: 50%", "maxUnavailable: 1")
SEVERITIES = (("checkout-1", "ticket"), ("checkout-2", "page"))


def gated_story(tmp_path: Path) -> tuple[Path, Path]:
    """Four pods that declare the readiness gate: checkout-1 (a ticket) and checkout-2 (a
    page) drained by their gates, restored by a tick, then checkout-3 (a page) drained."""
    runbook_path = tmp_path / "gated.yaml"
    runbook_path.write_text(GATED_RUNBOOK, encoding="utf-8")
    runbook = load_file(runbook_path)
    clock = ServiceClock()
    cluster = MemoryCluster(clock=clock, traffic_label=runbook.settings.traffic_label)
    cluster.add_workload(
        Workload("shop", "Deployment", "checkout"),
        replicas=4,
        labels={"app": "checkout"},
        max_unavailable=4,
        readiness_gate=True,
    )
    path = tmp_path / "journal.jsonl"
    options = Options(
        runbook_path=runbook_path,
        tokens=Tokens((TOKEN.encode(),)),
        heartbeat_tokens=Tokens((BEAT_TOKEN.encode(),)),
        handle_sighup=False,
        journal=JournalOptions(path=path),
    )
    service = build(options, runbook, cluster, metrics=Metrics(CollectorRegistry()), clock=clock)
    with TestClient(create_app(service)) as client:
        for pod, severity in SEVERITIES:
            sent = client.post(
                "/api/v1/alerts", json=webhook(alert(pod, severity=severity)), headers=auth()
            )
            assert sent.json()["decisions"][0]["actions"][0]["action"] == "drain"
            assert not cluster.snapshot().pods[PodKey("shop", pod)].ready  # by its gate
            clock.now += 5
        for _ in range(120):  # the service ticks (a second apart here): the drains end
            clock.now += 1
            asyncio.run(service.pipeline.transitions())
        assert cluster.snapshot().pods[PodKey("shop", "checkout-1")].ready
        clock.now += 5
        well = [alert(p, status="resolved", severity=s) for p, s in SEVERITIES]
        assert client.post("/api/v1/alerts", json=webhook(*well), headers=auth()).is_success
        clock.now += 5
        third = webhook(alert("checkout-3", severity="page", starts="2026-01-01T00:02:15Z"))
        sent = client.post("/api/v1/alerts", json=third, headers=auth())
        assert sent.json()["decisions"][0]["actions"][0]["action"] == "drain"
    return runbook_path, path


@pytest.fixture(scope="module")
def gated_journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return gated_story(tmp_path_factory.mktemp("gated"))


def test_readiness_flips_that_follow_the_receivers_gate_writes_carry_their_cause(
    gated_journal: tuple[Path, Path],
) -> None:
    _, path = gated_journal
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert {p["gate"] for p in lines[0]["pods"]} == {True}  # the gate's state is kept
    flips = [
        (p["name"], p["ready"], p["gate"], p.get("cause"))
        for line in lines
        if line["type"] == "fleet"
        for p in line.get("set", ())
    ]
    assert flips == [
        ("checkout-1", False, False, "drain shop/checkout-1"),
        ("checkout-2", False, False, "drain shop/checkout-2"),
        ("checkout-1", True, True, "restore shop/checkout-1"),
        ("checkout-2", True, True, "restore shop/checkout-2"),
    ]


def test_a_journal_with_gate_drains_replays_without_difference_under_its_runbook(
    gated_journal: tuple[Path, Path],
) -> None:
    runbook_path, path = gated_journal
    result = replayed(runbook_path, path)
    assert (result.signals, result.differences) == (5, ()), result.differences
    assert result.timed >= 2  # the restores


def test_a_runbook_that_does_not_drain_a_pod_does_not_see_it_unready(
    gated_journal: tuple[Path, Path], tmp_path: Path
) -> None:
    """The recording's drain of checkout-1 made it not Ready by its gate; a replay that does
    not drain it keeps it Ready, so its guard (one pod out at most) still drains checkout-2."""
    _, path = gated_journal
    other = tmp_path / "not-tickets.yaml"
    other.write_text(NOT_TICKETS, encoding="utf-8")
    lines = journal.read([path])
    player = Replay(load_file(other), lines)
    player.run()
    result = player.result()
    subjects = {d.subject: d for d in result.differences}
    assert set(subjects) == {
        "PodErrorRatioOutlier firing shop/checkout-1",
        "tick shop/checkout-1",
    }, result.differences
    assert subjects["PodErrorRatioOutlier firing shop/checkout-1"].kind is Kind.HELD
    assert subjects["tick shop/checkout-1"].replayed == Verdict()  # nothing to restore
    pods = player.current.pods
    assert pods[PodKey("shop", "checkout-1")].ready
    assert not pods[PodKey("shop", "checkout-3")].ready  # the replay's own drain, by its gate


def test_a_gate_flip_the_kubelet_shows_late_is_tagged_when_it_shows(tmp_path: Path) -> None:
    """On Kubernetes the gate's condition changes first and Ready a moment later: the line
    that shows the flip carries the cause; a later change of the pod's own does not."""
    key = PodKey("shop", "cart-0")
    pod = Pod(namespace="shop", name="cart-0", uid="u1", started_at=T0, gate=True)
    path = tmp_path / "journal.jsonl"
    kept = Journal(JournalOptions(path=path), tick=TICK, traffic_label="t")

    def seen(at: float, **facts: bool) -> None:
        kept.fleet(Snapshot(pods={key: replace(pod, **facts)}), at)
        kept.batch(at, [], [])

    seen(T0)
    drain = Plan(at=T0, actions=(Action(kind=ActionKind.DRAIN, pod=key),))
    kept.tick(T0, drain, Applied([ActionResult(drain.actions[0], Outcome.APPLIED)]))
    seen(T0 + 1, gate=False)  # the gate written, the kubelet not yet there: no change
    seen(T0 + 2, gate=False, ready=False)  # the kubelet followed: ours
    seen(T0 + 3, gate=False, ready=False, terminating=True)  # the pod's own doing
    kept.close()
    fleet = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    changes = [
        (line["at"] - T0, p["ready"], p["gate"], p.get("cause"))
        for line in fleet
        if line["type"] == "fleet"
        for p in line["set"]
    ]
    assert changes == [(2, False, False, "drain shop/cart-0"), (3, False, False, None)]


CART = Pod(namespace="shop", name="cart-0", uid="u1", started_at=T0, gate=True)
NEW_CART = replace(CART, uid="u2", gate=False, ready=False)

# (the replay's pod, the recorded change, whether it followed the recording's gate write,
#  the replay's gate and readiness after it)
GATED_CHANGES = {
    "the recording's drain, not the replay's: still Ready": (
        CART, replace(CART, gate=False, ready=False), True, (True, True)),
    "the pod's own failing probe": (CART, replace(CART, ready=False), False, (True, False)),
    "any change while the recording's gate was shut says nothing of the pod": (
        CART, replace(CART, gate=False, ready=False, labels={"v": "2"}), False, (True, True)),
    "the replay's drain shut its gate: not Ready, whatever was recorded": (
        replace(CART, gate=False, ready=False, lifecycle=Lifecycle(state=PodState.DRAINED)),
        CART, True, (False, False)),
    "a new pod's shut gate is opened, as the leader does": (
        CART, NEW_CART, False, (True, False)),
}  # fmt: skip


@pytest.mark.parametrize(
    ("old", "recorded", "own", "after"), GATED_CHANGES.values(), ids=GATED_CHANGES.keys()
)
def test_a_gated_pods_readiness_in_the_replay_is_the_replays_own(
    old: Pod, recorded: Pod, own: bool, after: tuple[bool, bool]
) -> None:
    gates = Gates({CART.key: CART})
    # The recorded facts as replay takes them: the same pod keeps the replay's gate and lifecycle.
    same = replace(recorded, gate=old.gate, lifecycle=old.lifecycle)
    taken = recorded if recorded.uid != old.uid else same
    pod = gates.seen(old, recorded, taken, own=own)
    assert (pod.gate, pod.ready) == after


def test_a_restore_in_the_replay_makes_ready_only_a_pod_that_says_it_is() -> None:
    gates = Gates({CART.key: CART})
    failing = gates.seen(CART, replace(CART, ready=False), CART, own=False)
    drained = gates.written(failing, open_=False)
    assert (drained.gate, drained.ready) == (False, False)
    restored = gates.written(drained, open_=True)
    assert (restored.gate, restored.ready) == (True, False)  # its probe still fails
    well = gates.seen(restored, CART, restored, own=False)
    assert (well.gate, well.ready) == (True, True)
