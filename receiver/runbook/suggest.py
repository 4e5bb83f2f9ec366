"""'Did you mean' for names a runbook gets wrong: a misspelt field, notifier or supervisor.

The closest known name by difflib's similarity ratio, when one is close
enough to be a likely typo (`maxUnavaliable` -> `maxUnavailable`), appended
to the problem's "expected" text; nothing when no name is close.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.75


def did_you_mean(found: str, known: Iterable[str]) -> str:
    """' (did you mean "x"?)' for the closest of `known`, or ''."""
    close = closest(found, known)
    return f' (did you mean "{close}"?)' if close else ""


def closest(found: str, known: Iterable[str]) -> str | None:
    """The name of `known` that `found` is likely a typo of, or None."""
    names = list(known)
    close = difflib.get_close_matches(found, names, n=1, cutoff=CUTOFF)
    if not close:
        # A different case is a typo too (maxunavailable), whatever the ratio says.
        close = [n for n in names if n.lower() == found.lower()][:1]
    return close[0] if close else None
