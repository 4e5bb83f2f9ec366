"""The storm lab: one simulated fleet, the same failures, three remediation policies.

`bench/storm.py` is the command. The modules, each named for its job:

- `world.py`: the fleet, the clock and the five failure scenarios; what every
  policy shares (timings, sampling, the figures of one run);
- `liveness.py`: the kubelet with liveness probes at Kubernetes' defaults;
- `breaker.py`: a kubervisor-style breaker, its ratio over the pods still in
  traffic included;
- `receiver_policy.py`: the remediation receiver itself, driven through its own
  pipeline on the embedded in-memory cluster (the one module to re-point if
  the receiver's entry points move);
- `report.py`: the table (text and markdown), the JSON record, the plots.
"""
