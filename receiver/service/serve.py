"""Build and run the service: runbook, cluster, tokens, uvicorn tuned for throughput.

uvicorn runs with uvloop and httptools and without its access log (which
costs about half the throughput); decisions are logged as structured JSON
instead. Shutdown on SIGTERM/SIGINT finishes requests in flight first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from prometheus_client import CollectorRegistry

from receiver.cluster import Cluster, MemoryCluster, PodTokenReview
from receiver.metrics import Metrics
from receiver.model import Instant, Workload
from receiver.runbook import Runbook
from receiver.scenario.spec import FleetSpec
from receiver.service.app import create_app
from receiver.service.replica import Replica
from receiver.service.runtime import Options, Service

GRACEFUL_SHUTDOWN = 10


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int


def memory_cluster(
    runbook: Runbook, fleet: tuple[FleetSpec, ...], clock: Callable[[], Instant] = time.time
) -> MemoryCluster:
    cluster = MemoryCluster(clock=clock, traffic_label=runbook.settings.traffic_label)
    for spec in fleet:
        keys = cluster.add_workload(
            Workload(spec.namespace, spec.kind, spec.name),
            replicas=spec.replicas,
            labels=spec.labels,
        )
        for key in keys[: spec.not_ready]:  # as the runbook-test format means notReady
            cluster.set_ready(key, False)
    return cluster


def build(
    options: Options,
    runbook: Runbook,
    cluster: Cluster,
    *,
    metrics: Metrics | None = None,
    clock: Callable[[], Instant] = time.time,
    replica: Replica | None = None,
    pod_tokens: PodTokenReview | None = None,
) -> Service:
    return Service(
        options,
        runbook=runbook,
        cluster=cluster,
        metrics=metrics or Metrics(CollectorRegistry()),
        clock=clock,
        replica=replica,
        pod_tokens=pod_tokens,
    )


def uvicorn_config(service: Service, listen: Listen, *, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        create_app(service),
        host=listen.host,
        port=listen.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,  # our JSON logging, set up by the CLI
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )


def serve(service: Service, listen: Listen, *, log_level: str = "info") -> None:
    uvicorn.Server(uvicorn_config(service, listen, log_level=log_level)).run()
