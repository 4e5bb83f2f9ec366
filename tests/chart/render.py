"""Render, lint and validate the Helm chart offline (helm-python-sdk, kubernetes-validate).

The chart is rendered by Helm's own engine (the Helm v4 SDK behind
helm-python-sdk), so `lookup` answers empty and `values.schema.json` is
enforced exactly as on `helm install`. Built-in kinds are validated with
kubernetes-validate in strict mode (unknown fields fail); the
prometheus-operator kinds it has no schema for are checked against the
structural schemas in crd_schemas.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

from .crd_schemas import CRD_SCHEMAS

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "remediation-receiver"
RELEASE = "rr"
NAMESPACE = "monitoring"
FULLNAME = "rr-remediation-receiver"
# The newest Kubernetes the installed kubernetes-validate has schemas for.
KUBE_VERSION = kubernetes_validate.latest_version()

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """What `helm template` would print: the objects, and NOTES.txt apart."""

    objects: tuple[Manifest, ...]
    notes: str

    def all(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        names = [o["metadata"]["name"] for o in self.all(kind)]
        assert len(found) == 1, f"expected one {kind} named {name!r}, found {names}"
        return found[0]

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}

    @property
    def pod(self) -> Manifest:
        return self.one("Deployment")["spec"]["template"]["spec"]

    @property
    def container(self) -> Manifest:
        containers = self.pod["containers"]
        assert len(containers) == 1, containers
        return containers[0]


def render(
    values: Mapping[str, Any] | None = None,
    *,
    chart: Path = CHART,
    namespace: str = NAMESPACE,
) -> Rendered:
    """Render like `helm install --dry-run` (schema checked, lookup empty)."""
    key = json.dumps(values or {}, sort_keys=True)
    return _render(key, str(chart), namespace)


@functools.lru_cache(maxsize=64)
def _render(values_json: str, chart: str, namespace: str) -> Rendered:
    with helm.Chart.load(chart) as loaded:
        files = loaded.render(
            json.loads(values_json), name=RELEASE, namespace=namespace, is_install=True
        )
    objects: list[Manifest] = []
    notes = ""
    for path, text in sorted(files.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendered(tuple(objects), notes)


def lint(values: Mapping[str, Any] | None = None, *, chart: Path = CHART) -> list[dict[str, Any]]:
    """`helm lint --strict` findings at warning level or above (info is only advice)."""
    report = helm.lint(
        chart,
        dict(values or {}),
        strict=True,
        namespace=NAMESPACE,
        kube_version=f"v{KUBE_VERSION}",
    )
    assert report["total_charts_linted"] == 1, report
    return [m for m in report["messages"] if m["severity"] >= 2]


def validate(manifest: Manifest) -> None:
    """Raise if the object is not valid for KUBE_VERSION (unknown fields included)."""
    schema = CRD_SCHEMAS.get((manifest["apiVersion"], manifest["kind"]))
    if schema is not None:
        jsonschema.Draft202012Validator(schema).validate(manifest)
        return
    kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)


def validation_errors(rendered: Rendered) -> Iterator[str]:
    for manifest in rendered.objects:
        where = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
        try:
            validate(manifest)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            path = ".".join(str(p) for p in exc.path)
            yield f"{where}: {path}: {exc.message}"
        except kubernetes_validate.SchemaNotFoundError as exc:
            yield f"{where}: {exc.message}"


def args_by_flag(args: list[str]) -> dict[str, str | None]:
    """`serve --a x --b` as {"--a": "x", "--b": None}; fails on a repeated flag."""
    assert args[0] == "serve", args
    flags: dict[str, str | None] = {}
    rest = args[1:]
    while rest:
        flag, *rest = rest
        assert flag.startswith("--"), f"{flag!r} is not a flag in {args}"
        assert flag not in flags, f"{flag} given twice in {args}"
        if rest and not rest[0].startswith("--"):
            flags[flag], *rest = rest
        else:
            flags[flag] = None
    return flags
