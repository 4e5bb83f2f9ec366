"""ServiceMonitor, PrometheusRule, AlertmanagerConfig, NetworkPolicy and the Grafana dashboard."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from receiver.metrics import Metrics

from .cases import EVERYTHING, EXTRA_GROUP
from .render import CHART, FULLNAME, NAMESPACE, REPO, render


def test_service_monitor_scrapes_every_replica_through_the_metrics_service() -> None:
    rendered = render(EVERYTHING)
    monitor = rendered.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        s for s in rendered.all("Service") if selector.items() <= s["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in selected] == [f"{FULLNAME}-metrics"]
    metrics = selected[0]["spec"]
    # Standbys are not Ready; they are scraped too (remediation_leader 0 shows a missing leader).
    assert metrics["publishNotReadyAddresses"] is True
    assert metrics["clusterIP"] == "None"
    pod_labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert metrics["selector"].items() <= pod_labels.items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def _rule_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))


def test_prometheus_rule_has_the_groups_of_files_alerts_then_additional() -> None:
    shipped = [
        group["name"]
        for path in _rule_files(CHART / "files" / "alerts")
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    ]
    groups = render(EVERYTHING).one("PrometheusRule")["spec"]["groups"]
    assert [g["name"] for g in groups] == [*shipped, EXTRA_GROUP["name"]]
    assert groups[-1] == EXTRA_GROUP


def test_prometheus_rule_reads_every_rule_file_under_files_alerts(tmp_path: Path) -> None:
    chart = tmp_path / "remediation-receiver"
    shutil.copytree(CHART, chart)
    alerts = chart / "files" / "alerts"
    shutil.rmtree(alerts)
    (alerts / "receiver").mkdir(parents=True)
    (alerts / "fleet.yaml").write_text(
        "groups:\n  - name: fleet\n    rules:\n      - alert: PodErrorRatioOutlier\n"
        "        expr: vector(1)\n"
        "        annotations:\n          summary: '{{ $labels.pod }} errs'\n"
    )
    (alerts / "receiver" / "self.yml").write_text(
        "groups:\n  - name: self\n    rules:\n      - record: x:y\n        expr: vector(1)\n"
    )
    (alerts / "README.md").write_text("not a rule file")
    rendered = render({"prometheusRule": {"enabled": True}}, chart=chart)
    groups = rendered.one("PrometheusRule")["spec"]["groups"]
    assert [g["name"] for g in groups] == ["fleet", "self"]
    # Alert templates are Prometheus', not Helm's: they arrive untouched.
    assert groups[0]["rules"][0]["annotations"]["summary"] == "{{ $labels.pod }} errs"


def test_alertmanager_config_routes_to_the_receiver() -> None:
    rendered = render(EVERYTHING)
    spec = rendered.one("AlertmanagerConfig")["spec"]
    route = spec["route"]
    (receiver,) = spec["receivers"]
    assert route["receiver"] == receiver["name"]
    assert route["matchers"] == [{"name": "remediation", "value": "true", "matchType": "="}]
    assert route["groupBy"] == ["alertname", "namespace"]
    (webhook,) = receiver["webhookConfigs"]
    service = rendered.one("Service", FULLNAME)
    port = service["spec"]["ports"][0]["port"]
    assert webhook["url"] == f"http://{FULLNAME}.{NAMESPACE}.svc:{port}/api/v1/alerts"
    assert webhook["sendResolved"] is True
    assert webhook["maxAlerts"] == 0


def test_network_policy_lets_the_peers_reach_the_http_port_only() -> None:
    rendered = render(EVERYTHING)
    spec = rendered.one("NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["from"] == EVERYTHING["networkPolicy"]["from"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    pod_labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()


# The dashboard


def _dashboard() -> tuple[dict[str, Any], dict[str, Any]]:
    configmap = render(EVERYTHING).one("ConfigMap", f"{FULLNAME}-dashboard")
    (text,) = configmap["data"].values()
    return configmap, json.loads(text)


def _exposed_series() -> set[str]:
    """Every series name the receiver exposes: its counters and its gauges (report/gauges.py)."""
    registry = CollectorRegistry()
    Metrics(registry)
    names = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    source = (REPO / "receiver" / "report" / "gauges.py").read_text(encoding="utf-8")
    names |= set(re.findall(r'GaugeMetricFamily\(\s*"(remediation_\w+)"', source))
    # Exposed by the Kubernetes adapter.
    names |= {"remediation_kubernetes_requests_total", "remediation_leader"}
    return names


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_configmap_is_found_by_grafana() -> None:
    configmap, dashboard = _dashboard()
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "grafana"
    assert dashboard["uid"] == "remediation-receiver"
    assert dashboard == json.loads((CHART / "files" / "dashboard.json").read_text(encoding="utf-8"))


def test_dashboard_queries_only_series_the_receiver_exposes() -> None:
    _, dashboard = _dashboard()
    exposed = _exposed_series()
    used = {
        name for query in _queries(dashboard) for name in re.findall(r"\bremediation_\w+", query)
    }
    assert used - exposed == set()


def test_dashboard_shows_what_an_operator_needs() -> None:
    _, dashboard = _dashboard()
    queries = "\n".join(_queries(dashboard))
    for needed in (
        r"sum by \(source, name, status\) \(rate\(remediation_signals_received_total",
        r"sum by \(outcome\) \(rate\(remediation_actions_total",
        r"sum by \(reason\) \(rate\(remediation_blocked_decisions_total",
        r"sum by \(state\) \(remediation_pods\{",
        r"remediation_escalations_total",
        r"histogram_quantile\(0\.99, sum by \(le\) \("
        r"rate\(remediation_signal_to_action_seconds_bucket",
        r"sum by \(verb, code\) \(rate\(remediation_kubernetes_requests_total",
        r"remediation_leader",
    ):
        assert re.search(needed, queries), needed


def test_dashboard_panels_are_well_formed() -> None:
    _, dashboard = _dashboard()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "job"}
