"""Throughput figures: the bare endpoint and a receiver side by side, runs alternating.

alerts_repeat, alerts_fresh, heartbeat_single and heartbeat_batch: the same
bodies and wrk script against both servers; the ratio is the median receiver
rate over the median bare rate.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from typing import Any

import payloads
from measure import by_label, scrape, total, wrk
from processes import Client, Proc
from suite import Settings, receiver


def throughput(s: Settings, figure: str, bare: Proc, stack: contextlib.ExitStack) -> dict[str, Any]:
    print(f"\n[{figure}] receiver with {s.fleet} pods in {s.workloads} workloads")
    server = receiver(s, figure, s.fleet)
    stack.callback(server.stop)
    ns = server.info["namespace"]
    by_workload: dict[str, list[str]] = server.info["pods"]
    pods = [p for w in sorted(by_workload) for p in by_workload[w]]
    windows = payloads.alert_windows(by_workload)
    if figure == "alerts_repeat":
        path, mode, per = "/api/v1/alerts", "static", 10
        bodies = [payloads.alert_webhook(ns, windows[0], "2026-01-01T11:58:30.123456789Z")]
    elif figure == "alerts_fresh":
        path, mode, per = "/api/v1/alerts", "fresh", 10
        bodies = [payloads.alert_webhook(ns, w, payloads.FRESH) for w in windows]
    elif figure == "heartbeat_single":
        path, mode, per = "/api/v1/heartbeats", "cycle", 1
        bodies = payloads.heartbeat_lines(ns, pods)
    else:
        path, mode, per = "/api/v1/heartbeats", "cycle", 100
        bodies = payloads.heartbeat_batches(ns, pods, 100)
    file = s.workdir / f"{figure}.bodies"
    file.write_text("\n".join(bodies) + "\n")
    sizes = sorted(len(b) for b in bodies)
    print(f"  {len(bodies)} distinct bodies, {sizes[len(sizes) // 2]} B (median), mode {mode}")

    # One request by hand first: it must be answered 200 with every item taken.
    check = bodies[0].replace(payloads.FRESH, "2026-01-01T11:00:00.000Z")
    client = Client(server.port, s.token)
    status, answer = client.post(path, check)
    client.close()
    checked = json.loads(answer)
    if status != 200:
        raise RuntimeError(f"{figure}: receiver answered {status}: {answer[:500]!r}")
    if "results" in checked and set(r["result"] for r in checked["results"]) != {"accepted"}:
        raise RuntimeError(f"{figure}: not every heartbeat accepted: {answer[:500]!r}")
    if "decisions" in checked and len(checked["decisions"]) != 10:
        raise RuntimeError(f"{figure}: not 10 decisions: {answer[:500]!r}")

    bare_url = f"http://127.0.0.1:{bare.port}{path}"
    url = f"http://127.0.0.1:{server.port}{path}"
    if s.warmup:
        wrk(bare_url, file, mode, s.warmup, s.connections, s.token)
        wrk(url, file, mode, s.warmup, s.connections, s.token)
    before = scrape(server.port)
    runs: list[dict[str, Any]] = []
    for r in range(s.repeats):
        b = wrk(bare_url, file, mode, s.duration, s.connections, s.token, bare)
        x = wrk(url, file, mode, s.duration, s.connections, s.token, server)
        runs.append({"bare": b, "receiver": x})
        print(
            f"  run {r + 1}: bare {b['rate']:8.0f}/s p99 {b['p99_ms']:6.1f} ms | receiver "
            f"{x['rate']:8.0f}/s p50 {x['p50_ms']:6.1f} ms p99 {x['p99_ms']:6.1f} ms "
            f"({x['rate'] / b['rate']:.1%}); server cpu {x['server_cpu']:.2f}, "
            f"core0 other {x['core0_other']:.2f} steal {x['core0_steal']:.2f}, "
            f"errors {x['errors']}/{b['errors']}"
        )
    after = scrape(server.port)
    server.stop()

    result: dict[str, Any] = {
        "path": path,
        "mode": mode,
        "items_per_request": per,
        "distinct_bodies": len(bodies),
        "body_bytes_median": sizes[len(sizes) // 2],
        "runs": runs,
    }
    for who in ("bare", "receiver"):
        result[who] = {
            key: statistics.median(run[who][key] for run in runs)
            for key in ("rate", "p50_ms", "p99_ms")
        }
        result[who]["items_per_s"] = result[who]["rate"] * per
        result[who]["errors"] = sum(run[who]["errors"] for run in runs)
    result["ratio"] = result["receiver"]["rate"] / result["bare"]["rate"]
    result["ratio_per_run"] = [run["receiver"]["rate"] / run["bare"]["rate"] for run in runs]
    result["core0_other_max"] = max(run["receiver"]["core0_other"] for run in runs)
    result["core0_steal_max"] = max(
        run[who]["core0_steal"] for run in runs for who in ("bare", "receiver")
    )
    if path == "/api/v1/alerts":
        signals = total(after, "remediation_signals_received_total", source="alertmanager") - total(
            before, "remediation_signals_received_total", source="alertmanager"
        )
        blocked = by_label(before, after, "remediation_blocked_decisions_total", "reason")
        actions = by_label(before, after, "remediation_actions_total", "outcome")
        result["decisions"] = {
            "signals": signals,
            "blocked_by_reason": blocked,
            "actions_by_outcome": actions,
            "duplicate_share": blocked.get("duplicate", 0.0) / signals if signals else None,
        }
        # Since the server started: the check request and warm-up included.
        result["decisions_since_start"] = {
            "signals": total(after, "remediation_signals_received_total", source="alertmanager"),
            "blocked_by_reason": by_label(
                {}, after, "remediation_blocked_decisions_total", "reason"
            ),
            "actions_by_outcome": by_label({}, after, "remediation_actions_total", "outcome"),
            "escalations": by_label({}, after, "remediation_escalations_total", "cause"),
        }
        print(f"  decisions in the measured runs: {result['decisions']}")
    else:
        beats = by_label(before, after, "remediation_heartbeats_received_total", "status")
        result["heartbeats_counted"] = beats
        missed = total(after, "remediation_heartbeat_deadlines_missed_total")
        result["deadlines_missed"] = missed
    return result
