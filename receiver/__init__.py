"""Remediation receiver: alerts and heartbeats in, safe and explained pod remediation out."""

__version__ = "0.1.0"
