"""Object storage with the semantics clients rely on: one global resourceVersion, preconditions,
and a bounded history of changes that watches resume from.

Every write bumps the global resourceVersion (an integer, served as a string) and stamps it on
the written object; a list answers the current one in `metadata.resourceVersion`, the way
etcd's revision does. A write that changes nothing is not a write (no new version, no event),
as in the real server's GuaranteedUpdate. Thread-safe: the HTTP server and the test thread
both call in.
"""

from __future__ import annotations

import copy
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .kinds import (
    JSON,
    ApiError,
    Kind,
    already_exists,
    bad_request,
    conflict,
    internal,
    invalid,
    not_found,
)
from .patches import apply_patch
from .selectors import FieldSelector, LabelSelector

Key = tuple[Kind, str, str]  # kind, namespace ("" when cluster-scoped), name


@dataclass(frozen=True, slots=True)
class Change:
    """One write, as watches see it: the object after it, and before it (None when ADDED)."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    kind: Kind
    namespace: str
    obj: JSON
    old: JSON | None


class Subscriber(Protocol):
    def deliver(self, change: Change) -> None: ...
    def bookmark(self, rv: int) -> None: ...
    def end(self, *, abrupt: bool) -> None: ...


def timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Mapping[str, Any]) -> JSON:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _generated(prefix: str) -> str:
    # The alphabet of k8s.io/apiserver/pkg/storage/names: no vowels, no look-alike digits.
    return prefix + "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


def preconditions_hold(kind: Kind, current: JSON, pre: Mapping[str, Any] | None) -> None:
    """DeleteOptions.preconditions: 409 Conflict when uid or resourceVersion differ."""
    meta = _meta(current)
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        want = (pre or {}).get(field)
        if want is not None and want != meta.get(field):
            why = f"Precondition failed: {label} in precondition: {want}, {label} in object meta: "
            raise conflict(kind, meta.get("name", ""), why + str(meta.get(field)))


class Store:
    def __init__(
        self,
        *,
        history_limit: int = 1000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._objects: dict[Key, JSON] = {}
        self._rv = 1
        self._history: deque[Change] = deque()
        self._history_limit = history_limit
        self._floor = 0  # a watch can resume from any resourceVersion >= floor
        self._subscribers: set[Subscriber] = set()

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    # Reads.

    def find(self, kind: Kind, namespace: str, name: str) -> JSON | None:
        with self.lock:
            obj = self._objects.get((kind, namespace if kind.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def get(self, kind: Kind, namespace: str, name: str) -> JSON:
        obj = self.find(kind, namespace, name)
        if obj is None:
            raise not_found(kind, name)
        return obj

    def objects(
        self,
        kind: Kind,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> tuple[list[JSON], int]:
        """Matching objects sorted by namespace and name (etcd key order), and the list's RV."""
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for (k, ns, _), obj in sorted(self._objects.items(), key=lambda kv: kv[0][1:])
                if k == kind
                and (not namespace or ns == namespace)
                and (labels is None or labels.matches(_meta(obj).get("labels")))
                and (fields is None or fields.matches(obj))
            ]
            return items, self._rv

    # Writes.

    def create(
        self, kind: Kind, namespace: str, body: JSON, *, created: datetime | None = None
    ) -> JSON:
        """POST. `created`, for seeding only: an object that has existed since then."""
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if kind.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        if meta.get("resourceVersion"):
            # etcd3 store.Create refuses it; the handler surfaces that as a 500.
            raise internal("resourceVersion should not be set on objects to be created")
        with self.lock:
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise invalid("metadata.name: Required value: name or generateName is required")
                meta["name"] = _generated(meta["generateName"])
            key = (kind, namespace if kind.namespaced else "", meta["name"])
            if key in self._objects:
                raise already_exists(kind, meta["name"])
            obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = timestamp(created or self.clock())
            if kind.generation:
                meta["generation"] = 1
            return self._write(key, obj, "ADDED")

    def replace(self, kind: Kind, namespace: str, name: str, body: JSON) -> JSON:
        """PUT: a set metadata.resourceVersion is a precondition (409 when stale)."""
        with self.lock:
            return self._update(kind, namespace, name, copy.deepcopy(body))

    def patch(self, kind: Kind, namespace: str, name: str, content_type: str, patch: Any) -> JSON:
        """PATCH: a resourceVersion the patch leaves on the object is a precondition."""
        with self.lock:
            current = self.get(kind, namespace, name)
            return self._update(kind, namespace, name, apply_patch(content_type, current, patch))

    def mutate(self, kind: Kind, namespace: str, name: str, change: Callable[[JSON], None]) -> JSON:
        """A test-side write: `change` edits a copy in place, status included."""
        with self.lock:
            obj = self.get(kind, namespace, name)
            change(obj)
            return self._update(kind, namespace, name, obj, from_api=False)

    def delete(
        self, kind: Kind, namespace: str, name: str, pre: Mapping[str, Any] | None = None
    ) -> JSON:
        with self.lock:
            current = self.get(kind, namespace, name)
            preconditions_hold(kind, current, pre)
            return self._write(self._key(kind, namespace, name), current, "DELETED")

    def _key(self, kind: Kind, namespace: str, name: str) -> Key:
        return (kind, namespace if kind.namespaced else "", name)

    def _update(
        self, kind: Kind, namespace: str, name: str, new: JSON, *, from_api: bool = True
    ) -> JSON:
        current = self.get(kind, namespace, name)
        meta, old = _meta(new), _meta(current)
        if not isinstance(new.get("metadata"), dict):
            new["metadata"] = meta
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                f"({name})"
            )
        if kind.namespaced and meta.get("namespace", namespace) not in ("", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        if meta.get("uid") and meta["uid"] != old["uid"]:
            why = f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
            raise conflict(kind, name, why + old["uid"])
        if meta.get("resourceVersion") and meta["resourceVersion"] != old["resourceVersion"]:
            raise conflict(kind, name)
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        for field in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion"):
            if field in old:
                meta[field] = old[field]
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            meta.pop(field, None)
            if field in old:
                meta[field] = old[field]
        if kind.status_subresource and from_api:
            new.pop("status", None)
            if "status" in current:
                new["status"] = current["status"]
        if new == current:
            return current
        if from_api:
            self._validate_update(kind, current, new)
        if kind.generation and new.get("spec") != current.get("spec"):
            meta["generation"] = int(old.get("generation", 0)) + 1
        return self._write(self._key(kind, namespace, name), new, "MODIFIED")

    def _validate_update(self, kind: Kind, current: JSON, new: JSON) -> None:
        """Refuse an API update the real server would (422); the store refuses none."""

    def _write(self, key: Key, obj: JSON, type_: str) -> JSON:
        """Stamp a new resourceVersion, store, record in history and tell the watches."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if isinstance(obj.get("spec"), dict):
            # Go's omitempty: a null (holderIdentity: null) is no field at all once stored.
            obj["spec"] = _without_nulls(obj["spec"])
        old = self._objects.get(key)
        if type_ == "DELETED":
            self._objects.pop(key, None)
        else:
            self._objects[key] = copy.deepcopy(obj)
        change = Change(self._rv, type_, key[0], key[1], copy.deepcopy(obj), old)
        self._history.append(change)
        while len(self._history) > self._history_limit:
            self._floor = self._history.popleft().rv
        for sub in list(self._subscribers):
            sub.deliver(change)
        return obj

    # Watches.

    def subscribe(self, sub: Subscriber, kind: Kind, since: int | None) -> list[Change]:
        """Register `sub`, returning what it missed: the changes after `since`, or when `since`
        is None the current objects as synthetic ADDED changes. 410 Expired when `since` is
        older than the history kept (the watch cache's "too old resource version")."""
        with self.lock:
            if since is None:
                backlog = [
                    Change(int(_meta(o)["resourceVersion"]), "ADDED", k, ns, copy.deepcopy(o), None)
                    for (k, ns, _), o in sorted(self._objects.items(), key=lambda kv: kv[0][1:])
                    if k == kind
                ]
            elif since < self._floor:
                raise ApiError(410, f"too old resource version: {since} ({self._floor})")
            else:
                backlog = [c for c in self._history if c.rv > since and c.kind == kind]
            self._subscribers.add(sub)
            return backlog

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            self._subscribers.discard(sub)

    @property
    def open_watches(self) -> int:
        with self.lock:
            return len(self._subscribers)

    def end_watches(self, *, abrupt: bool = False) -> None:
        """End every open watch: cleanly (as on the server's timeout) or by cutting the
        connection mid-stream (as when an apiserver dies)."""
        with self.lock:
            for sub in list(self._subscribers):
                sub.end(abrupt=abrupt)
            self._subscribers.clear()

    def send_bookmarks(self) -> None:
        """A BOOKMARK at the current resourceVersion to every watch that asked for them."""
        with self.lock:
            for sub in list(self._subscribers):
                sub.bookmark(self._rv)

    def compact(self) -> None:
        """Forget the history: a watch from any older resourceVersion now gets 410 Gone."""
        with self.lock:
            self._history.clear()
            self._floor = self._rv


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
