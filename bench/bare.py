"""The stack's own limit: a bare Starlette endpoint that only parses the JSON it is sent.

Same paths as the receiver (POST /api/v1/alerts, POST /api/v1/heartbeats),
the same JSON parser as receiver.ingest.payload (orjson; `--parser json`
for the stdlib's, which the receiver used before orjson), same
uvicorn settings as receiver.service.serve.uvicorn_config: uvloop,
httptools, no access log, one worker, uvicorn binding the port itself.
Writes a ready file {"port", "pid"}; the caller polls GET /healthz.

    python bench/bare.py --ready /tmp/bare.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OK = b'{"status":"ok"}'
PARSERS: dict[str, Callable[[bytes], Any]] = {"orjson": orjson.loads, "json": json.loads}


def app(loads: Callable[[bytes], Any] = orjson.loads) -> Starlette:
    async def parse(request: Request) -> Response:
        loads(await request.body())
        return Response(OK, media_type="application/json")

    return Starlette(
        routes=[
            Route("/api/v1/alerts", parse, methods=["POST"]),
            Route("/api/v1/heartbeats", parse, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def healthz(request: Request) -> Response:
    return Response(OK, media_type="application/json")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--parser", choices=sorted(PARSERS), default="orjson")
    args = parser.parse_args()
    port = free_port()
    tmp = args.ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": port, "pid": os.getpid()}))
    tmp.replace(args.ready)
    uvicorn.run(
        app(PARSERS[args.parser]),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
