"""Acting on decisions: applying plans through the cluster interface, and notifications."""

from receiver.act.apply import ActionResult, Applied, Applier, has_effects
from receiver.act.notify import Notifications
from receiver.model import Outcome

__all__ = ["ActionResult", "Applied", "Applier", "Notifications", "Outcome", "has_effects"]
