"""NOTES.txt tells the user the two things to do next, with their own names in it."""

from __future__ import annotations

import re
import textwrap

import yaml

from .cases import EVERYTHING, EXISTING
from .render import FULLNAME, NAMESPACE, render


def _webhook_snippet(notes: str) -> dict:
    start = notes.rindex("\n", 0, notes.index("receivers:")) + 1
    end = notes.index("\n\n", start)
    return yaml.safe_load(textwrap.dedent(notes[start:end]))


def test_notes_give_an_alertmanager_webhook_config() -> None:
    rendered = render()
    config = _webhook_snippet(rendered.notes)
    (receiver,) = config["receivers"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == f"http://{FULLNAME}.{NAMESPACE}.svc:8080/api/v1/alerts"
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 0
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert webhook["http_config"]["authorization"]["credentials_file"]
    assert config["route"]["routes"][0]["receiver"] == receiver["name"]


def test_notes_say_where_the_token_is() -> None:
    generated = render().notes
    assert (
        f"kubectl -n {NAMESPACE} get secret {FULLNAME}-token -o jsonpath='{{.data.token}}'"
        in generated
    )
    existing = render(EXISTING).notes
    assert "get secret alertmanager-webhook -o jsonpath='{.data.bearer}'" in existing


def test_notes_say_how_to_make_services_traffic_aware() -> None:
    notes = render().notes
    assert re.search(r'remediation/traffic: "on"', notes)
    # Pods first, then the selector: the other way round drops all traffic.
    assert notes.index("template:") < notes.index("selector:")


def test_notes_warn_about_dry_run_and_operator_namespace_matching() -> None:
    assert "DRY RUN" not in render().notes
    notes = render(EVERYTHING).notes
    assert "DRY RUN" in notes
    assert "alertmanagerConfigMatcherStrategy" in notes
