"""Memory: VmRSS per tracked pod of live servers, against a server with no pods."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from latency import push_all_heartbeats
from measure import scrape, total
from processes import Client
from suite import Settings, receiver


def rss(s: Settings, stack: contextlib.ExitStack) -> dict[str, Any]:
    """VmRSS of live servers: N pods seeded, then every pod tracked after one heartbeat.

    Three readings per server: right after it answers /healthz, before its first tick
    (the in-memory cluster's pods, nothing tracked yet: checked with the tracked-pods
    gauge), then after every pod pushed one heartbeat and two ticks passed (the deadline
    tracker holds an entry per pod). The 0-pod server takes the same pushes for pods it
    does not know, so both run the same code paths.
    """
    out: dict[str, Any] = {}
    for size in [0, *s.rss_sizes]:
        name = f"rss_{size}"
        print(f"\n[{name}] receiver with {size} pods")
        server = receiver(s, name, size)
        stack.callback(server.stop)
        seeded = server.rss_bytes()
        untracked = total(scrape(server.port), "remediation_heartbeat_tracked_pods") == 0
        ns = server.info["namespace"]
        pods = [p for w in sorted(server.info["pods"]) for p in server.info["pods"][w]]
        client = Client(server.port, s.token)
        push_all_heartbeats(client, ns, pods or [f"nobody-{i}" for i in range(1000)])
        client.close()
        time.sleep(2.5)  # ticks: every expected pod watched
        tracked_rss = server.rss_bytes()
        tracked = total(scrape(server.port), "remediation_heartbeat_tracked_pods")
        server.stop()
        out[name] = {
            "pods": size,
            "tracked": tracked,
            "rss_seeded": seeded,
            "rss_seeded_before_first_tick": untracked,
            "rss_tracked": tracked_rss,
        }
        print(
            f"  VmRSS {seeded / 2**20:.1f} MiB seeded"
            f"{'' if untracked else ' (tick had already run)'}, {tracked_rss / 2**20:.1f} MiB "
            f"after every pod beat once; {tracked:.0f} pods tracked"
        )
    base = out["rss_0"]
    for size in s.rss_sizes:
        row = out[f"rss_{size}"]
        row["bytes_per_pod"] = (row["rss_tracked"] - base["rss_tracked"]) / size
        if row["rss_seeded_before_first_tick"] and base["rss_seeded_before_first_tick"]:
            row["cluster_bytes_per_pod"] = (row["rss_seeded"] - base["rss_seeded"]) / size
            row["tracking_bytes_per_pod"] = row["bytes_per_pod"] - row["cluster_bytes_per_pod"]
    return out
