from collections.abc import Iterator

import pytest
from kubeapi import FakeKubeApi, fake_kube_api

from kube.driver import Driver


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    with fake_kube_api() as api:
        yield api


@pytest.fixture
def driver(fake: FakeKubeApi) -> Iterator[Driver]:
    driver = Driver(fake)
    try:
        yield driver
    finally:
        driver.close()
