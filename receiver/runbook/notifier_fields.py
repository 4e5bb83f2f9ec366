"""One notifier's fields read into a Notifier: the kind, its target, its templates.

A kind's secret (a Slack webhook URL, a PagerDuty routing key) may be
written inline or named as a file or an environment variable. Only the
name is checked here: the value is read when sending (receiver/act/notify.py),
so `receiver check` runs where the Secret is not mounted, and a rotated
Secret is picked up without a reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from receiver.runbook.fields import (
    NOTIFIER,
    NOTIFIER_TARGET,
    PAGERDUTY,
    PAGERDUTY_SEVERITIES,
    SLACK,
    WEBHOOK,
)
from receiver.runbook.reader import Node, Reader, key_text
from receiver.runbook.types import Notifier, NotifierKind, Secret

TemplateCheck = Callable[[Node, str, str], bool]
"""(node, path, text) -> whether the template is fine; it reports the problem otherwise."""

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_HINT = "an HTTP header name: letters, digits and !#$%&'*+.^_`|~-"
_TARGETS: Mapping[NotifierKind, Mapping[str, str]] = {
    NotifierKind.ALERTMANAGER: NOTIFIER_TARGET,
    NotifierKind.WEBHOOK: WEBHOOK,
    NotifierKind.SLACK: SLACK,
    NotifierKind.PAGERDUTY: PAGERDUTY,
}


class NotifierFields:
    def __init__(self, reader: Reader, template_ok: TemplateCheck) -> None:
        self.r = reader
        self.template_ok = template_ok

    def notifier(self, name: str, node: Node, path: str) -> Notifier | None:
        r = self.r
        f = r.mapping(node, path, known=NOTIFIER)
        if f is None:
            return None
        kinds = [k for k in f if k != "message"]
        if len(kinds) != 1:
            found = "none of" if not kinds else "more than one of"
            r.problem(node, path, f"{found} {', '.join(NotifierKind)}", "exactly one")
            return None
        kind = NotifierKind(kinds[0])
        message = None
        if "message" in f:
            message = self._template(f["message"], f"{path}.message", NOTIFIER["message"])
            if message is None:
                return None
        if kind is NotifierKind.LOG:
            if not self._empty(f["log"], f"{path}.log", NOTIFIER["log"]):
                return None
            return Notifier(name=name, kind=kind, message=message)
        target = self._target(kind, f[kind.value], f"{path}.{kind.value}")
        return None if target is None else Notifier(name=name, kind=kind, message=message, **target)

    def _target(self, kind: NotifierKind, node: Node, path: str) -> dict[str, Any] | None:
        known = _TARGETS[kind]
        required = ("url",) if kind is NotifierKind.ALERTMANAGER else ()
        f = self.r.mapping(node, path, known=known, required=required, what=NOTIFIER[kind.value])
        if f is None:
            return None
        if kind is NotifierKind.PAGERDUTY:
            return self._pagerduty(f, node, path)
        if kind is NotifierKind.ALERTMANAGER:
            if "url" not in f:
                return None
            url = self._url(f["url"], f"{path}.url")
            return None if url is None else {"url": url}
        out = self._secret(f, node, path, "url", self._url)
        if kind is NotifierKind.SLACK:
            if "blocks" not in f:
                return out
            blocks = self._template(f["blocks"], f"{path}.blocks", SLACK["blocks"])
            return None if out is None or blocks is None else {**out, "blocks": blocks}
        templates = self._webhook_templates(f, path)  # checked whatever the URL was
        return None if out is None or templates is None else out | templates

    def _pagerduty(self, f: Mapping[str, Node], node: Node, path: str) -> dict[str, Any] | None:
        r = self.r
        out = self._secret(f, node, path, "routingKey", self._routing_key)
        if out is None:
            return None
        if "url" in f:
            url = self._url(f["url"], f"{path}.url")
            if url is None:
                return None
            out["url"] = url
        if "severity" in f:
            hint = PAGERDUTY["severity"]
            severity = r.string(f["severity"], f"{path}.severity", hint=hint)
            if severity not in PAGERDUTY_SEVERITIES:
                if severity is not None:
                    r.wrong(f["severity"], f"{path}.severity", hint)
                return None
            out["severity"] = severity
        return {"routing_key" if k == "routingKey" else k: v for k, v in out.items()}

    def _secret(
        self,
        f: Mapping[str, Node],
        node: Node,
        path: str,
        field: str,
        inline: Callable[[Node, str], str | None],
    ) -> dict[str, Any] | None:
        """Exactly one of `field`, `fieldFile`, `fieldEnv`: the value, or the Secret to read."""
        given = [k for k in (field, f"{field}File", f"{field}Env") if k in f]
        if len(given) != 1:
            found = "none of" if not given else "more than one of"
            self.r.problem(node, path, f"{found} {field}, {field}File, {field}Env", "exactly one")
            return None
        key = given[0]
        if key == field:
            value = inline(f[key], f"{path}.{key}")
            return None if value is None else {field: value}
        text = self.r.string(f[key], f"{path}.{key}", hint="a file path or variable name")
        if not text:
            if text is not None:
                self.r.wrong(f[key], f"{path}.{key}", "a file path or variable name")
            return None
        secret = Secret(file=text) if key.endswith("File") else Secret(env=text)
        return {"url_from" if field == "url" else field: secret}

    def _webhook_templates(self, f: Mapping[str, Node], path: str) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        ok = True
        if "body" in f:
            body = self._template(f["body"], f"{path}.body", WEBHOOK["body"])
            ok = body is not None
            out["body"] = body
        if "headers" in f:
            headers = self.r.string_map(f["headers"], f"{path}.headers", WEBHOOK["headers"])
            if headers is None:
                return None
            nodes = {key_text(k): v for k, v in f["headers"].value}  # a mapping: string_map said
            for header, text in headers.items():
                where = f"{path}.headers.{header}"
                if not _HEADER_NAME.fullmatch(header):
                    found = f'the header name "{header}"'
                    self.r.problem(nodes[header], where, found, _HEADER_HINT)
                    ok = False
                    continue
                ok = self.template_ok(nodes[header], where, text) and ok
            out["headers"] = headers
        return out if ok else None

    def _template(self, node: Node, path: str, hint: str) -> str | None:
        text = self.r.string(node, path, hint=hint)
        return text if text is not None and self.template_ok(node, path, text) else None

    def _url(self, node: Node, path: str) -> str | None:
        url = self.r.string(node, path, hint=NOTIFIER_TARGET["url"])
        if url is not None and not url.startswith(("http://", "https://")):
            self.r.wrong(node, path, NOTIFIER_TARGET["url"])
            return None
        return url

    def _routing_key(self, node: Node, path: str) -> str | None:
        key = self.r.string(node, path, hint=PAGERDUTY["routingKey"])
        if key == "":
            self.r.wrong(node, path, PAGERDUTY["routingKey"])
            return None
        return key

    def _empty(self, node: Node, path: str, what: str) -> bool:
        """`log: {}` or a bare `log:`: the kind takes no options."""
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return True
        return self.r.mapping(node, path, known={}, what=what) is not None
