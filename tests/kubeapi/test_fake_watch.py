# The client's models make every field Optional and kubernetes.watch is unannotated; a None
# where the server must answer a value fails the test anyway, so mypy is not asked to prove it.
# mypy: disable-error-code="union-attr, arg-type, index, misc, no-untyped-call"
"""Watches on the fake, through `kubernetes.watch.Watch().stream`, the way the adapter uses them."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client import ApiException

from .harness import FakeKubeApi, fake_kube_api
from .kinds import POD
from .watch import _next_bookmark_after

NS = "shop"
Event = dict[str, Any]


def take(events: Iterator[Event], count: int) -> list[tuple[str, str]]:
    """The first `count` events as (type, pod name)."""
    out = []
    for event in events:
        out.append((event["type"], event["raw_object"]["metadata"].get("name", "")))
        if len(out) == count:
            break
    return out


class Background:
    """A watch streaming in its own thread, its events queued for the test."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.watch = watch.Watch()
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(func, args, kwargs), daemon=True)
        self.thread.start()

    def _run(self, func: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            for event in self.watch.stream(func, *args, **kwargs):
                self.events.put(event)
        except BaseException as exc:
            self.error = exc
        finally:
            self.events.put(None)

    def next(self) -> Event | None:
        return self.events.get(timeout=5)

    def join(self) -> None:
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def test_watch_from_a_resource_version_sees_only_later_changes(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    cluster = kube_api.cluster
    cluster.add_pod(NS, "a")
    cluster.add_pod(NS, "b")
    rv = core.list_namespaced_pod(NS).metadata.resource_version
    cluster.set_ready(NS, "a", False)
    cluster.add_pod(NS, "c")
    cluster.delete(POD, NS, "b")  # graceful: MODIFIED with deletionTimestamp
    cluster.finish_termination(NS, "b")
    events = []
    for event in watch.Watch().stream(
        core.list_namespaced_pod, NS, resource_version=rv, timeout_seconds=5
    ):
        events.append(event)
        if len(events) == 4:
            break
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "c"),
        ("MODIFIED", "b"),
        ("DELETED", "b"),
    ]
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions)
    assert versions[0] > int(rv)
    assert events[2]["object"].metadata.deletion_timestamp is not None


def test_watch_without_resource_version_starts_with_current_objects(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    kube_api.cluster.add_pod(NS, "a")
    kube_api.cluster.add_pod("other", "z")
    stream = watch.Watch().stream(core.list_pod_for_all_namespaces, timeout_seconds=5)
    assert take(stream, 2) == [("ADDED", "z"), ("ADDED", "a")]


def test_watch_selector_reports_objects_entering_and_leaving_it(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    cluster = kube_api.cluster
    cluster.add_pod(NS, "a", labels={"remediation/traffic": "on"})
    cluster.add_pod(NS, "b", labels={"remediation/traffic": "off"})
    rv = core.list_namespaced_pod(NS).metadata.resource_version
    cluster.set_labels(NS, "b", {"unrelated": "x"})  # never matched: not seen
    cluster.set_labels(NS, "a", {"remediation/traffic": "off"})
    cluster.set_labels(NS, "b", {"remediation/traffic": "on"})
    cluster.set_ready(NS, "b", False)
    stream = watch.Watch().stream(
        core.list_namespaced_pod,
        NS,
        label_selector="remediation/traffic=on",
        resource_version=rv,
        timeout_seconds=5,
    )
    assert take(stream, 3) == [("DELETED", "a"), ("ADDED", "b"), ("MODIFIED", "b")]


@pytest.mark.parametrize("timeout", [None, 5], ids=["client-retries-once", "no-retry"])
def test_compacted_resource_version_is_410_in_the_stream(
    kube_api: FakeKubeApi, core: client.CoreV1Api, timeout: int | None
) -> None:
    kube_api.cluster.add_pod(NS, "a")
    rv = core.list_namespaced_pod(NS).metadata.resource_version
    kube_api.cluster.set_ready(NS, "a", False)
    kube_api.cluster.compact()
    kwargs = {"timeout_seconds": timeout} if timeout else {}
    with pytest.raises(ApiException) as caught:
        list(watch.Watch().stream(core.list_namespaced_pod, NS, resource_version=rv, **kwargs))
    assert caught.value.status == 410
    assert caught.value.reason == f"Expired: too old resource version: {rv} ({int(rv) + 1})"
    watches = [r for r in kube_api.requests.all() if r.verb == "watch"]
    # Watch.stream retries a 410 once from the same version unless timeout_seconds is set.
    assert [(w.status, w.query["resourceVersion"]) for w in watches] == [(200, rv)] * (
        1 if timeout else 2
    )


def test_history_window_is_bounded() -> None:
    with fake_kube_api(history_limit=2) as api:
        core = client.CoreV1Api(api.api_client())
        versions = [api.cluster.add_pod(NS, n)["metadata"]["resourceVersion"] for n in "abcd"]
        # Kept: the changes that made c and d; so b's version is the oldest to resume from.
        with pytest.raises(ApiException) as caught:
            list(
                watch.Watch().stream(
                    core.list_namespaced_pod, NS, resource_version=versions[0], timeout_seconds=1
                )
            )
        assert caught.value.status == 410
        stream = watch.Watch().stream(
            core.list_namespaced_pod, NS, resource_version=versions[1], timeout_seconds=1
        )
        assert take(stream, 2) == [("ADDED", "c"), ("ADDED", "d")]


def test_dropped_watch_ends_the_stream(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    kube_api.cluster.add_pod(NS, "a")
    bg = Background(core.list_namespaced_pod, NS, timeout_seconds=60)
    assert bg.next() is not None  # the synthetic ADDED
    kube_api.cluster.end_watches()
    assert bg.next() is None
    bg.join()
    assert bg.error is None


def test_cut_watch_is_a_protocol_error(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    kube_api.cluster.add_pod(NS, "a")
    bg = Background(core.list_namespaced_pod, NS, timeout_seconds=60)
    assert bg.next() is not None
    kube_api.cluster.end_watches(abrupt=True)
    assert bg.next() is None
    bg.join()
    assert isinstance(bg.error, urllib3.exceptions.ProtocolError)


def test_dropped_watch_without_timeout_resumes_from_the_last_version(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    seen = kube_api.cluster.add_pod(NS, "a")["metadata"]["resourceVersion"]
    bg = Background(core.list_namespaced_pod, NS)
    assert bg.next() is not None
    kube_api.cluster.end_watches()
    kube_api.wait_for_watches(1)  # Watch.stream came back by itself
    kube_api.cluster.add_pod(NS, "b")
    event = bg.next()
    assert event is not None
    assert (event["type"], event["object"].metadata.name) == ("ADDED", "b")
    bg.watch.stop()
    kube_api.cluster.set_ready(NS, "a", False)  # wakes the stream so it sees stop()
    bg.join()
    first, again = [r for r in kube_api.requests.all() if r.verb == "watch"][:2]
    assert "resourceVersion" not in first.query
    assert again.query["resourceVersion"] == seen


def test_client_going_away_closes_the_watch(kube_api: FakeKubeApi, core: client.CoreV1Api) -> None:
    w = watch.Watch()
    kube_api.cluster.add_pod(NS, "a")
    assert take(w.stream(core.list_namespaced_pod, NS, timeout_seconds=60), 1) == [("ADDED", "a")]
    deadline = time.monotonic() + 5
    while kube_api.cluster.open_watches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kube_api.cluster.open_watches == 0


@pytest.mark.parametrize("allowed", [True, False], ids=["bookmarks", "no-bookmarks"])
def test_bookmarks(kube_api: FakeKubeApi, core: client.CoreV1Api, allowed: bool) -> None:
    bg = Background(core.list_namespaced_pod, NS, allow_watch_bookmarks=allowed, timeout_seconds=60)
    kube_api.wait_for_watches(1)
    rv = kube_api.cluster.add_pod("other", "z")["metadata"]["resourceVersion"]
    kube_api.cluster.send_bookmarks()
    kube_api.cluster.end_watches()
    event = bg.next()
    if allowed:
        assert event is not None
        assert event["type"] == "BOOKMARK"
        assert event["raw_object"]["metadata"] == {"resourceVersion": rv}
        assert bg.watch.resource_version == rv
        event = bg.next()
    assert event is None
    bg.join()


def test_a_bookmark_comes_shortly_before_the_watch_times_out(
    kube_api: FakeKubeApi, core: client.CoreV1Api
) -> None:
    started = time.monotonic()
    bg = Background(core.list_namespaced_pod, NS, allow_watch_bookmarks=True, timeout_seconds=3)
    event = bg.next()
    assert event is not None
    assert event["type"] == "BOOKMARK"
    assert 0.5 <= time.monotonic() - started < 2.5  # about 2 s before the end, not at it
    assert bg.next() is None
    assert time.monotonic() - started >= 2.9
    bg.join()


@pytest.mark.parametrize(
    ("now", "deadline", "expected"),
    [
        (0.0, None, 60.0),  # no timeout: every minute
        (0.0, 300.0, 60.0),  # a long watch: every minute first
        (250.0, 300.0, 298.0),  # its end is nearer: shortly before it
        (298.0, 300.0, 358.0),  # that one sent: none again before it ends
    ],
    ids=["no-timeout", "periodic", "before-end", "after-the-last"],
)
def test_when_bookmarks_come(now: float, deadline: float | None, expected: float) -> None:
    assert _next_bookmark_after(now, deadline) == expected
