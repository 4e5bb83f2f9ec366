"""The `receiver` command: serve, demo, heartbeat; check, test and replay runbooks; test notifiers.

A subcommand's module is imported only when that subcommand runs, so
`receiver check` (which editors and pre-commit hooks call often) does not
pay for the web server and the Kubernetes client.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from receiver import __version__


class Command(NamedTuple):
    help: str
    module: str  # imported when the command is chosen
    add_arguments: str  # names in that module
    run: str


COMMANDS = {
    "check": Command(
        "validate runbooks; exit 1 with every error",
        "receiver.commands.runbooks",
        "add_check_arguments",
        "run_check",
    ),
    "test": Command(
        "run runbook unit tests on a simulated clock",
        "receiver.commands.runbooks",
        "add_test_arguments",
        "run_test",
    ),
    "replay": Command(
        "decide a signal journal again under another runbook; show where decisions differ",
        "receiver.commands.replay",
        "add_arguments",
        "run",
    ),
    "serve": Command(
        "run the receiver (HTTP API)", "receiver.commands.serve", "add_arguments", "run"
    ),
    "demo": Command(
        "run the receiver on the embedded in-memory cluster with a simulated, misbehaving fleet",
        "receiver.demo",
        "add_arguments",
        "run",
    ),
    "heartbeat": Command(
        "sidecar: check the app in this pod, push heartbeats",
        "receiver.agent.sidecar",
        "add_arguments",
        "run",
    ),
    "notify": Command(
        "send a test message through a runbook's notifier; exit 1 if it fails",
        "receiver.commands.notify",
        "add_arguments",
        "run",
    ),
    # Clients of a running receiver (explain: offline), all in receiver/client.py.
    **{
        name: Command(text, "receiver.client", f"add_{name}_arguments", "run")
        for name, text in (
            ("status", "a running receiver's status: what needs a human, fleets, pods"),
            ("decisions", "a running receiver's decision log, filtered, or followed"),
            ("resume", "put a paused or drained pod back into traffic"),
            ("reset", "thaw a supervisor's subtree with fresh budgets"),
            ("hold", "keep automation off a pod, workload or supervisor for a while"),
            ("unhold", "lift an operator hold before it expires"),
            ("explain", "offline: the rule, supervisors, guards and decision an alert meets"),
        )
    },
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"receiver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run: Callable[[argparse.Namespace], int] | None = None
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        if name == chosen:
            module = importlib.import_module(command.module)
            getattr(module, command.add_arguments)(sub)
            run = getattr(module, command.run)
    parsed = parser.parse_args(args)
    assert run is not None  # argparse exits on an unknown or missing command
    return run(parsed)


if __name__ == "__main__":
    sys.exit(main())
