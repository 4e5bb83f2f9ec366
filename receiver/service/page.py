"""The status page: the status JSON rendered server-side with Jinja2 (autoescaped)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_ENV = Environment(
    loader=PackageLoader("receiver.service", "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_status(status: dict[str, Any]) -> str:
    # Newest first on the page; the API lists oldest first for paging.
    decisions = list(reversed(status["recentDecisions"]))
    return _ENV.get_template("status.html").render(s=status, decisions=decisions)
