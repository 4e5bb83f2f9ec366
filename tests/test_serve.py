"""`receiver serve` as a process: start-up checks, reloads by SIGHUP and file change, shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import free_port, wait_for
from service_builders import RUNBOOK

RECEIVER = [sys.executable, "-m", "receiver"]
TOKEN = "serve-test-token-0123456789"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RECEIVER, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_an_invalid_runbook_at_start_exits_1_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: remediation/v1\nkind: Runbook\nsettings: {dryRun: maybe}\nrules: 3\n",
        encoding="utf-8",
    )
    done = run("serve", "--runbook", str(bad), "--insecure-no-auth")
    assert done.returncode == 1
    assert "receiver serve: 3 problem(s), not starting" in done.stderr
    assert "settings.dryRun" in done.stderr
    assert "rules: found" in done.stderr


def test_serve_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    done = run("serve", "--runbook", str(path), env=env)
    assert done.returncode == 2
    assert "no bearer token configured: pass --token-file or set $RECEIVER_TOKEN" in done.stderr


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# rotated weekly\n{TOKEN}\n", encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            *RECEIVER, "serve", "--runbook", str(path), "--token-file", str(tokens),
            "--listen", f"127.0.0.1:{port}", "--watch-interval", "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the server", lambda: get(f"{base}/healthz") != "")
        yield process, base, path
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def reload_ok(base: str) -> str:
    for line in get(f"{base}/metrics").splitlines():
        if line.startswith("remediation_runbook_last_reload_successful "):
            return line.split()[1]
    return ""


def test_reload_by_sighup_and_file_change_then_graceful_shutdown(
    server: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, base, path = server
    assert reload_ok(base) == "1.0"
    # A broken runbook on disk: the file watcher notices, keeps the old one running.
    path.write_text(RUNBOOK + "rules: 3\n", encoding="utf-8")
    wait_for("the failed reload", lambda: reload_ok(base) == "0.0")
    status = json.loads(get(f"{base}/api/v1/status"))
    assert status["runbook"]["rules"] == ["error-outlier", "degraded", "silent"]
    # Fixed, but the watcher is told by SIGHUP too; either way it is back.
    path.write_text(RUNBOOK.replace("  - name: silent\n", "  - name: quiet\n"), encoding="utf-8")
    process.send_signal(signal.SIGHUP)
    wait_for("the successful reload", lambda: reload_ok(base) == "1.0")
    status = json.loads(get(f"{base}/api/v1/status"))
    assert status["runbook"]["rules"] == ["error-outlier", "degraded", "quiet"]
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as is conventional.
    assert process.returncode == -signal.SIGTERM
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert "Application shutdown complete." in [e["message"] for e in logged]
    reloads = [e for e in logged if e["message"].startswith("runbook reload")]
    assert reloads[0]["trigger"] == "file change"
    assert reloads[0]["problems"]
    assert TOKEN not in stderr
