"""Fixtures of the real-server tier: one etcd + kube-apiserver for the session, a clean slate
per test, and `backend`, which runs a contract test once against the fake and once against
the real server.

Without the binaries the tier skips with the reason, but only for a non-root user outside CI;
as root or with CI set, missing binaries fail the run (`make test` builds them first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from kube.driver import Driver
from kubeapi import fake_kube_api

from .backends import Backend, FakeBackend, RealBackend
from .processes import RealApiServer, Unavailable, find_binaries
from .rest import rest

NAMESPACES = ("shop", "remediation")
# What a test may leave behind in NAMESPACES, removed before the next one.
COLLECTIONS = (
    "/api/v1/namespaces/{ns}/pods",
    "/api/v1/namespaces/{ns}/configmaps",
    "/api/v1/namespaces/{ns}/events",
    "/api/v1/namespaces/{ns}/serviceaccounts",
    "/apis/apps/v1/namespaces/{ns}/deployments",
    "/apis/apps/v1/namespaces/{ns}/replicasets",
    "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
    "/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "realserver: runs against a real kube-apiserver (tests/kubereal)"
    )


def require_binaries() -> None:
    try:
        find_binaries()
    except Unavailable as exc:
        if os.geteuid() == 0 or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the real-server tier must run here (root or CI): {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApiServer]:
    require_binaries()
    server = RealApiServer(tmp_path_factory.mktemp("kube"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def real(real_server: RealApiServer) -> Iterator[RealBackend]:
    """The session's real server, with NAMESPACES present and empty."""
    backend = RealBackend(real_server)
    try:
        for ns in NAMESPACES:
            backend.namespace(ns)
            for path in COLLECTIONS:
                rest(backend.admin, "DELETE", path.format(ns=ns), {"gracePeriodSeconds": 0})
        yield backend
    finally:
        backend.close()


@pytest.fixture(params=["fake", "real"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "fake":
        # The fake plays the version of the real server here (1.20: Eviction in v1beta1).
        with fake_kube_api(eviction_version="policy/v1beta1") as fake:
            yield FakeBackend(fake)
    else:
        yield request.getfixturevalue("real")


@pytest.fixture
def driver(backend: Backend) -> Iterator[Driver]:
    driver = Driver(backend)
    try:
        yield driver
    finally:
        driver.close()
