"""A real Alertmanager for end-to-end tests: local, quiet, and always stopped.

Alertmanager is the peer that delivers webhooks to the receiver, so end-to-end tests run the
real binary (Debian's ``prometheus-alertmanager``) rather than imitating its payloads, grouping
and retries. The process listens on a free loopback port, gossip is off (an empty
``--cluster.listen-address``, so no peer settling delays the first notification), its state
lives in a temporary directory, and its log goes to a file that every error quotes.

Usage::

    config = AlertmanagerConfig(receiver_url="http://127.0.0.1:8080/api/v1/alerts", token="t")
    with Alertmanager(config, workdir=tmp_path) as am:
        am.post_alerts([make_alert("PodErrorRatioOutlier", pod="checkout-1")])
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from polling import free_port
from prometheus_client.parser import text_string_to_metric_families

ENV_BINARY = "ALERTMANAGER_BIN"
BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
INSTALL_HINT = (
    "install it with `apt-get install prometheus-alertmanager` (CI's `make test` installs it), "
    f"or set {ENV_BINARY} to the path of an alertmanager binary"
)
DEFAULT_GROUP_BY = ("alertname", "namespace", "pod")
RECEIVER_NAME = "remediation"
STOP_TIMEOUT_S = 5.0
_LOG_TAIL_CHARS = 4000
_PORT_ATTEMPTS = 3
# The receiver must be reached directly, never through a proxy from the environment.
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AlertmanagerError(RuntimeError):
    """Alertmanager is missing, did not start, or refused a request."""


def find_binary(env: Mapping[str, str] | None = None) -> str:
    """The Alertmanager executable: ``$ALERTMANAGER_BIN`` if set, else the first on PATH."""
    env = os.environ if env is None else env
    override = env.get(ENV_BINARY, "")
    if override:
        found = shutil.which(override)
        if found is None:
            raise AlertmanagerError(
                f"{ENV_BINARY}={override!r} is not an executable file; {INSTALL_HINT}"
            )
        return found
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise AlertmanagerError(
        f"Alertmanager not found: none of {', '.join(BINARY_NAMES)} is on PATH; {INSTALL_HINT}"
    )


def rfc3339(moment: datetime) -> str:
    """A timestamp as Alertmanager's API writes it (UTC, ``Z`` suffix)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_alert(
    alertname: str,
    *,
    namespace: str = "shop",
    pod: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    generator_url: str = "http://prometheus.e2e.invalid/graph",
) -> dict[str, Any]:
    """One alert for ``POST /api/v2/alerts``; unset times are left for Alertmanager to fill."""
    all_labels = {"alertname": alertname, "namespace": namespace}
    if pod is not None:
        all_labels["pod"] = pod
    all_labels.update(labels or {})
    alert: dict[str, Any] = {
        "labels": all_labels,
        "annotations": dict(annotations or {}),
        "generatorURL": generator_url,
    }
    if starts_at is not None:
        alert["startsAt"] = rfc3339(starts_at)
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


@dataclass(frozen=True, kw_only=True)
class AlertmanagerConfig:
    """One route to one webhook receiver, as a user of the remediation receiver writes it.

    Durations are Go/Prometheus duration strings ("0s", "1s", "5m", "1h").
    """

    receiver_url: str
    token: str
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_wait: str = "0s"
    group_interval: str = "1s"
    repeat_interval: str = "1h"
    send_resolved: bool = True
    max_alerts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": {
                "receiver": RECEIVER_NAME,
                "group_by": list(self.group_by),
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [
                {
                    "name": RECEIVER_NAME,
                    "webhook_configs": [
                        {
                            "url": self.receiver_url,
                            "send_resolved": self.send_resolved,
                            "max_alerts": self.max_alerts,
                            "http_config": {
                                "authorization": {"type": "Bearer", "credentials": self.token},
                            },
                        }
                    ],
                }
            ],
        }

    def render(self) -> str:
        # JSON is valid YAML, and Alertmanager's loader reads it as such.
        return json.dumps(self.as_dict(), indent=2) + "\n"


class Alertmanager:
    """A running Alertmanager process; use it as a context manager so it always stops."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        *,
        workdir: Path | None = None,
        binary: str | None = None,
        ready_timeout: float = 15.0,
    ) -> None:
        self.config = config
        self._workdir = workdir
        self._own_workdir: Path | None = None
        self._binary = binary
        self._ready_timeout = ready_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        if self._port == 0:
            raise AlertmanagerError("Alertmanager is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the process and return once ``/-/ready`` answers; raise with its log if not."""
        if self._process is not None:
            raise AlertmanagerError("Alertmanager is already started")
        binary = self._binary or find_binary()
        workdir = self._workdir or self._make_own_workdir()
        config_file = workdir / "alertmanager.yml"
        config_file.write_text(self.config.render())
        self.log_path = workdir / "alertmanager.log"
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self._port = free_port()
                self._spawn(binary, config_file, workdir / "data")
                if self._wait_ready(last_attempt=attempt == _PORT_ATTEMPTS):
                    return
                self._stop_process()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers); safe to call more than once."""
        try:
            self._stop_process()
        finally:
            if self._own_workdir is not None:
                shutil.rmtree(self._own_workdir, ignore_errors=True)
                self._own_workdir = None

    def log_text(self) -> str:
        """Everything Alertmanager has logged so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """``POST /api/v2/alerts``: create or update alerts (firing unless endsAt is past)."""
        self._request("POST", "/api/v2/alerts", [dict(alert) for alert in alerts])

    def resolve(self, alerts: Sequence[Mapping[str, Any]], *, at: datetime | None = None) -> None:
        """Post the alerts again with ``endsAt`` = ``at`` (default: now), which resolves them.

        Without a ``startsAt`` the API takes ``endsAt`` as the start, and Alertmanager merges the
        update into the stored alert, which keeps its original ``startsAt``, but only if ``at``
        is not earlier than that start; otherwise the stored alert is replaced and the resolved
        notification carries ``startsAt`` = ``endsAt``. The default (now) is always safe.
        """
        ends_at = rfc3339(at or utcnow())
        self.post_alerts([{**alert, "endsAt": ends_at} for alert in alerts])

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds, with fingerprint and status."""
        found = self._request("GET", "/api/v2/alerts")
        if not isinstance(found, list):
            raise AlertmanagerError(f"GET /api/v2/alerts answered {found!r}, expected a list")
        return found

    def metric(self, name: str, **labels: str) -> float:
        """The sum of Alertmanager's own series `name` whose labels include `labels` (0 if none)."""
        request = urllib.request.Request(self.url + "/metrics")
        with _HTTP.open(request, timeout=5) as response:
            text = response.read().decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    # -- internals -------------------------------------------------------------------------

    def _make_own_workdir(self) -> Path:
        self._own_workdir = Path(tempfile.mkdtemp(prefix="alertmanager-e2e-"))
        return self._own_workdir

    def _spawn(self, binary: str, config_file: Path, storage: Path) -> None:
        assert self.log_path is not None
        storage.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{self._port}",
            f"--web.external-url=http://127.0.0.1:{self._port}",
            "--cluster.listen-address=",
            "--log.level=info",
        ]
        env = {key: value for key, value in os.environ.items() if key not in _PROXY_VARS}
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def _wait_ready(self, *, last_attempt: bool) -> bool:
        """True once ready; False if the port was taken meanwhile and another try may help."""
        assert self._process is not None
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                if "address already in use" in self.log_text() and not last_attempt:
                    return False
                raise AlertmanagerError(
                    f"Alertmanager exited with code {code} before it was ready; "
                    f"its log ({self.log_path}):\n{self._log_tail()}"
                )
            if self._is_ready():
                return True
            time.sleep(0.05)
        raise AlertmanagerError(
            f"Alertmanager did not answer /-/ready on {self.url} within "
            f"{self._ready_timeout:g} s; its log ({self.log_path}):\n{self._log_tail()}"
        )

    def _is_ready(self) -> bool:
        try:
            with _HTTP.open(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self) -> str:
        text = self.log_text()
        return text if len(text) <= _LOG_TAIL_CHARS else "..." + text[-_LOG_TAIL_CHARS:]

    def _request(self, method: str, path: str, body: object | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with _HTTP.open(request, timeout=5) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()
            raise AlertmanagerError(f"{method} {path} answered {error.code}: {detail}") from error
        except urllib.error.URLError as error:
            raise AlertmanagerError(
                f"{method} {path} failed: {error.reason}; Alertmanager log:\n{self._log_tail()}"
            ) from error
        return json.loads(raw) if raw else None
