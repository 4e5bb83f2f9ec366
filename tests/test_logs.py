"""The structured log line: one JSON object, whatever a caller attached as `extra`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest

from receiver.model import Reason
from receiver.report.decisions import iso
from receiver.report.logs import JsonFormatter


def line(extra: dict[str, Any] | None = None, *, exc: bool = False) -> dict[str, Any]:
    record = logging.LogRecord("receiver.test", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            record.exc_info = sys.exc_info()
    for key, value in (extra or {}).items():
        setattr(record, key, value)
    text = JsonFormatter().format(record)
    assert "\n" not in text  # one line, a traceback included
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_a_line_has_time_level_logger_message_and_the_extras() -> None:
    out = line({"decision": {"id": 7, "blocked": [{"reason": Reason.DUPLICATE}]}})
    assert out["level"] == "warning"
    assert out["logger"] == "receiver.test"
    assert out["message"] == "a b"
    assert out["time"].endswith("Z")
    assert out["decision"] == {"id": 7, "blocked": [{"reason": "duplicate"}]}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (object, str(object)),  # what JSON has no type for: its str()
        ({1: "x"}, {"1": "x"}),  # keys that are not strings
        (2**70, 2**70),  # an integer orjson refuses: the stdlib writes it
    ],
)
def test_what_json_cannot_hold_directly_still_makes_a_line(value: object, written: object) -> None:
    assert line({"value": value})["value"] == written


def test_an_exception_goes_into_the_line() -> None:
    out = line(exc=True)
    assert "RuntimeError: boom" in out["exception"]


@pytest.mark.parametrize(
    "created",
    [0.0, 1.0005, 1_763_800_000.0, 1_763_800_000.9994, 1_763_800_000.9999996, 1_763_800_059.123],
)
def test_the_time_is_written_as_datetime_writes_it(created: float) -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("receiver.test", logging.INFO, __file__, 1, "m", (), None)
    record.created = created
    first = json.loads(formatter.format(record))["time"]
    again = json.loads(formatter.format(record))["time"]  # the second taken from memory
    assert first == again == iso(created)  # the decision log's format, the API's


def test_consecutive_seconds_each_get_their_own_text() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("receiver.test", logging.INFO, __file__, 1, "m", (), None)
    for created in (100.25, 100.75, 101.5, 99.0):
        record.created = created
        written = json.loads(formatter.format(record))["time"]
        assert written == iso(created)


def test_setup_writes_json_lines_at_the_level_and_nothing_the_line_does_not_show() -> None:
    # In a child process: setup() configures logging for the whole process.
    script = (
        "import logging; from receiver.report import logs; logs.setup('info');"
        "log = logging.getLogger('receiver.decisions');"
        "log.debug('hidden'); log.info('decision', extra={'decision': {'id': 1}})"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [json.loads(text) for text in done.stderr.splitlines()]
    assert len(lines) == 1
    assert set(lines[0]) == {"time", "level", "logger", "message", "decision"}
    assert lines[0]["decision"] == {"id": 1}
    assert lines[0]["level"] == "info"
