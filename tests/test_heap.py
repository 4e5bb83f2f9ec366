"""The collector is off while the expected pods are built, and the heap frozen after many."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from receiver.service.heap import FREEZE_AFTER, Heap


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()


def test_collection_is_off_while_building_and_on_again_after() -> None:
    heap = Heap()
    with heap.building(lambda: 0):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_heap_is_frozen_once_many_pods_were_added_and_not_before() -> None:
    heap = Heap()
    gc.unfreeze()
    with heap.building(lambda: FREEZE_AFTER - 1):
        pass
    assert gc.get_freeze_count() == 0
    with heap.building(lambda: FREEZE_AFTER):
        pass
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.unfreeze()
    with heap.building(lambda: FREEZE_AFTER + 10):  # only 10 more since the last freeze
        pass
    assert gc.get_freeze_count() == 0


def test_collection_stays_off_if_it_was_off() -> None:
    gc.disable()
    with Heap().building(lambda: 0):
        pass
    assert not gc.isenabled()
