"""The escalation alert the receiver posts, as a real Alertmanager takes it: its labels, the
end of the freeze as endsAt, and the link back to the receiver as generatorURL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from receiver.act.notify import Notifications
from receiver.decide import Action, ActionKind, Escalation, Plan
from receiver.metrics import Metrics
from receiver.model import PodKey, Reason
from receiver.runbook.types import Notifier, NotifierKind

from .alertmanager import Alertmanager, AlertmanagerConfig


def test_alertmanager_holds_the_escalation_until_the_freeze_ends(tmp_path: Path) -> None:
    config = AlertmanagerConfig(receiver_url="http://127.0.0.1:9/unused", token="t")
    with Alertmanager(config, workdir=tmp_path) as am:
        at = float(int(time.time()))
        plan = Plan(
            at=at,
            actions=(
                Action(
                    kind=ActionKind.NOTIFY,
                    notifier="oncall",
                    pod=PodKey("shop", "web-1"),
                    supervisor="shop",
                    detail="supervisor shop escalated (intensity) on shop/web-1",
                ),
            ),
            escalations=(
                Escalation(
                    supervisor="shop",
                    cause=Reason.INTENSITY,
                    origin="shop/web-1",
                    frozen_until=at + 1800,
                ),
            ),
        )
        oncall = Notifier(name="oncall", kind=NotifierKind.ALERTMANAGER, url=am.url)
        metrics = Metrics(CollectorRegistry())
        failures: list[str] = []

        async def go() -> None:
            sending = Notifications(
                {"oncall": oncall},
                metrics,
                failed=lambda action, plan, error: failures.append(error),
                external_url="https://receiver.example.com",
            )
            sending.send(plan.actions[0], plan)
            await sending.drain()

        asyncio.run(go())
        assert failures == []
        [alert] = am.alerts()
    assert alert["labels"] == {
        "alertname": "RemediationEscalation",
        "severity": "critical",
        "source": "remediation-receiver",
        "supervisor": "shop",
        "pod": "shop/web-1",
        "cause": "intensity",
        "namespace": "shop",
    }
    assert alert["status"]["state"] == "active"
    assert alert["generatorURL"] == "https://receiver.example.com/supervisors/shop"
    assert alert["annotations"]["link"] == "https://receiver.example.com/supervisors/shop"
    ends = datetime.fromisoformat(alert["endsAt"])
    assert ends == datetime.fromtimestamp(at + 1800, UTC)
