"""Pods push heartbeats with a token of their own, never the webhook/admin token."""

from __future__ import annotations

import base64

from .render import FULLNAME, Rendered, args_by_flag, render

HEARTBEAT_DIR = "/etc/remediation/heartbeat-token"


def _secret_mounted_at(rendered: Rendered, path: str) -> dict[str, object]:
    (mount,) = [m for m in rendered.container["volumeMounts"] if m["mountPath"] == path]
    assert mount["readOnly"] is True
    (volume,) = [v for v in rendered.pod["volumes"] if v["name"] == mount["name"]]
    secret: dict[str, object] = volume["secret"]
    return secret


def _token(rendered: Rendered, name: str) -> str:
    return base64.b64decode(rendered.one("Secret", name)["data"]["token"]).decode()


def test_by_default_heartbeats_have_their_own_generated_token() -> None:
    rendered = render()
    flags = args_by_flag(rendered.container["args"])
    assert flags["--heartbeat-token-file"] == f"{HEARTBEAT_DIR}/token"
    volume = _secret_mounted_at(rendered, HEARTBEAT_DIR)
    assert volume["secretName"] == f"{FULLNAME}-heartbeat-token"
    assert volume["items"] == [{"key": "token", "path": "token"}]
    assert isinstance(volume["defaultMode"], int)
    assert volume["defaultMode"] & 0o007 == 0
    heartbeat, webhook = (
        _token(rendered, f"{FULLNAME}-heartbeat-token"),
        _token(rendered, f"{FULLNAME}-token"),
    )
    assert len(heartbeat) == 32
    assert heartbeat.isalnum()
    assert heartbeat != webhook


def test_an_existing_heartbeat_secret_is_mounted_and_none_rendered() -> None:
    rendered = render({"heartbeatToken": {"existingSecret": "beats", "existingSecretKey": "t"}})
    volume = _secret_mounted_at(rendered, HEARTBEAT_DIR)
    assert volume["secretName"] == "beats"
    assert volume["items"] == [{"key": "t", "path": "token"}]
    assert [s["metadata"]["name"] for s in rendered.all("Secret")] == [f"{FULLNAME}-token"]
