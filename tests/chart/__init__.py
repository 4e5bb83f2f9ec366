"""Tests of the Helm chart in charts/remediation-receiver and of the Dockerfile."""
