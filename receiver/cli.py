"""The `receiver` command: serve, demo, heartbeat, check and test runbooks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kubernetes.config import ConfigException

from receiver import demo
from receiver.agent import sidecar
from receiver.kube.setup import Adapter, KubeOptions, connect
from receiver.report import logs
from receiver.runbook import Runbook, RunbookInvalid, load_file
from receiver.scenario import is_test_file, report, run_file
from receiver.scenario.spec import load_fleet_file
from receiver.service import limits
from receiver.service.auth import HEARTBEAT_TOKEN_ENV, TOKEN_ENV, TokenError, Tokens, load_tokens
from receiver.service.runtime import MAX_BODY, Options, Service, load_runbook
from receiver.service.serve import Listen, build, memory_cluster, serve

YAML_SUFFIXES = (".yaml", ".yml")
kube_defaults = KubeOptions()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="receiver", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate runbooks; exit 1 with every error")
    check.add_argument("paths", nargs="+", type=Path, help="runbook files or folders")
    test = commands.add_parser("test", help="run runbook unit tests on a simulated clock")
    test.add_argument("paths", nargs="+", type=Path, help="test files or folders")
    test.add_argument("-v", "--verbose", action="store_true", help="print every test's timeline")
    _serve_arguments(commands.add_parser("serve", help="run the receiver (HTTP API)"))
    demo.add_arguments(commands.add_parser("demo", help=demo.__doc__.splitlines()[0]))
    sidecar.add_arguments(
        commands.add_parser("heartbeat", help="sidecar: check the app in this pod, push heartbeats")
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.paths)
    if args.command == "test":
        return _test(args.paths, verbose=args.verbose)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        return demo.run(args)
    return sidecar.run(args)


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
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
    limits.add_arguments(serve)
    _kubernetes_arguments(serve.add_argument_group("Kubernetes (--cluster kubernetes)"))


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


def _serve(args: argparse.Namespace) -> int:
    logs.setup(args.log_level)
    try:
        runbook = load_runbook(args.runbook, dry_run=args.dry_run)
        fleet = load_fleet_file(args.fleet) if args.fleet else ()
        tokens, heartbeat_tokens = _tokens(args)
        listen = _listen(args.listen)
        http_limits = limits.from_arguments(args, fd_limit=limits.raise_fd_limit())
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
        ),
    )


def lease_timing(duration: float) -> tuple[float, float, float]:
    """client-go's proportions: renew deadline 2/3 of the lease, retry every 2/15 of it."""
    return duration, duration * 2 / 3, duration * 2 / 15


def kubernetes_service(
    options: Options, runbook: Runbook, adapter: Adapter, **build_options: Any
) -> Service:
    """The service on the Kubernetes adapter, its API requests counted in its metrics."""
    service = build(
        options,
        runbook,
        adapter.cluster,
        replica=adapter.replica,
        pod_tokens=adapter.pod_tokens,
        **build_options,
    )
    requests = service.metrics.kubernetes_requests
    adapter.api.on_request = lambda verb, code: requests.labels(verb, code).inc()
    return service


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


def _check(paths: Sequence[Path]) -> int:
    files = list(_files(paths, tests=False))
    if not files:
        print("receiver check: no runbook files found in " + ", ".join(map(str, paths)))
        return 1
    failed = 0
    for path in files:
        try:
            runbook = load_file(path)
        except RunbookInvalid as exc:
            failed += 1
            print(f"FAILED {path}: {len(exc.problems)} problem(s)")
            for problem in exc.problems:
                print(f"  {problem}")
            continue
        except OSError as exc:
            failed += 1
            print(f"FAILED {path}: {exc}")
            continue
        print(
            f"SUCCESS {path}: {len(runbook.rules)} rules, {len(runbook.by_name)} supervisors, "
            f"{len(runbook.notifiers)} notifiers"
        )
    return 1 if failed else 0


def _test(paths: Sequence[Path], *, verbose: bool) -> int:
    files = list(_files(paths, tests=True))
    if not files:
        print("receiver test: no RunbookTest files found in " + ", ".join(map(str, paths)))
        return 1
    passed, failed, lines = report([run_file(p) for p in files], verbose=verbose)
    print("\n".join(lines))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


def _files(paths: Sequence[Path], *, tests: bool) -> Iterator[Path]:
    """Explicit files are taken as given; folders are searched for the wanted kind."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for candidate in sorted(path.rglob("*")):
            if candidate.suffix not in YAML_SUFFIXES or not candidate.is_file():
                continue
            if is_test_file(candidate.read_text(encoding="utf-8")) == tests:
                yield candidate


if __name__ == "__main__":
    sys.exit(main())
