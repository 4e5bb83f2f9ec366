"""`receiver notify --test NAME --runbook FILE`: send one test message through a notifier.

The message is rendered from the notifier's own templates with a test
context and sent exactly as the service sends (act/notify.py `deliver`), so
a wrong URL, a missing Secret file or a refused routing key shows here, with
the HTTP status or the error, rather than at the first escalation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from receiver.act.messages import NotificationError
from receiver.act.notify import context_for, deliver, http_post
from receiver.decide import Action, ActionKind, Plan
from receiver.runbook import RunbookInvalid, load_file

DETAIL = "a test notification (receiver notify --test): nothing happened"


def add_arguments(notify: argparse.ArgumentParser) -> None:
    notify.add_argument("--test", required=True, metavar="NAME", help="the notifier to test")
    notify.add_argument(
        "--runbook", required=True, type=Path, metavar="FILE", help="the runbook defining it"
    )


def run(args: argparse.Namespace) -> int:
    try:
        runbook = load_file(args.runbook)
    except (RunbookInvalid, OSError) as exc:
        print(f"receiver notify: {args.runbook}: {exc}", file=sys.stderr)
        return 2
    notifier = runbook.notifiers.get(args.test)
    if notifier is None:
        known = ", ".join(runbook.notifiers) or "none"
        print(f'receiver notify: no notifier "{args.test}" (defined: {known})', file=sys.stderr)
        return 2
    now = time.time()
    action = Action(kind=ActionKind.NOTIFY, notifier=notifier.name, detail=DETAIL)
    context = context_for(action, Plan(at=now), runbook.settings.external_url)
    try:
        status = deliver(notifier, context, now, http_post)
    except NotificationError as exc:
        print(f"notifier {notifier.name} ({notifier.kind}): failed: {exc}")
        return 1
    said = "written to the receiver's log" if status is None else f"sent, HTTP {status}"
    print(f"notifier {notifier.name} ({notifier.kind}): {said}")
    return 0
