"""The stack's own limit: a bare Starlette endpoint that only parses the JSON it is sent.

Same paths as the receiver (POST /api/v1/alerts, POST /api/v1/heartbeats),
same JSON parser (the stdlib's, as receiver.ingest.payload uses), same
uvicorn settings as receiver.service.serve.uvicorn_config: uvloop,
httptools, no access log, one worker. Writes a ready file {"port", "pid"}
once serving.

    python bench/bare.py --ready /tmp/bare.json
"""

from __future__ import annotations

import argparse
import asyncio
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


def app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/v1/alerts", parse, methods=["POST"]),
            Route("/api/v1/heartbeats", parse, methods=["POST"]),
        ]
    )


async def _serve(config: uvicorn.Config, sock: socket.socket, path: Path) -> None:
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            await serving
            return
        await asyncio.sleep(0.02)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": config.port, "pid": os.getpid()}))
    tmp.replace(path)
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app(),
        host="127.0.0.1",
        port=sock.getsockname()[1],
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        log_level="warning",
        lifespan="on",
    )
    asyncio.run(_serve(config, sock, args.ready))


if __name__ == "__main__":
    main()
