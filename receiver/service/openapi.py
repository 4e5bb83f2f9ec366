"""The OpenAPI 3.1 document of the HTTP API (openapi.json, shipped in the package).

Written by hand next to the routes in app.py; a test keeps the two in step
(every route documented, nothing documented that is not routed), and
schemathesis fuzzes a live server from it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def document() -> bytes:
    """The document as served at /openapi.json."""
    return resources.files("receiver.service").joinpath("openapi.json").read_bytes()
