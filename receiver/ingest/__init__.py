"""How signals enter: Alertmanager webhooks, heartbeat pushes, heartbeat deadlines."""

from receiver.ingest.deadlines import Change, DeadlineTracker
from receiver.ingest.heartbeats import Beat, parse_heartbeats
from receiver.ingest.payload import PayloadInvalid
from receiver.ingest.webhook import Notification, parse_webhook

__all__ = [
    "Beat",
    "Change",
    "DeadlineTracker",
    "Notification",
    "PayloadInvalid",
    "parse_heartbeats",
    "parse_webhook",
]
