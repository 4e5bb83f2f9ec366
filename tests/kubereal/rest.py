"""Raw REST calls through a `kubernetes.client.ApiClient`, answering JSON.

The typed client has no `policy/v1beta1` API in current releases, and tests want to see the
exact bodies the server sends; so the real-server helpers speak paths and dicts.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from kubernetes import client

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"


def rest(
    api: client.ApiClient,
    method: str,
    path: str,
    body: object | None = None,
    *,
    query: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> JSON:
    """The JSON body of one request; ApiException for an error status."""
    config = api.configuration
    url = f"{config.host}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    token = (config.api_key or {}).get("BearerToken")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = api.rest_client.request(
        method, url, headers=headers, body=body, _request_timeout=(5, 30)
    )
    data = response.read()
    if response.status >= 400:
        raise client.ApiException(
            status=response.status, reason=response.reason, body=data.decode(errors="replace")
        )
    return dict(json.loads(data)) if data else {}


def status_of(exc: client.ApiException) -> JSON:
    """The Status body of an error answer."""
    return dict(json.loads(exc.body or "{}"))
