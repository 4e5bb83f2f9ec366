"""What the HTTP edge's bounds cost a heartbeat, in instructions (valgrind's callgrind).

    .venv/bin/python bench/edge_cost.py                 # 1,000 heartbeats, ~3 min
    .venv/bin/python bench/edge_cost.py --requests 300

The receiver as shipped (bench/server.py: header caps, read deadlines and
the connection limit of receiver/service/httptools_limited.py) against the
same receiver on uvicorn's own httptools protocol (server_stock_http.py):
the same heartbeats (~200 B, one pod of 1,000 each, status ok) on one
keep-alive connection, counted after a warm-up as instructions.py counts
webhooks. Instructions, not requests a second, because the machine is
shared and its wall-clock rates move by more than the difference.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import instructions  # noqa: E402
import payloads  # noqa: E402


def heartbeats(figure: str, info: dict[str, object], count: int) -> list[str]:
    by_workload: dict[str, list[str]] = info["pods"]  # type: ignore[assignment]
    pods = [pod for names in by_workload.values() for pod in names]
    namespace = str(info["namespace"])
    return [
        json.dumps(payloads.heartbeat(namespace, pods[n % len(pods)], reason="all good"))
        for n in range(count)
    ]


def post_heartbeat(conn: http.client.HTTPConnection, headers: dict[str, str], body: str) -> None:
    conn.request("POST", "/api/v1/heartbeats", body=body, headers=headers)
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        raise RuntimeError(f"answered {answer.status}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=1500)
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    instructions.bodies = heartbeats  # the counting is instructions.py's; the requests differ
    instructions._post = post_heartbeat
    server = ["--pods", "1000", "--token", instructions.TOKEN, "--log-level", "info"]
    figures = {}
    for name, script in (("stock", "server_stock_http.py"), ("bounded", "server.py")):
        figures[name] = instructions.count(script, server, "heartbeat", args.requests, args.warmup)
        print(f"{name:<8} {figures[name]:>9,.0f} Ir per heartbeat")
    cost = figures["bounded"] / figures["stock"] - 1
    print(f"the bounds cost {cost:.1%} of a heartbeat's instructions")
    if args.out:
        args.out.write_text(json.dumps({**figures, "cost": cost}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
