"""What a storm-lab run reports: a table (text or markdown), a JSON record, PNG plots."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from . import world
from .world import ONSET, SCENARIOS, Trace

COLUMNS = (
    ("restarts", "restarts"),
    ("min_in_traffic", "min in traffic"),
    ("mean_in_traffic", "mean in traffic"),
    ("bad_pod_out_after_s", "bad pod out after"),
    ("escalations", "escalations"),
)
POLICY_TITLES = {
    "liveness": "liveness probes",
    "breaker": "kubervisor-style breaker",
    "receiver": "remediation receiver",
}
COLOURS = {"liveness": "tab:red", "breaker": "tab:orange", "receiver": "tab:blue"}
STYLES = {"liveness": "-", "breaker": "--", "receiver": ":"}
"""Policies that do the same draw on top of each other; the dashes keep each one visible."""


def _shown(key: str, value: Any, scenario: str) -> str:
    if key == "bad_pod_out_after_s":
        if SCENARIOS[scenario].bad_slot is None:
            return "n/a"
        return "never" if value is None else f"{value:g} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def rows(traces: list[Trace]) -> list[list[str]]:
    out = []
    for trace in traces:
        figures = trace.figures()
        out.append(
            [SCENARIOS[trace.scenario].title, POLICY_TITLES[trace.policy]]
            + [_shown(key, figures[key], trace.scenario) for key, _ in COLUMNS]
        )
    return out


def markdown(traces: list[Trace]) -> str:
    head = ["scenario", "policy"] + [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    previous = None
    for row in rows(traces):
        scenario = row[0] if row[0] != previous else ""
        previous = row[0]
        lines.append("| " + " | ".join([scenario, *row[1:]]) + " |")
    return "\n".join(lines)


def text(traces: list[Trace]) -> str:
    head = ["scenario", "policy"] + [title for _, title in COLUMNS]
    table = [head, *rows(traces)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    out = []
    for r in table:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:], widths[2:], strict=True)]
        out.append("  ".join(cells))
    return "\n".join(out)


def record(traces: list[Trace], source: dict[str, Any], elapsed: float) -> dict[str, Any]:
    return {
        "source": source,
        "elapsed_s": round(elapsed, 1),
        "world": {
            "pods": world.PODS,
            "step_s": world.STEP,
            "start_s": world.START,
            "terminate_s": world.TERMINATE,
            "onset_s": ONSET,
            "scenarios": {
                s.name: {
                    "title": s.title,
                    "duration_s": s.duration,
                    "bad_slot": s.bad_slot,
                    "partition": s.partition,
                    "outage_pods": len(s.outage_slots),
                }
                for s in SCENARIOS.values()
            },
        },
        "runs": [
            {
                "scenario": t.scenario,
                "policy": t.policy,
                "figures": t.figures(),
                "series": {  # one value per simulated second from 0 s
                    "in_traffic": t.in_traffic,
                    "sick_in_traffic": t.sick_in_traffic,
                    "restarts": t.restarts,
                },
            }
            for t in traces
        ],
    }


def dumps(data: dict[str, Any]) -> str:
    """Indented JSON with each list of numbers on one line (the series are long)."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[([-0-9.,\s]+)\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)


def plot(traces: list[Trace], directory: Path) -> list[Path]:
    """One PNG per scenario: pods in traffic (top) and restarts (bottom) over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in dict.fromkeys(t.scenario for t in traces):
        scenario = SCENARIOS[name]
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6.5), dpi=100)
        for t in (t for t in traces if t.scenario == name):
            minutes = [x / 60 for x in t.times]
            colour, label = COLOURS[t.policy], POLICY_TITLES[t.policy]
            style = STYLES[t.policy]
            top.step(
                minutes, t.in_traffic, where="post", color=colour, label=label, ls=style, lw=1.8
            )
            bottom.step(
                minutes, t.restarts, where="post", color=colour, label=label, ls=style, lw=1.8
            )
        for ax in (top, bottom):
            ax.axvline(ONSET / 60, color="grey", linestyle=":", linewidth=1)
            if scenario.partition:
                ax.axvspan(*(x / 60 for x in scenario.partition), color="grey", alpha=0.12)
            if scenario.outage_slots:
                ax.axvspan(ONSET / 60, (ONSET + 300) / 60, color="grey", alpha=0.12)
            ax.grid(True, alpha=0.3)
            ax.yaxis.get_major_locator().set_params(integer=True)
        lowest = min(min(t.in_traffic) for t in traces if t.scenario == name)
        top.set_ylim(*((lowest - 4, 100.9) if lowest >= 90 else (0, 105)))
        top.set_ylabel("pods in traffic (of 100)")
        top.set_title(f"{scenario.title}")
        top.legend(loc="lower left", fontsize=9)
        bottom.set_ylabel("restarts (cumulative)")
        bottom.set_xlabel("minutes (trouble starts at the dotted line; shaded: the event)")
        fig.tight_layout()
        path = directory / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
