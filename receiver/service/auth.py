"""Bearer tokens: read from a file or the environment, compared in constant time."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "RECEIVER_TOKEN"
HEARTBEAT_TOKEN_ENV = "RECEIVER_HEARTBEAT_TOKEN"


class TokenError(ValueError):
    """A token source that cannot be used; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """Accepted bearer tokens; several at once so a token can be rotated without downtime."""

    values: tuple[bytes, ...]
    names: tuple[str, ...] = ()  # per token, for the decision log's "by"; default "token N"

    def allow(self, authorization: str | None) -> bool:
        if not self.values:
            return True  # auth switched off explicitly (serve --insecure-no-auth)
        return self._match(authorization) is not None

    def name(self, authorization: str | None) -> str:
        """Who sent a request, as an operator action records it; never the token itself."""
        if not self.values:
            return "anyone (no auth)"
        index = self._match(authorization)
        if index is None:
            return "unknown"
        return self.names[index] if index < len(self.names) else f"token {index + 1}"

    def _match(self, authorization: str | None) -> int | None:
        given = bearer(authorization)
        if given is None:
            return None
        offered = given.encode()
        # Compare with every token, so the time taken says nothing about which matched.
        matched = [hmac.compare_digest(offered, token) for token in self.values]
        return matched.index(True) if any(matched) else None


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for anything else."""
    scheme, _, given = (authorization or "").partition(" ")
    token = given.strip()
    return token if scheme.lower() == "bearer" and token else None


def load_tokens(
    *, file: Path | None, env_name: str, environ: Mapping[str, str] | None = None
) -> Tokens | None:
    """Tokens from `file` (one per line, # comments) or `env_name` (comma-separated).

    A token may be named, `NAME: TOKEN` (a token holds no space), so operator
    actions record who took them. None when neither is set, so the caller can
    decide what that means.
    """
    environ = os.environ if environ is None else environ
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenError(f"token file {file}: {exc.strerror or exc}") from exc
        values = [line.strip() for line in text.splitlines()]
        source = f"token file {file}"
    elif environ.get(env_name):
        values = [v.strip() for v in environ[env_name].split(",")]
        source = f"environment variable {env_name}"
    else:
        return None
    named = [_named(v, i) for i, v in enumerate(v for v in values if v and not v.startswith("#"))]
    tokens = tuple(token.encode() for _, token in named)
    if not tokens:
        raise TokenError(f"{source} holds no token; put one token per line (or comma-separated)")
    short = [t for t in tokens if len(t) < 16]
    if short:
        raise TokenError(
            f"{source}: tokens must be at least 16 characters (one is {len(short[0])})"
        )
    return Tokens(tokens, tuple(name for name, _ in named))


def _named(line: str, index: int) -> tuple[str, str]:
    name, sep, token = line.partition(": ")
    if sep and name.strip() and token.strip():
        return name.strip(), token.strip()
    return f"token {index + 1}", line
