"""The HTTP limits' flags: defaults that fit the descriptor limit, and exact refusals."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from service_builders import RUNBOOK

from receiver.service import limits
from receiver.service.limits import HttpLimits, LimitsInvalid


def parse(*argv: str, fd_limit: int = 65536) -> HttpLimits:
    parser = argparse.ArgumentParser()
    limits.add_arguments(parser)
    return limits.from_arguments(parser.parse_args(argv), fd_limit=fd_limit)


def test_defaults() -> None:
    assert parse() == HttpLimits()


def test_the_default_connection_limit_leaves_room_under_a_low_descriptor_limit() -> None:
    assert parse(fd_limit=256).max_connections == 256 - limits.RESERVED_FDS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ("--max-connections", "1000"),
            "--max-connections: found 1000, expected at most 384 (the descriptor limit 512 "
            "less 128 kept for the receiver); lower it or raise the container's nofile limit",
            id="connections-past-descriptors",
        ),
        pytest.param(
            ("--max-connections", "0"), "--max-connections: found 0, expected at least 1", id="c0"
        ),
        pytest.param(("--max-head", "10"), "--max-head: found 10, expected at least 256", id="h"),
        pytest.param(
            ("--head-timeout", "nan"), "--head-timeout: found nan, expected at least 0.1", id="nan"
        ),
        pytest.param(
            ("--body-timeout", "0"), "--body-timeout: found 0.0, expected at least 0.1", id="b0"
        ),
    ],
)
def test_limits_that_cannot_work_are_refused_naming_the_flag(
    argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(LimitsInvalid) as caught:
        parse(*argv, fd_limit=512)
    assert str(caught.value) == message


def test_serve_refuses_to_start_with_a_limit_that_cannot_work(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--runbook", str(path), "--insecure-no-auth",
         "--max-connections", "100000000"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "receiver serve: --max-connections: found 100000000, expected at most" in done.stderr


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        assert limits.raise_fd_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if hard != resource.RLIM_INFINITY:
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
