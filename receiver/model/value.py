"""`value`: a frozen dataclass to the type checker, a plain slotted one at run time.

For the few values made per alert on the webhook path (Signal, Plan): a frozen
dataclass's `__init__` sets each field through `object.__setattr__`, which for
a signal's nine fields cost more instructions than the rest of its parse
(bench/NOTES.md, "Sixth round"). mypy --strict still refuses every assignment
to a field, as it does for any frozen dataclass; only the run-time guard is
gone. Hashing is unchanged: each of them holds a dict, so neither hashes anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as value
else:

    def value(**options: Any) -> Any:
        """dataclass(**options), with frozen=True for the type checker only."""
        return dataclass(**{**options, "frozen": False})


__all__ = ["value"]
