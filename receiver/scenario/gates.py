"""Readiness gates in a replay: the readiness the replay's own decisions make.

A pod that declares the receiver's readiness gate (`remediation/traffic`) is
Ready while the pod says it is ready and the gate is open (the kubelet's
rule). The recording's gate writes made part of the readiness its journal
shows; the replay makes its own writes, so it keeps the two apart:

- what the pod reported of itself is taken from the recorded lines where the
  recording's gate was open and the change was not its own gate write (a
  `drain`, `pause` or `restore` cause): while that gate was shut, recorded
  readiness says nothing of the pod;
- the gate is the replay's: a live drain, pause or restart shuts it, a
  restore opens it, and a pod in traffic with its gate shut (a new pod) has
  it opened, as the leader does (kube/cluster.py, reconcile_gates).

A pod that does not declare the gate has the recorded readiness as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from receiver.model import Pod, PodKey
from receiver.model.fleet import gate_shut_in_traffic


class Gates:
    """What each gated pod last reported of itself, and the readiness it has in the replay."""

    def __init__(self, pods: Mapping[PodKey, Pod]) -> None:
        self._reported = {key: pod.ready for key, pod in pods.items() if pod.gate is True}

    def seen(self, old: Pod | None, recorded: Pod, pod: Pod, *, own: bool) -> Pod:
        """`pod` (the recorded facts the replay takes, with its own gate where it knew the
        pod) with its readiness; `own`: the recorded change followed a gate write."""
        if pod.gate is None:
            return pod
        key, fresh = pod.key, old is None or old.uid != recorded.uid
        if fresh:
            self._reported.pop(key, None)
        if not own and recorded.gate is not False:
            self._reported[key] = recorded.ready
        gate = True if gate_shut_in_traffic(pod) else pod.gate
        unknown = recorded.ready if fresh or old is None else old.ready
        reported = self._reported.get(key, unknown)
        return replace(pod, gate=gate, ready=gate and reported and not pod.terminating)

    def written(self, pod: Pod, *, open_: bool) -> Pod:
        """The replay's own write of `pod`'s gate, and what the kubelet makes of it."""
        if pod.gate is None:
            return pod
        reported = self._reported.get(pod.key, pod.started_at is not None)
        return replace(pod, gate=open_, ready=open_ and reported and not pod.terminating)

    def forget(self, key: PodKey) -> None:
        """The pod is gone or replaced: what it reported was about another pod."""
        self._reported.pop(key, None)
