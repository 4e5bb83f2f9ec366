from .fixtures import core, kube_api, kube_client

__all__ = ["core", "kube_api", "kube_client"]
