"""The Deployment mounts the runbook and token it renders or names, and runs the contract args."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from receiver.runbook import load_file

from .cases import CLUSTER_WIDE, EVERYTHING, EXISTING, SHOP_RUNBOOK, VALUE_SETS
from .render import FULLNAME, NAMESPACE, Rendered, args_by_flag, render

RUNBOOK_DIR = "/etc/remediation/runbook"
TOKEN_DIR = "/etc/remediation/token"


def _volume_at(rendered: Rendered, path: str) -> dict[str, Any]:
    (mount,) = [m for m in rendered.container["volumeMounts"] if m["mountPath"] == path]
    # A subPath mount is never updated by the kubelet: the runbook would not reload.
    assert "subPath" not in mount
    assert "subPathExpr" not in mount
    assert mount["readOnly"] is True
    (volume,) = [v for v in rendered.pod["volumes"] if v["name"] == mount["name"]]
    return volume


# Runbook


def test_the_rendered_runbook_configmap_is_the_one_mounted() -> None:
    rendered = render(
        {"runbook": {"content": SHOP_RUNBOOK}, "rbac": {"namespaces": ["shop", "payments"]}}
    )
    volume = _volume_at(rendered, RUNBOOK_DIR)["configMap"]
    configmap = rendered.one("ConfigMap", volume["name"])
    assert volume["items"] == [{"key": "runbook.yaml", "path": "runbook.yaml"}]
    assert configmap["data"]["runbook.yaml"] == SHOP_RUNBOOK


def test_an_existing_configmap_is_mounted_and_none_rendered() -> None:
    rendered = render(EXISTING)
    volume = _volume_at(rendered, RUNBOOK_DIR)["configMap"]
    assert volume["name"] == "team-runbook"
    assert volume["items"] == [{"key": "shop.yaml", "path": "runbook.yaml"}]
    assert rendered.all("ConfigMap") == []


def test_the_runbook_is_not_a_restart_trigger() -> None:
    """Pods reload the mounted file; a checksum annotation would restart them on every edit."""
    template = render().one("Deployment")["spec"]["template"]
    assert not any(k.startswith("checksum/") for k in template["metadata"].get("annotations", {}))


@pytest.mark.parametrize(
    "values", [{}, CLUSTER_WIDE, EVERYTHING], ids=["defaults", "cluster-wide", "everything-on"]
)
def test_the_runbook_the_chart_ships_loads(values: dict[str, Any], tmp_path: Path) -> None:
    rendered = render(values)
    configmap = rendered.one("ConfigMap", f"{FULLNAME}-runbook")
    path = tmp_path / "runbook.yaml"
    path.write_text(configmap["data"]["runbook.yaml"], encoding="utf-8")
    load_file(path)  # raises RunbookInvalid with every problem


# Token


def test_the_generated_token_secret_is_the_one_mounted() -> None:
    rendered = render()
    volume = _volume_at(rendered, TOKEN_DIR)["secret"]
    secret = rendered.one("Secret", volume["secretName"])
    assert volume["items"] == [{"key": "token", "path": "token"}]
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert len(token) == 32
    assert token.isalnum()


def test_an_existing_secret_is_mounted_and_none_rendered() -> None:
    rendered = render(EXISTING)
    volume = _volume_at(rendered, TOKEN_DIR)["secret"]
    assert volume["secretName"] == "alertmanager-webhook"
    assert volume["items"] == [{"key": "bearer", "path": "token"}]
    # The heartbeat token is a Secret of its own (test_heartbeat_token.py).
    assert [s["metadata"]["name"] for s in rendered.all("Secret")] == [
        f"{FULLNAME}-heartbeat-token"
    ]


def test_the_token_file_is_not_world_readable() -> None:
    volume = _volume_at(render(), TOKEN_DIR)["secret"]
    assert volume["defaultMode"] & 0o007 == 0


@pytest.mark.parametrize(
    ("values", "secret", "key"),
    [({}, f"{FULLNAME}-token", "token"), (EXISTING, "alertmanager-webhook", "bearer")],
    ids=["generated", "existing"],
)
def test_alertmanager_config_sends_the_mounted_token(
    values: dict[str, Any], secret: str, key: str
) -> None:
    rendered = render({**values, "alertmanagerConfig": {"enabled": True}})
    (receiver,) = rendered.one("AlertmanagerConfig")["spec"]["receivers"]
    (webhook,) = receiver["webhookConfigs"]
    assert webhook["httpConfig"]["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": secret, "key": key},
    }
    volume = _volume_at(rendered, TOKEN_DIR)["secret"]
    assert (volume["secretName"], volume["items"][0]["key"]) == (secret, key)


# Command line


CONTRACT = {
    "--runbook": f"{RUNBOOK_DIR}/runbook.yaml",
    "--listen": "0.0.0.0:8080",
    "--cluster": "kubernetes",
    "--namespace": NAMESPACE,
    "--identity": "$(POD_NAME)",
    "--lease-name": FULLNAME,
    "--state-name": f"{FULLNAME}-state",
    "--token-file": f"{TOKEN_DIR}/token",
    "--heartbeat-token-file": "/etc/remediation/heartbeat-token/token",
    "--log-level": "info",
    "--journal": "/var/lib/remediation/journal/$(POD_NAME).jsonl",
    "--journal-max-bytes": "16777216",
    "--journal-files": "4",
}


def test_default_args_are_the_contract() -> None:
    container = render().container
    assert "command" not in container  # the image's ENTRYPOINT is `receiver`
    assert args_by_flag(container["args"]) == CONTRACT


def test_optional_flags_follow_the_values() -> None:
    flags = args_by_flag(render(EVERYTHING).container["args"])
    assert flags == {
        **CONTRACT,
        "--log-level": "debug",
        "--heartbeat-audience": "remediation-receiver",
        "--evict-fallback-delete": None,
        "--dry-run": None,
        "--max-body": "2097152",
    }


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_the_files_named_in_args_are_mounted(values: dict[str, Any]) -> None:
    rendered = render(values)
    flags = args_by_flag(rendered.container["args"])
    mounts = [m["mountPath"] for m in rendered.container["volumeMounts"]]
    for flag in ("--runbook", "--token-file", "--heartbeat-token-file", "--journal"):
        path = flags[flag]
        assert path is not None, flag
        assert str(Path(path).parent) in mounts, flag
    volume = _volume_at(rendered, RUNBOOK_DIR)["configMap"]
    assert volume["items"][0]["path"] == Path(flags["--runbook"] or "").name
    volume = _volume_at(rendered, TOKEN_DIR)["secret"]
    assert volume["items"][0]["path"] == Path(flags["--token-file"] or "").name


def _journal_volume(rendered: Rendered) -> dict[str, Any]:
    (mount,) = [m for m in rendered.container["volumeMounts"] if m["name"] == "journal"]
    assert mount["mountPath"] == "/var/lib/remediation/journal"
    assert not mount.get("readOnly")
    (volume,) = [v for v in rendered.pod["volumes"] if v["name"] == "journal"]
    return volume


def test_the_journal_is_an_empty_dir_of_its_bound_or_the_claim_given() -> None:
    journal = "/var/lib/remediation/journal"
    # Five files of a start line (10,000 pods at 256 bytes) and 16 MiB of lines each.
    assert _journal_volume(render())["emptyDir"] == {"sizeLimit": str((16777216 + 2560000) * 5)}
    big = render({"journal": {"pods": 100000}})
    assert _journal_volume(big)["emptyDir"] == {"sizeLimit": str((16777216 + 25600000) * 5)}
    claimed = render({"journal": {"existingClaim": "receiver-journal"}})
    assert _journal_volume(claimed)["persistentVolumeClaim"] == {"claimName": "receiver-journal"}
    off = render({"journal": {"enabled": False}})
    assert "--journal" not in off.container["args"]
    assert journal not in [m["mountPath"] for m in off.container["volumeMounts"]]


def test_pod_name_and_namespace_come_from_the_downward_api() -> None:
    env = {e["name"]: e for e in render().container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_the_receiver_accepts_the_charts_flags() -> None:
    """Every flag the chart passes must be one `receiver serve` offers."""
    text = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    if "--cluster" not in text:
        pytest.skip("`receiver serve` has no --cluster yet: the Kubernetes adapter has not landed")
    offered = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    flags = args_by_flag(render(EVERYTHING).container["args"])
    assert set(flags) - offered == set()


def test_extra_volumes_are_mounted_for_notifier_secrets() -> None:
    pod = render(EVERYTHING).one("Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    volume = {"name": "notifiers", "secret": {"secretName": "remediation-notifiers"}}
    assert volume in pod["volumes"]
    mount = {"name": "notifiers", "mountPath": "/etc/remediation/notifiers", "readOnly": True}
    assert mount in container["volumeMounts"]
    default = render().one("Deployment")["spec"]["template"]["spec"]
    assert "notifiers" not in {v["name"] for v in default["volumes"]}
