"""Every bound a runbook must stay within, in one place.

A runbook comes from a file an operator edits, a ConfigMap anyone with edit
rights on it can change, or a reload request. None of them may make `check`
or a reload run for long, use much memory, or produce a number the service
cannot represent later (a freeze of 99999999999d overflowed a timestamp
only when the first escalation applied it). docs/service.md lists these in
its "Runbook limits" table, and tests/test_runbook_limits.py keeps the two
in step.
"""

from __future__ import annotations

MAX_BYTES = 1 << 20
"""A runbook file's size: a ConfigMap holds at most 1 MiB."""

MAX_DEPTH = 64
"""Nesting of YAML collections: supervisors nest two levels a generation, so about 30 of them."""

MAX_NODES = 50_000
"""YAML nodes once aliases are expanded: bounds the loader's work, whatever aliases nest.

rules/shop.yaml has 230; 3,570 regex rules at this bound take 1.4 s of CPU and 35 MB to check
(bench/hostile_runbooks.py), so it also bounds what one reload costs.
"""

MAX_PROBLEMS = 100
"""Problems listed; the rest are counted in one last line."""

MAX_NUMBER_DIGITS = 18
"""Digits a number in a runbook may have: past any bound below, and cheap to convert."""

DAY = 86_400.0
MAX_DURATION = 365 * DAY
"""Any duration field: a year, so `now + duration` is a timestamp every clock can show."""

MAX_COUNT = 1_000_000
"""Counts and intensity/rate-limit maxima: far past any fleet or budget."""

MAX_MISS_AFTER = 1_000
"""heartbeats[].missAfter: with a year-long interval the deadline stays representable."""

MAX_TEMPLATE_SOURCE = 4096
"""Characters of one notifier message's template: a message, not a program.

Checking a template compiles it: 1 MB of template took 12-25 s and 550 MB,
4096 characters take at most 0.1 s.
"""

MAX_TEMPLATE_SOURCE_TOTAL = 32 * 1024
"""Characters of all notifier templates together, so checking them all stays under a second."""

MAX_TEMPLATE_OUTPUT = 16 * 1024
"""Characters a notifier message may render to (chat and Alertmanager cut long text anyway)."""

MAX_TEMPLATE_SECONDS = 1.0
"""Wall time a notifier message may take to render."""
