"""`remediation_build_info`: which receiver runs, as Prometheus' own build_info does.

A constant 1 with the version and the Python it runs on as labels, so a
dashboard or an alert can tell versions apart during a rollout.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Gauge

from receiver import __version__


def register_build_info(registry: CollectorRegistry) -> None:
    info = Gauge(
        "remediation_build_info",
        "The receiver's version and Python version; always 1.",
        ["version", "python"],
        registry=registry,
    )
    info.labels(__version__, platform.python_version()).set(1)
