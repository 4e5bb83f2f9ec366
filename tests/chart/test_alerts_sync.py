"""The PrometheusRule ships the repository's alert rules: files/alerts/ is a copy of alerts/."""

from __future__ import annotations

import pytest

from .sync_alerts import ALERTS, SHIPPED, rule_files


def test_files_alerts_is_identical_to_the_repositorys_alert_rules() -> None:
    source, shipped = rule_files(ALERTS), rule_files(SHIPPED)
    if not source and not shipped:
        pytest.skip("alerts/ has no rule files yet: nothing for the chart to ship")
    fix = "run: .venv/bin/python tests/chart/sync_alerts.py"
    assert sorted(shipped) == sorted(source), fix
    differ = [name for name in source if shipped[name] != source[name]]
    assert differ == [], fix
