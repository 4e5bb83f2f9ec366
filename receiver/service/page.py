"""The console's pages: the status rendered server-side with Jinja2 (autoescaped).

Every page has one live region; asked with `?fragment=live` a page answers
with that region only, which a few lines of script fetch every few seconds
(the scroll position stays). Without JavaScript the page refreshes itself.
Times show relative to the status's `now`, the absolute time on hover.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from receiver.report.query import KINDS, DecisionQuery, kind, line_kind

_ENV = Environment(
    loader=PackageLoader("receiver.service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def relative(text: str | None, now: str) -> str:
    """'12s ago', 'in 3m 5s': how far `text` is from `now` (both RFC 3339)."""
    if not text:
        return ""
    delta = _instant(text) - _instant(now)
    seconds = round(abs(delta))
    if seconds < 1:
        return "now"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes and len(parts) < 2:
        parts.append(f"{minutes}m")
    if secs and not hours:
        parts.append(f"{secs}s")
    span = " ".join(parts[:2])
    return f"in {span}" if delta > 0 else f"{span} ago"


def absolute(text: str | None) -> str:
    """The full time for a tooltip: date, seconds and milliseconds, UTC."""
    if not text:
        return ""
    at = datetime.fromtimestamp(_instant(text), UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d} UTC"


_ENV.filters["relative"] = relative
_ENV.filters["absolute"] = absolute
_ENV.globals["kind"] = kind
_ENV.globals["line_kind"] = line_kind
_ENV.globals["KINDS"] = KINDS


def render(
    template: str,
    *,
    status: dict[str, Any],
    decisions: list[dict[str, Any]],
    query: DecisionQuery,
    fragment: bool = False,
    **extra: Any,
) -> str:
    """A whole page, or (fragment) only its live region."""
    page = _ENV.get_template(template)
    values = {
        "s": status,
        "decisions": list(reversed(decisions)),  # newest first on a page
        "query": query,
        **extra,
    }
    if not fragment:
        return page.render(values)
    return "".join(page.blocks["live"](page.new_context(values)))
