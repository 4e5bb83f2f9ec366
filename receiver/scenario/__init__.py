"""Runbook unit tests: a fleet, a timeline of signals, expected actions, on a simulated clock.

spec.py reads the test files, simulation.py plays the cluster around the
real pipeline stages, runner.py compares and reports.
"""
