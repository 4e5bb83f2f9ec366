"""How a pod leaves and rejoins traffic: its traffic label, or its readiness gate.

`drainBy: label` (the default) relabels the pod `<trafficLabel>: off|paused|on`;
Services that select `"on"` follow. `drainBy: readinessGate` sets the pod's
`remediation/traffic` condition instead (the pod lists it in
spec.readinessGates): the kubelet marks the pod not Ready, so every Service,
EndpointSlice and PodDisruptionBudget agrees without a selector change.

A pod that declares the gate has it follow its traffic in either mode, so a
pod drained by label is not Ready either. A pod that does not declare it is
relabelled even under readinessGate, with a warning: a condition it does not
list would change nothing. A restore under readinessGate also puts a label
left "off" by an earlier label drain back "on" (the runbook may have changed
between the drain and the restore).
"""

from __future__ import annotations

import logging

from receiver.cluster import PodPatch, Traffic
from receiver.decide.drain_by import drain_by
from receiver.model import Lifecycle, Pod, PodKey
from receiver.runbook import Runbook
from receiver.runbook.types import DrainBy

log = logging.getLogger(__name__)


def pod_patch(
    runbook: Runbook,
    key: PodKey,
    pod: Pod | None,
    lifecycle: Lifecycle | None,
    traffic: Traffic | None,
) -> PodPatch:
    """The write for `key`: its lifecycle, and its traffic as its drainBy says."""
    label = runbook.settings.traffic_label
    plain = PodPatch(key=key, lifecycle=lifecycle, traffic=traffic, traffic_label=label)
    if traffic is None or pod is None:
        return plain
    gate = traffic is Traffic.ON
    if drain_by(runbook, pod) is not DrainBy.READINESS_GATE:
        return (
            plain
            if pod.gate is None
            else PodPatch(
                key=key, lifecycle=lifecycle, traffic=traffic, traffic_label=label, gate=gate
            )
        )
    if pod.gate is None:
        log.warning(
            "pod %s: drainBy readinessGate, but the pod does not list the readiness gate "
            "remediation/traffic in spec.readinessGates; relabelled instead",
            key,
        )
        return plain
    stale_label = pod.labels.get(label) not in (None, str(Traffic.ON))
    relabel = Traffic.ON if gate and stale_label else None
    return PodPatch(key=key, lifecycle=lifecycle, traffic=relabel, traffic_label=label, gate=gate)
