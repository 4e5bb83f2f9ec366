"""The node relay in the chart: off by default; on, one per node, without identity or rights."""

from __future__ import annotations

from .cases import VALUE_SETS
from .render import FULLNAME, NAMESPACE, render

RELAY = f"{FULLNAME}-relay"


def test_the_relay_is_off_by_default() -> None:
    rendered = render()
    assert "DaemonSet" not in rendered.kinds()
    assert [s["metadata"]["name"] for s in rendered.all("Service")] == [FULLNAME]


def test_the_relay_forwards_to_the_receiver_service_and_listens_on_its_port() -> None:
    rendered = render({"relay": {"enabled": True}})
    pod = rendered.one("DaemonSet", RELAY)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "receiver.agent.relay"]
    assert container["args"] == [
        "--upstream", f"http://{FULLNAME}.{NAMESPACE}.svc:8080/api/v1/heartbeats",
        "--listen", "0.0.0.0:8090", "--flush", "500ms", "--max-batch", "200",
    ]  # fmt: skip
    assert container["ports"] == [{"name": "relay", "containerPort": 8090, "protocol": "TCP"}]


def test_the_relay_has_no_identity_of_its_own() -> None:
    rendered = render(VALUE_SETS["everything-on"])
    pod = rendered.one("DaemonSet", RELAY)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod
    assert "volumes" not in pod
    bound = [
        s["name"] for b in rendered.all("RoleBinding") + rendered.all("ClusterRoleBinding")
        for s in b["subjects"]
    ]  # fmt: skip
    assert all("relay" not in name for name in bound)


def test_each_pod_reaches_the_relay_on_its_own_node_and_never_the_receivers_selector() -> None:
    rendered = render({"relay": {"enabled": True}})
    relay_service = rendered.one("Service", RELAY)["spec"]
    assert relay_service["internalTrafficPolicy"] == "Local"
    relay_pods = rendered.one("DaemonSet", RELAY)["spec"]["template"]["metadata"]["labels"]
    assert relay_service["selector"].items() <= relay_pods.items()
    # The receiver's Service and PodDisruptionBudget must not select the relay's pods.
    for selector in (
        rendered.one("Service", FULLNAME)["spec"]["selector"],
        rendered.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ):
        assert not selector.items() <= relay_pods.items()
