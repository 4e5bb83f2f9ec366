"""`receiver serve`: its arguments, and the service they build (in memory or on Kubernetes).

Only this command and the adapter import the Kubernetes client; `receiver
check` and `receiver test` never load this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kubernetes.config import ConfigException
from prometheus_client import CollectorRegistry

from receiver.kube.adapter import Adapter, KubeOptions, connect
from receiver.metrics import Metrics
from receiver.report import logs
from receiver.runbook import Runbook, RunbookInvalid
from receiver.scenario.spec import load_fleet_file
from receiver.service import journal, limits
from receiver.service.auth import HEARTBEAT_TOKEN_ENV, TOKEN_ENV, TokenError, Tokens, load_tokens
from receiver.service.runtime import MAX_BODY, Options, Service, load_runbook
from receiver.service.serve import Listen, build, memory_cluster, serve

kube_defaults = KubeOptions()


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--runbook", type=Path, required=True, help="the runbook YAML file")
    serve.add_argument(
        "--listen", default="127.0.0.1:8080", help="HOST:PORT to listen on (default %(default)s)"
    )
    serve.add_argument(
        "--fleet",
        type=Path,
        help="seed the in-memory cluster with this fleet (a file with a `fleet:` list)",
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        help=f"bearer tokens for webhooks and admin calls, one per line (or ${TOKEN_ENV})",
    )
    serve.add_argument(
        "--heartbeat-token-file",
        type=Path,
        help=f"bearer tokens for heartbeats (or ${HEARTBEAT_TOKEN_ENV}; default: webhook tokens)",
    )
    serve.add_argument(
        "--insecure-no-auth", action="store_true", help="accept requests without a token"
    )
    serve.add_argument(
        "--max-body", type=int, default=MAX_BODY, help="request body limit in bytes (%(default)s)"
    )
    serve.add_argument("--tick-interval", type=float, default=1.0, help="seconds between ticks")
    serve.add_argument(
        "--watch-interval", type=float, default=5.0, help="seconds between runbook file checks"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--dry-run", action="store_true", help="decide and report, change nothing (any runbook)"
    )
    _journal_arguments(serve.add_argument_group("signal journal (for `receiver replay`)"))
    limits.add_arguments(serve)
    _kubernetes_arguments(serve.add_argument_group("Kubernetes (--cluster kubernetes)"))


def _journal_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="keep a journal of the signals received and the decisions made in this file "
        "(default: none)",
    )
    group.add_argument(
        "--journal-max-bytes",
        type=int,
        metavar="BYTES",
        default=journal.MAX_BYTES,
        help="rotate the journal file at this size (%(default)s)",
    )
    group.add_argument(
        "--journal-files",
        type=int,
        metavar="N",
        default=journal.FILES,
        help="journal files kept, the one being written included (%(default)s)",
    )


def journal_options(args: argparse.Namespace) -> journal.JournalOptions | None:
    if args.journal is None:
        return None
    return journal.JournalOptions(
        path=args.journal, max_bytes=args.journal_max_bytes, files=args.journal_files
    )


def _kubernetes_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--cluster",
        choices=["memory", "kubernetes"],
        help="where the pods are (default: kubernetes with --kubeconfig, else memory)",
    )
    group.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: the in-cluster service account)"
    )
    group.add_argument(
        "--namespace",
        help="the receiver's namespace, for its Lease and state ConfigMap "
        "(default: $POD_NAMESPACE, then the service account's)",
    )
    group.add_argument("--identity", help="this replica's name in the Lease (default: $POD_NAME)")
    group.add_argument("--lease-name", default=kube_defaults.lease_name, help="(%(default)s)")
    group.add_argument("--state-name", default=kube_defaults.state_name, help="(%(default)s)")
    group.add_argument(
        "--no-leader-election", action="store_true", help="act without a Lease (one replica only)"
    )
    group.add_argument(
        "--lease-duration",
        type=float,
        default=kube_defaults.lease_timing[0],
        help="seconds a standby waits for a silent leader before taking over (%(default)s)",
    )
    group.add_argument(
        "--heartbeat-audience",
        help="accept pod-bound service-account tokens for this audience (TokenReview)",
    )
    group.add_argument(
        "--evict-fallback-delete",
        action="store_true",
        help="delete a pod whose eviction a PodDisruptionBudget keeps refusing",
    )
    group.add_argument(
        "--evict-fallback-after",
        type=float,
        default=300.0,
        help="seconds of refused evictions before that delete (%(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    logs.setup(args.log_level)
    try:
        runbook = load_runbook(args.runbook, dry_run=args.dry_run)
        fleet = load_fleet_file(args.fleet) if args.fleet else ()
        tokens, heartbeat_tokens = _tokens(args)
        listen = _listen(args.listen)
        http_limits = limits.from_arguments(args, fd_limit=limits.raise_fd_limit())
        journal_kept = journal_options(args)
    except RunbookInvalid as exc:
        print(f"receiver serve: {len(exc.problems)} problem(s), not starting", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except (OSError, TokenError, ValueError) as exc:
        print(f"receiver serve: {exc}", file=sys.stderr)
        return 2
    options = Options(
        runbook_path=args.runbook,
        tokens=tokens,
        heartbeat_tokens=heartbeat_tokens,
        max_body=args.max_body,
        tick_interval=args.tick_interval,
        watch_interval=args.watch_interval,
        dry_run=args.dry_run,
        journal=journal_kept,
    )
    if (args.cluster or ("kubernetes" if args.kubeconfig else "memory")) == "kubernetes":
        try:
            service = _kubernetes(args, options, runbook)
        except ConfigException as exc:
            print(f"receiver serve: no Kubernetes configuration: {exc}", file=sys.stderr)
            return 2
    else:
        service = build(options, runbook, memory_cluster(runbook, fleet))
    serve(service, listen, log_level=args.log_level, limits=http_limits)
    return 0


def _kubernetes(args: argparse.Namespace, options: Options, runbook: Runbook) -> Service:
    metrics = Metrics(CollectorRegistry())
    return kubernetes_service(
        options,
        runbook,
        connect(
            KubeOptions(
                kubeconfig=args.kubeconfig,
                namespace=args.namespace,
                identity=args.identity,
                lease_name=args.lease_name,
                state_name=args.state_name,
                leader_election=not args.no_leader_election,
                lease_timing=lease_timing(args.lease_duration),
                heartbeat_audience=args.heartbeat_audience,
                evict_fallback_after=args.evict_fallback_after
                if args.evict_fallback_delete
                else None,
            ),
            runbook.settings.namespaces,
            metrics=metrics,
        ),
        metrics=metrics,
    )


def lease_timing(duration: float) -> tuple[float, float, float]:
    """client-go's proportions: renew deadline 2/3 of the lease, retry every 2/15 of it."""
    return duration, duration * 2 / 3, duration * 2 / 15


def kubernetes_service(
    options: Options, runbook: Runbook, adapter: Adapter, **build_options: Any
) -> Service:
    """The service on the Kubernetes adapter (pass it the metrics its API client counts in)."""
    return build(
        options,
        runbook,
        adapter.cluster,
        replica=adapter.replica,
        pod_tokens=adapter.pod_tokens,
        **build_options,
    )


def _tokens(args: argparse.Namespace) -> tuple[Tokens, Tokens]:
    tokens = load_tokens(file=args.token_file, env_name=TOKEN_ENV)
    beats = load_tokens(file=args.heartbeat_token_file, env_name=HEARTBEAT_TOKEN_ENV)
    if tokens is None and not args.insecure_no_auth:
        raise TokenError(
            f"no bearer token configured: pass --token-file or set ${TOKEN_ENV} "
            "(or --insecure-no-auth to accept anyone)"
        )
    open_door = Tokens(())
    tokens = tokens or open_door
    return tokens, beats or tokens


def _listen(text: str) -> Listen:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen: found {text!r}, expected HOST:PORT like 127.0.0.1:8080")
    return Listen(host.strip("[]"), int(port))
