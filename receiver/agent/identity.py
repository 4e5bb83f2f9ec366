"""Who the pod is and how it proves it: namespace, pod name and bearer token.

Every input (the environment, the service-account namespace file) is a
parameter, so tests and apps outside Kubernetes never depend on the machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from receiver.agent.errors import HeartbeatConfigError

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
NAMESPACE_ENV = "POD_NAMESPACE"
POD_ENV = "POD_NAME"
HOSTNAME_ENV = "HOSTNAME"
TOKEN_ENV = "RECEIVER_HEARTBEAT_TOKEN"


@dataclass(frozen=True, slots=True)
class Identity:
    namespace: str
    pod: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod}"


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token given directly or kept in a file.

    A file is read again on every push: Secret volumes and projected
    service-account tokens are rotated in place by the kubelet, and a
    long-running agent must pick up the new value without a restart.
    """

    value: str | None = field(default=None, repr=False)
    path: Path | None = None

    def read(self) -> str:
        if self.path is None:
            return self.value or ""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise HeartbeatConfigError(f"token file {self.path}: {exc.strerror or exc}") from None
        if not text:
            raise HeartbeatConfigError(f"token file {self.path} is empty")
        return text


def resolve_identity(
    *,
    namespace: str | None = None,
    pod: str | None = None,
    environ: Mapping[str, str] | None = None,
    namespace_file: Path = NAMESPACE_FILE,
) -> Identity:
    """Explicit values first, then the downward API variables, then the pod's own files."""
    env = os.environ if environ is None else environ
    namespace = namespace or env.get(NAMESPACE_ENV) or _read_optional(namespace_file)
    pod = pod or env.get(POD_ENV) or env.get(HOSTNAME_ENV)
    if not namespace or not pod:
        missing = []
        if not namespace:
            missing.append(f"namespace (--namespace, ${NAMESPACE_ENV} or {namespace_file})")
        if not pod:
            missing.append(f"pod name (--pod, ${POD_ENV} or ${HOSTNAME_ENV})")
        raise HeartbeatConfigError("cannot tell who this pod is: no " + " and no ".join(missing))
    return Identity(namespace=namespace, pod=pod)


def resolve_token(
    *,
    token: str | None = None,
    token_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Token:
    """An explicit token, else a token file, else ${RECEIVER_HEARTBEAT_TOKEN}.

    The file is read once here so a wrong path fails at start-up, not at the
    first push.
    """
    env = os.environ if environ is None else environ
    if token:
        return Token(value=token)
    if token_file is not None:
        source = Token(path=Path(token_file))
        source.read()
        return source
    if env.get(TOKEN_ENV):
        return Token(value=env[TOKEN_ENV])
    raise HeartbeatConfigError(f"no token: pass a token file or set ${TOKEN_ENV}")


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
