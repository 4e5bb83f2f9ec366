"""The pod cache: list, then watch from the list's resourceVersion, per namespace.

One thread per watched scope (a namespace, or every namespace when the
runbook allows "*") lists the pods and watches from the list's
resourceVersion; a watch that ends or drops resumes from the last
resourceVersion seen, and a 410 Gone (history compacted) lists again. The
threads never touch the cache: they hand each change to the event loop,
which applies it between two decisions, so a snapshot never changes under
a decision.

The cache also keeps what the receiver wrote itself (read your own writes):
an older resourceVersion never replaces a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from receiver.cluster.pod_map import PodMap
from receiver.kube.api import Api
from receiver.kube.pods import Owners, to_pod
from receiver.model import Pod, PodKey, Workload
from receiver.model.fleet import gate_shut_in_traffic

log = logging.getLogger(__name__)

ALL = "*"
WATCH_TIMEOUT = 300  # seconds the API server keeps one watch open
PAGE = 500
BACKOFF = (0.5, 30.0)  # first and longest wait between failed attempts


def newer(version: str, than: str | None) -> bool:
    """resourceVersions are opaque, but etcd's are integers: compare them when they are."""
    if than is None:
        return True
    try:
        return int(version) >= int(than)
    except ValueError:
        return True


class PodCache:
    """The pods the informer has seen; changed on the event loop thread only."""

    def __init__(self) -> None:
        self.pods = PodMap()
        self.versions: dict[PodKey, str] = {}
        self.owners: dict[Workload, set[PodKey]] = {}
        self.gates_due: set[PodKey] = set()  # readiness gates shut on pods in traffic

    def put(self, pod: Pod, version: str) -> None:
        key = pod.key
        if not newer(version, self.versions.get(key)):
            return
        old = self.pods.get(key)
        if old is not None and old.owner != pod.owner and old.owner is not None:
            self._unown(key, old.owner)
        self.pods[key] = pod
        self.versions[key] = version
        if pod.owner is not None:
            self.owners.setdefault(pod.owner, set()).add(key)
        if gate_shut_in_traffic(pod):
            self.gates_due.add(key)
        else:
            self.gates_due.discard(key)

    def remove(self, key: PodKey, uid: str, version: str | None = None) -> None:
        pod = self.pods.get(key)
        if pod is None or (uid and pod.uid != uid):
            return  # a StatefulSet's new pod already has the name
        if version is not None and not newer(version, self.versions.get(key)):
            return
        del self.pods[key]
        del self.versions[key]
        self.gates_due.discard(key)
        if pod.owner is not None:
            self._unown(key, pod.owner)

    def replace(self, scope: str, listed: Iterable[tuple[Pod, str]]) -> None:
        """A fresh list of `scope` (a namespace, or ALL): pods not in it are gone."""
        seen = set()
        for pod, version in listed:
            seen.add(pod.key)
            self.put(pod, version)
        for key in [k for k in self.pods if k not in seen and scope in (ALL, k.namespace)]:
            self.remove(key, "")

    def drop_namespace(self, namespace: str) -> None:
        for key in [k for k in self.pods if k.namespace == namespace]:
            self.remove(key, "")

    def _unown(self, key: PodKey, owner: Workload) -> None:
        keys = self.owners.get(owner)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.owners[owner]


class PodInformer:
    def __init__(self, api: Api, cache: PodCache, owners: Owners) -> None:
        self._api = api
        self._cache = cache
        self._owners = owners
        self._watchers: dict[str, _Watcher] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def synced(self) -> bool:
        return bool(self._watchers) and all(w.synced for w in self._watchers.values())

    def describe(self) -> str:
        waiting = sorted(s for s, w in self._watchers.items() if not w.synced)
        return f"pod cache not synced yet: {', '.join(waiting)}" if waiting else "pod cache synced"

    def start(self, loop: asyncio.AbstractEventLoop, namespaces: Collection[str]) -> None:
        self._loop = loop
        self.watch(namespaces)

    def watch(self, namespaces: Collection[str]) -> None:
        """Watch exactly these namespaces (ALL for every one); called again on reload."""
        assert self._loop is not None, "start() first"
        scopes = {ALL} if ALL in namespaces else set(namespaces)
        for scope in set(self._watchers) - scopes:
            self._watchers.pop(scope).stop()
            if scope != ALL:
                self._cache.drop_namespace(scope)
        for scope in sorted(scopes - set(self._watchers)):
            watcher = _Watcher(scope, self._api, self._owners, self._loop, self._cache)
            self._watchers[scope] = watcher
            watcher.start()

    def stop(self) -> None:
        for watcher in self._watchers.values():
            watcher.stop()
        self._watchers.clear()


class _Watcher(threading.Thread):
    def __init__(
        self,
        scope: str,
        api: Api,
        owners: Owners,
        loop: asyncio.AbstractEventLoop,
        cache: PodCache,
    ) -> None:
        super().__init__(name=f"watch-pods-{scope}", daemon=True)
        self.scope = scope
        self.synced = False
        self.version: str | None = None
        self._api = api
        self._owners = owners
        self._loop = loop
        self._cache = cache
        self._stopped = threading.Event()
        self._response: Any = None

    def stop(self) -> None:
        """Stop at once: shut the watch's socket down under the reading thread."""
        self._stopped.set()
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                if self.version is None:
                    self._list()
                self._watch()
                failures = 0
            except ApiException as exc:
                if exc.status == 410:
                    log.info("pod watch %s: history gone (410); listing again", self.scope)
                    self.version = None
                    continue
                failures += 1
                self._pause(failures, f"HTTP {exc.status} {exc.reason}")
            except Exception as exc:  # a dropped connection, a bad event, a stop mid-read
                if self._stopped.is_set():
                    return
                failures += 1
                self._pause(failures, f"{type(exc).__name__}: {exc}")

    def _pause(self, failures: int, problem: str) -> None:
        if self._stopped.is_set():
            return
        wait = min(BACKOFF[1], BACKOFF[0] * 2 ** (failures - 1))
        log.warning("pod watch %s failed (%s); again in %.1fs", self.scope, problem, wait)
        self._stopped.wait(wait)

    def _list(self) -> None:
        listed: list[tuple[Pod, str]] = []
        token: str | None = None
        method, args = self._method()
        while True:
            page = self._api.request(
                "list",
                method,
                *args,
                limit=PAGE,
                _continue=token,
                _request_timeout=self._api.timeout,
            )
            listed.extend((self._pod(item), _version(item)) for item in page.get("items") or ())
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                break
        version = str((page.get("metadata") or {}).get("resourceVersion", ""))
        self._deliver(self._cache.replace, self.scope, listed)
        self.version = version or None
        if not self.synced:
            self._deliver(setattr, self, "synced", True)

    def _watch(self) -> None:
        method, args = self._method()
        response = method(
            *args,
            watch=True,
            resource_version=self.version,
            timeout_seconds=WATCH_TIMEOUT,
            allow_watch_bookmarks=True,
            _preload_content=False,
            _request_timeout=(self._api.timeout[0], WATCH_TIMEOUT + 30),
        )
        self._api.counted("watch", str(response.status))
        self._response = response
        try:
            for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                if self._stopped.is_set():
                    return
                self._event(json.loads(line))
        finally:
            self._response = None
            response.close()
            response.release_conn()

    def _event(self, event: Mapping[str, Any]) -> None:
        kind, obj = event["type"], event["object"]
        if kind == "ERROR":
            raise ApiException(status=int(obj.get("code", 500)), reason=obj.get("message"))
        self.version = _version(obj)
        if kind == "BOOKMARK":
            return
        metadata = obj["metadata"]
        if kind == "DELETED":
            key = PodKey(metadata["namespace"], metadata["name"])
            self._deliver(self._cache.remove, key, str(metadata.get("uid", "")), self.version)
        else:
            self._deliver(self._cache.put, self._pod(obj), self.version)

    def _pod(self, raw: Mapping[str, Any]) -> Pod:
        metadata = raw.get("metadata") or {}
        pod = to_pod(raw, self._owners.workload(str(metadata.get("namespace", "")), metadata))
        self._owners.revisions.observe(pod)
        return pod

    def _method(self) -> tuple[Callable[..., Any], tuple[str, ...]]:
        core = self._api.core
        if self.scope == ALL:
            return core.list_pod_for_all_namespaces, ()
        return core.list_namespaced_pod, (self.scope,)

    def _deliver(self, work: Callable[..., Any], *args: Any) -> None:
        if not self._stopped.is_set():
            self._loop.call_soon_threadsafe(work, *args)


def _version(obj: Mapping[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])
