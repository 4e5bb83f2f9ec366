"""Where the receiver finds its cluster: a kubeconfig, or the pod's service account."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from kubernetes import client, config

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def api_client(kubeconfig: Path | None) -> client.ApiClient:
    """An API client from `kubeconfig`, or the in-cluster config when None.

    Raises config.ConfigException with the reason when neither works.
    """
    configuration = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
    else:
        config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    return client.ApiClient(configuration)


def own_namespace(given: str | None) -> str:
    """The receiver's namespace: --namespace, $POD_NAMESPACE, the service account's, or default."""
    if given:
        return given
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def own_identity(given: str | None) -> str:
    """This replica's name in the Lease: --identity, $POD_NAME, or the host name."""
    return given or os.environ.get("POD_NAME") or socket.gethostname()


def own_pod(given: str | None) -> str | None:
    """This replica's pod (labelled while it leads): given, $POD_NAME, or None outside a pod."""
    return given or os.environ.get("POD_NAME") or None
