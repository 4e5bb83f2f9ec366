"""etcd and kube-apiserver as child processes on free 127.0.0.1 ports, for the real-server tier.

`RealApiServer` starts etcd, then kube-apiserver against it with RBAC authorization, a static
admin token, and a service-account issuer and signing key (so TokenRequest and TokenReview work),
waits for `/readyz`, and writes a kubeconfig. `restart_apiserver()` stops and starts the API
server alone, on the same port and etcd, as a control-plane upgrade does. `stop()` kills both
and waits for them; the fixtures call it on teardown whatever happened.

The binaries come from `tools/kube-apiserver/build.sh` (cached outside the clone, keyed by the
Debian source version) and Debian's `etcd-server`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from polling import free_port

ROOT = Path(__file__).resolve().parents[2]
VERSION_FILE = ROOT / "tools" / "kube-apiserver" / "version"
CACHE = Path(os.environ.get("KUBE_CACHE", "/var/cache/remediation-receiver"))
ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN = "admin"
START_TIMEOUT = 120.0  # seconds: a cold kube-apiserver on two busy cores takes 10-40


class Unavailable(Exception):
    """The binaries are not there: the message says how to get them."""


def binary_dir() -> Path:
    """Where build.sh put kube-apiserver for the pinned source version."""
    override = os.environ.get("KUBE_BIN_DIR")
    if override:
        return Path(override)
    return CACHE / f"kube-{VERSION_FILE.read_text().strip()}" / "bin"


def controller_manager() -> Path:
    """kube-controller-manager from the same build, or Unavailable."""
    found = binary_dir() / "kube-controller-manager"
    if not found.is_file():
        raise Unavailable(f"{found} is missing: run `make kube-apiserver` as root once")
    return found


def find_binaries() -> tuple[Path, Path]:
    """(kube-apiserver, etcd), or Unavailable naming what is missing and the fix."""
    apiserver = binary_dir() / "kube-apiserver"
    etcd = shutil.which("etcd")
    if not apiserver.is_file():
        raise Unavailable(
            f"{apiserver} is missing: run `make kube-apiserver` as root once "
            "(builds it from Debian's kubernetes source, 15-25 minutes), "
            "or set KUBE_BIN_DIR to a directory holding kube-apiserver"
        )
    if etcd is None:
        raise Unavailable("etcd is missing: apt-get install etcd-server (make kube-apiserver does)")
    return apiserver, Path(etcd)


@dataclass
class _Child:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class RealApiServer:
    """One etcd and one kube-apiserver, private to the tests that hold it."""

    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    _etcd: _Child | None = None
    _apiserver: _Child | None = None
    _controllers: _Child | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "apiserver.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def start(self) -> None:
        apiserver, etcd = find_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._etcd = self._etcd_child(etcd)
        self._etcd.start()
        self._wait(self._etcd, f"{self._etcd_url}/health", verify=False)
        self._write_credentials()
        self._apiserver = self._apiserver_child(apiserver)
        self.start_apiserver()
        self._write_kubeconfig()

    def start_apiserver(self) -> None:
        assert self._apiserver is not None
        self._apiserver.start()
        self._wait(self._apiserver, f"{self.url}/readyz", verify=True)

    def stop_apiserver(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self._apiserver is not None:
            self._apiserver.stop(sig)

    def restart_apiserver(self) -> None:
        self.stop_apiserver()
        self.start_apiserver()

    def stop(self) -> None:
        for child in (self._controllers, self._apiserver, self._etcd):
            if child is not None:
                child.stop()

    def start_controllers(self, *names: str) -> None:
        """kube-controller-manager with only `names` (e.g. endpoint, disruption) running."""
        argv = [
            str(controller_manager()),
            f"--kubeconfig={self.kubeconfig}",
            f"--controllers={','.join(names)}",
            "--leader-elect=false",
            "--port=0",
            "--secure-port=0",
            "--v=1",
        ]
        self._controllers = _Child("kube-controller-manager", argv, self.workdir / "kcm.log")
        self._controllers.start()

    def stop_controllers(self) -> None:
        if self._controllers is not None:
            self._controllers.stop()
            self._controllers = None

    def write_kubeconfig(self, path: Path, token: str) -> Path:
        """A kubeconfig for this server that authenticates with `token`."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "real",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": "user"}}],
            "current-context": "real",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # -- internals ----------------------------------------------------------

    @property
    def _etcd_url(self) -> str:
        return f"http://127.0.0.1:{self._etcd_port}"

    def _etcd_child(self, etcd: Path) -> _Child:
        self._etcd_port, peer = free_port(), free_port()
        argv = [
            str(etcd),
            "--name=test",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self._etcd_url}",
            f"--advertise-client-urls={self._etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=test=http://127.0.0.1:{peer}",
            # Speed over durability: the data lives as long as the test.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        return _Child("etcd", argv, self.workdir / "etcd.log")

    def _write_credentials(self) -> None:
        (self.workdir / "tokens.csv").write_text(f'{self.token},{ADMIN},admin,"system:masters"\n')
        key = self.workdir / "service-account.key"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )

    def _apiserver_child(self, apiserver: Path) -> _Child:
        key = self.workdir / "service-account.key"
        argv = [
            str(apiserver),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            "--insecure-port=0",
            f"--cert-dir={self.workdir / 'certs'}",
            "--authorization-mode=RBAC",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-signing-key-file={key}",
            f"--service-account-key-file={key}",
            f"--api-audiences={ISSUER}",
            "--service-cluster-ip-range=10.0.0.0/24",
            # It would publish 127.0.0.1 as the `kubernetes` Service's endpoint, which is
            # refused (loopback) every 10 s: noise in the log.
            "--endpoint-reconciler-type=none",
            # No controller-manager makes service-account token Secrets; pods name their
            # account and get tokens through TokenRequest.
            "--disable-admission-plugins=ServiceAccount",
            "--profiling=false",
            "--v=1",
        ]
        return _Child("kube-apiserver", argv, self.workdir / "kube-apiserver.log")

    def _wait(self, child: _Child, url: str, *, verify: bool) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited at start; its log ends:\n{child.tail()}")
            try:
                if self._get(url, verify=verify) == 200:
                    return
            except (OSError, urllib.error.URLError, ssl.SSLError) as exc:
                last = str(exc)
            time.sleep(0.2)
        child.stop(signal.SIGKILL)
        raise RuntimeError(
            f"{child.name} not ready at {url} within {START_TIMEOUT:.0f}s ({last}); "
            f"its log ends:\n{child.tail()}"
        )

    def _get(self, url: str, *, verify: bool) -> int:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        context = None
        if url.startswith("https:"):
            if not self.ca_file.exists():
                return 0
            context = ssl.create_default_context(cafile=str(self.ca_file)) if verify else None
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def _write_kubeconfig(self) -> None:
        self.write_kubeconfig(self.kubeconfig, self.token)
