"""Reporting back: metrics, the decision log, status, structured logs."""
