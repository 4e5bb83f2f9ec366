"""The resource kinds the fake serves, and its errors as the real server's `Status` bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Kind:
    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool = True
    # apps objects count spec changes in metadata.generation.
    generation: bool = False
    # Writes to the main resource leave status alone (it has its own subresource).
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """How the real server names the resource in messages: `pods`, `deployments.apps`."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


POD = Kind("", "v1", "pods", "Pod", status_subresource=True)
EVENT = Kind("", "v1", "events", "Event")
CONFIGMAP = Kind("", "v1", "configmaps", "ConfigMap")
EVENT_V1 = Kind("events.k8s.io", "v1", "events", "Event")
REPLICASET = Kind(
    "apps", "v1", "replicasets", "ReplicaSet", generation=True, status_subresource=True
)
DEPLOYMENT = Kind(
    "apps", "v1", "deployments", "Deployment", generation=True, status_subresource=True
)
STATEFULSET = Kind(
    "apps", "v1", "statefulsets", "StatefulSet", generation=True, status_subresource=True
)
DAEMONSET = Kind("apps", "v1", "daemonsets", "DaemonSet", generation=True, status_subresource=True)
CONTROLLERREVISION = Kind("apps", "v1", "controllerrevisions", "ControllerRevision")
LEASE = Kind("coordination.k8s.io", "v1", "leases", "Lease")
TOKENREVIEW = Kind("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", namespaced=False)

KINDS: tuple[Kind, ...] = (
    POD,
    EVENT,
    CONFIGMAP,
    EVENT_V1,
    REPLICASET,
    DEPLOYMENT,
    STATEFULSET,
    DAEMONSET,
    LEASE,
    TOKENREVIEW,
    CONTROLLERREVISION,
)
_BY_PATH = {(k.group, k.version, k.resource): k for k in KINDS}


def find_kind(group: str, version: str, resource: str) -> Kind | None:
    return _BY_PATH.get((group, version, resource))


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for(code: int) -> str:
    return _REASONS.get(code, "Unknown")


class ApiError(Exception):
    """An error the fake answers with: a `Status` body and its HTTP code."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or reason_for(code)
        self.details = dict(details or {})
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retryAfterSeconds"] = retry_after

    def status(self) -> JSON:
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(kind: Kind, name: str) -> JSON:
    details: JSON = {"name": name, "kind": kind.resource}
    if kind.group:
        details["group"] = kind.group
    return details


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, f'{kind.group_resource} "{name}" not found', details=_details(kind, name))


def already_exists(kind: Kind, name: str) -> ApiError:
    return ApiError(
        409,
        f'{kind.group_resource} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(kind, name),
    )


# The message the real server gives for a stale resourceVersion (storage.NewConflict wording).
MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def conflict(kind: Kind, name: str, why: str = MODIFIED) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {kind.group_resource} "{name}": {why}',
        details=_details(kind, name),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def invalid(message: str) -> ApiError:
    return ApiError(422, message)


def internal(message: str) -> ApiError:
    return ApiError(500, f"Internal error occurred: {message}")


def success(code: int, details: Mapping[str, Any] | None = None) -> JSON:
    """The `Status` the real server answers a successful eviction or a non-pod delete with."""
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": code,
    }
    if details:
        body["details"] = dict(details)
    return body
