"""The HTTP edge's bounds: their defaults, their `receiver serve` flags, and the fd budget.

A client on the network must not be able to hold memory, descriptors or the
event loop without bound before it has even authenticated. The bounds here
are enforced by `receiver.service.httptools_limited` (header sizes, read
deadlines, connection count); the body limit is the app's (`--max-body`).

Every accepted connection costs a file descriptor, and so does the runbook
file watcher each time it reads the file. The connection cap is kept below
the process's descriptor limit with room to spare, so that clients can
never exhaust descriptors the receiver itself needs (the watcher, the
Kubernetes client's connections, log output).
"""

from __future__ import annotations

import argparse
import resource
from dataclasses import dataclass

# Descriptors kept for the receiver's own use: the runbook watcher, the
# Kubernetes client's pool, stdio, the event loop's own pipes and epoll.
RESERVED_FDS = 128
DEFAULT_CONNECTIONS = 1024


class LimitsInvalid(ValueError):
    """A limit that cannot work; the message names the flag and the fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpLimits:
    max_request_line: int = 8 * 1024  # bytes of the target URL: 414 past it
    max_header: int = 8 * 1024  # bytes of one header, name and value: 431 past it
    max_head: int = 32 * 1024  # bytes of the request line and all headers: 431 past it
    head_timeout: float = 10.0  # seconds from the first byte of a request to its last header
    body_timeout: float = 30.0  # seconds from the last header to the last byte of the body
    max_connections: int = DEFAULT_CONNECTIONS  # open at once; the oldest idle one makes room


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `receiver serve` flags for these bounds."""
    defaults = HttpLimits()
    group = parser.add_argument_group("HTTP limits (docs/service.md, Limits)")
    group.add_argument(
        "--max-request-line",
        type=int,
        default=defaults.max_request_line,
        help="bytes of a request's target URL; more gets 414 (%(default)s)",
    )
    group.add_argument(
        "--max-header",
        type=int,
        default=defaults.max_header,
        help="bytes of one request header; more gets 431 (%(default)s)",
    )
    group.add_argument(
        "--max-head",
        type=int,
        default=defaults.max_head,
        help="bytes of the request line and headers together; more gets 431 (%(default)s)",
    )
    group.add_argument(
        "--head-timeout",
        type=float,
        default=defaults.head_timeout,
        help="seconds a client has to send a request's headers; then 408 (%(default)s)",
    )
    group.add_argument(
        "--body-timeout",
        type=float,
        default=defaults.body_timeout,
        help="seconds a client has to send a request's body; then 408 (%(default)s)",
    )
    group.add_argument(
        "--max-connections",
        type=int,
        help=f"open client connections at most (default {DEFAULT_CONNECTIONS}, "
        f"or the descriptor limit less {RESERVED_FDS} if that is lower)",
    )


def from_arguments(args: argparse.Namespace, *, fd_limit: int) -> HttpLimits:
    """The limits the flags ask for, checked; `fd_limit` is the process's RLIMIT_NOFILE."""
    room = fd_limit - RESERVED_FDS
    connections = args.max_connections
    if connections is None:
        connections = min(DEFAULT_CONNECTIONS, room)
    elif connections > room:
        raise LimitsInvalid(
            f"--max-connections: found {connections}, expected at most {room} "
            f"(the descriptor limit {fd_limit} less {RESERVED_FDS} kept for the receiver); "
            "lower it or raise the container's nofile limit"
        )
    limits = HttpLimits(
        max_request_line=args.max_request_line,
        max_header=args.max_header,
        max_head=args.max_head,
        head_timeout=args.head_timeout,
        body_timeout=args.body_timeout,
        max_connections=connections,
    )
    check(limits)
    return limits


def check(limits: HttpLimits) -> None:
    """LimitsInvalid naming the first flag whose value cannot work."""
    for flag, value, least in (
        ("--max-request-line", limits.max_request_line, 64),
        ("--max-header", limits.max_header, 64),
        ("--max-head", limits.max_head, 256),
        ("--head-timeout", limits.head_timeout, 0.1),
        ("--body-timeout", limits.body_timeout, 0.1),
        ("--max-connections", limits.max_connections, 1),
    ):
        if not value >= least:  # `not >=` so that NaN fails too
            raise LimitsInvalid(f"{flag}: found {value}, expected at least {least}")


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; the limit now in force.

    Container runtimes often start processes with a soft limit far below the
    hard one; nothing is gained by leaving the difference unused.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # refused (a sandbox): work within the soft limit
            pass
    return int(soft)
