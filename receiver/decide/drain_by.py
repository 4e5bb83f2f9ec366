"""Which way a pod leaves traffic: its deepest supervisor's `drainBy`, else the settings'."""

from __future__ import annotations

from receiver.decide.index import index
from receiver.model import Pod
from receiver.runbook import Runbook
from receiver.runbook.types import DrainBy


def drain_by(runbook: Runbook, pod: Pod) -> DrainBy:
    """The drainBy of the nearest supervisor over `pod` that sets one, else settings.drainBy."""
    for supervisor in index(runbook).chain(pod):  # the deepest first
        if supervisor.drain_by is not None:
            return supervisor.drain_by
    return runbook.settings.drain_by
