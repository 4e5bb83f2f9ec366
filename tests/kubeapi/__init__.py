"""A fake Kubernetes API server, served over real HTTP for tests of the Kubernetes adapter.

Start it with `fake_kube_api()` (or the `kube_api` fixture in `kubeapi.fixtures`); seed and
inspect objects, budgets and watches through `FakeKubeApi.cluster`, register TokenReview tokens
through `.tokens`, inject faults through `.faults`, and read which calls were made (with their
RBAC verbs) from `.requests`.
"""

from .cluster import FakeCluster
from .harness import FakeKubeApi, fake_kube_api
from .kinds import (
    CONFIGMAP,
    CONTROLLERREVISION,
    DAEMONSET,
    DEPLOYMENT,
    EVENT,
    LEASE,
    POD,
    REPLICASET,
    STATEFULSET,
    ApiError,
    Kind,
)
from .tokens import API_AUDIENCE, TokenReviews
from .traffic import Faults, LoggedRequest, RequestLog

__all__ = [
    "API_AUDIENCE",
    "CONFIGMAP",
    "CONTROLLERREVISION",
    "DAEMONSET",
    "DEPLOYMENT",
    "EVENT",
    "LEASE",
    "POD",
    "REPLICASET",
    "STATEFULSET",
    "ApiError",
    "FakeCluster",
    "FakeKubeApi",
    "Faults",
    "Kind",
    "LoggedRequest",
    "RequestLog",
    "TokenReviews",
    "fake_kube_api",
]
