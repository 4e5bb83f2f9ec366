"""cluster/pod_map.py: a cluster's pods tell their followers which keys were written."""

from __future__ import annotations

import pytest

from receiver.cluster.pod_map import PodMap
from receiver.model import Pod, PodKey


def pod(name: str) -> Pod:
    return Pod(namespace="shop", name=name, labels={"app": "checkout"})


def test_followers_hear_each_key_added_replaced_or_removed_until_they_empty_their_set() -> None:
    pods = PodMap()
    a, b = pod("a"), pod("b")
    pods[a.key] = a
    first = pods.follow()
    assert first == set()  # what was there before following is not news
    pods[b.key] = b
    pods[a.key] = a
    second = pods.follow()
    del pods[b.key]
    assert first == {a.key, b.key}
    assert second == {b.key}
    first.clear()
    pods[a.key] = a
    assert first == {a.key}
    assert second == {b.key, a.key}
    assert dict(pods) == {a.key: a}


@pytest.mark.parametrize("write", ["pop", "popitem", "setdefault", "update", "clear"])
def test_writes_that_would_go_unheard_are_refused(write: str) -> None:
    pods = PodMap()
    with pytest.raises(TypeError, match="followers hear"):
        getattr(pods, write)(PodKey("shop", "a"))


def test_a_copy_is_a_plain_dict_that_tells_no_one() -> None:
    pods = PodMap()
    heard = pods.follow()
    copy = pods.copy()
    copy[PodKey("shop", "a")] = pod("a")
    assert type(copy) is dict
    assert heard == set()
