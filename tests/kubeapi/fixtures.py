"""Pytest fixtures for the fake API server, and an assertion helper. Import the fixtures into
a conftest to use them (tests/ is on sys.path, so the package is `kubeapi`):

    from kubeapi.fixtures import core, kube_api, kube_client  # noqa: F401
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from .harness import FakeKubeApi, fake_kube_api


@pytest.fixture
def kube_api() -> Iterator[FakeKubeApi]:
    """A fresh fake API server for one test, stopped after it."""
    with fake_kube_api() as api:
        yield api


@pytest.fixture
def kube_client(kube_api: FakeKubeApi) -> client.ApiClient:
    """A `kubernetes.client.ApiClient` configured for `kube_api`."""
    return kube_api.api_client()


@pytest.fixture
def core(kube_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_client)


def status_body(caught: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
    """The `Status` body of an ApiException, checked to be one (kind, apiVersion, code)."""
    raw = caught.value.body
    assert raw is not None
    body: dict[str, Any] = json.loads(raw)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == caught.value.status
    return body
