"""bench/server.py with uvicorn's own httptools protocol instead of the receiver's bounded one.

Only for `edge_cost.py`: the receiver as shipped, less what the HTTP edge's
bounds (receiver/service/httptools_limited.py) cost per request.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

import receiver.service.serve

receiver.service.serve.protocol_class = lambda limits: HttpToolsProtocol  # type: ignore[assignment]
sys.argv[0] = str(Path(__file__).with_name("server.py"))
runpy.run_path(sys.argv[0], run_name="__main__")
