"""The stack's own limit: a bare Starlette endpoint that only parses the JSON it is sent.

Same paths as the receiver (POST /api/v1/alerts, POST /api/v1/heartbeats),
same JSON parser (the stdlib's, as receiver.ingest.payload uses), same
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
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OK = b'{"status":"ok"}'


async def parse(request: Request) -> Response:
    json.loads(await request.body())
    return Response(OK, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(OK, media_type="application/json")


def app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/v1/alerts", parse, methods=["POST"]),
            Route("/api/v1/heartbeats", parse, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args()
    port = free_port()
    tmp = args.ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": port, "pid": os.getpid()}))
    tmp.replace(args.ready)
    uvicorn.run(
        app(),
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
