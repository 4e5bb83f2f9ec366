"""What each request is, in RBAC's terms, the log of requests served, and injected faults.

`request_info` follows k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory: a GET of a
named object is `get`, of a collection `list`, either with `watch` set (to anything but
false/0) is `watch`; POST `create`, PUT `update`, PATCH `patch`, DELETE `delete` or
`deletecollection`. The eviction subresource is `create` on `pods/eviction`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    is_resource: bool
    verb: str
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(False, method.lower())
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return RequestInfo(False, method.lower())
    resource, name, subresource = rest[0], rest[1] if len(rest) > 1 else "", ""
    if len(rest) == 3:
        subresource = rest[2]
    watching = query.get("watch", "false").lower() not in ("false", "0")
    if method == "GET":
        verb = "watch" if watching else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return RequestInfo(True, verb, group, version, namespace, resource, subresource, name)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    content_type: str
    status: int
    verb: str
    api_group: str
    resource: str
    subresource: str
    namespace: str
    name: str

    @property
    def rbac(self) -> tuple[str, str, str]:
        """(apiGroup, resource[/subresource], verb): one line of the Role this call needs."""
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return (self.api_group, resource, self.verb)


class RequestLog:
    """Every request the fake answered, faulted ones included, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def record(
        self,
        info: RequestInfo,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        content_type: str,
        status: int,
    ) -> None:
        entry = LoggedRequest(
            method=method,
            path=path,
            query=dict(query),
            content_type=content_type,
            status=status,
            verb=info.verb,
            api_group=info.api_group,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
        )
        with self._lock:
            self._entries.append(entry)

    def all(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def matching(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Entries with this method and a path matching this regex (re.search)."""
        return [
            e
            for e in self.all()
            if (method is None or e.method == method) and (path is None or re.search(path, e.path))
        ]

    def rbac(self) -> set[tuple[str, str, str]]:
        """The distinct (apiGroup, resource, verb) triples the calls so far needed."""
        return {e.rbac for e in self.all() if e.resource}


@dataclass
class Fault:
    method: str  # an HTTP method, or "*"
    path: re.Pattern[str]
    remaining: int
    status: int | None  # answer this instead of serving (None: serve after the delay)
    delay: float = 0.0
    retry_after: int | None = None
    message: str | None = None


class Faults:
    """Make the next N requests matching (method, path regex) fail or hang."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """The next `times` matching requests answer `status` with a Status body and do
        nothing; `retry_after` adds the Retry-After header (and details.retryAfterSeconds)."""
        self._add(Fault(method, re.compile(path), times, status, 0.0, retry_after, message))

    def delay(self, method: str, path: str, *, seconds: float, times: int = 1) -> None:
        """The next `times` matching requests are served only after `seconds` (a hang, for
        client timeouts; the server cuts it short when it stops)."""
        self._add(Fault(method, re.compile(path), times, None, seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[Fault]:
        """The rules not used up yet (a test can assert its faults were all hit)."""
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.method in ("*", method) and rule.path.search(path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def _add(self, rule: Fault) -> None:
        if rule.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._rules.append(rule)
