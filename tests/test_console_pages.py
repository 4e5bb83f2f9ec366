"""The console's routes without a browser: pages, live fragments, 404s, no caching."""

from __future__ import annotations

from pathlib import Path

from service_builders import alert, harness, webhook

AUTH = {"Authorization": "Bearer webhook-token-0123456789"}


def test_pages_and_their_live_fragments(tmp_path: Path) -> None:
    h = harness(tmp_path)
    client = h.client()
    pod = sorted(k.name for k in h.cluster.snapshot().pods)[0]
    client.post("/api/v1/alerts", json=webhook(alert(pod)), headers=AUTH)
    for path in ("/", f"/pods/shop/{pod}", "/supervisors/checkout", "/decisions?pod=" + pod):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "no-store"
        assert page.text.startswith("<!doctype html>")
        assert f"shop/{pod}" in page.text
        fragment = client.get(path + ("&" if "?" in path else "?") + "fragment=live")
        assert fragment.status_code == 200
        assert "<html" not in fragment.text
        assert f"shop/{pod}" in fragment.text


def test_an_unknown_supervisor_is_a_404_that_escapes_its_name(tmp_path: Path) -> None:
    client = harness(tmp_path).client()
    page = client.get("/supervisors/<b>x")
    assert page.status_code == 404
    assert page.text == "no supervisor named &#x27;&lt;b&gt;x&#x27;"


def test_the_decisions_api_filters_like_the_page(tmp_path: Path) -> None:
    h = harness(tmp_path)
    client = h.client()
    first, second = sorted(k.name for k in h.cluster.snapshot().pods)[:2]
    client.post(
        "/api/v1/alerts", json=webhook(alert(first), alert(second, alertname="Other")), headers=AUTH
    )
    every = client.get("/api/v1/decisions").json()["decisions"]
    assert len(every) == 2
    acted = client.get("/api/v1/decisions", params={"outcome": "acted"}).json()["decisions"]
    assert [e["signal"]["target"] for e in acted] == [f"shop/{first}"]
    nothing = client.get("/api/v1/decisions", params={"reason": "no_rule"}).json()["decisions"]
    assert [e["signal"]["target"] for e in nothing] == [f"shop/{second}"]
    bad = client.get("/api/v1/decisions", params={"since": "x"})
    assert bad.status_code == 400


def test_holds_show_in_the_banner_and_on_the_pages_they_cover(tmp_path: Path) -> None:
    h = harness(tmp_path)
    client = h.client()
    pods = sorted(k.name for k in h.cluster.snapshot().pods)
    reason = "checking the <b>leak</b>"  # set by an operator: escaped like everything else
    on_pod = {"pod": f"shop/{pods[0]}", "for": "90m", "reason": reason, "author": "alice"}
    on_sup = {"supervisor": "checkout", "for": "2h", "reason": "migration"}
    pod_hold = client.post("/api/v1/holds", json=on_pod, headers=AUTH).json()["hold"]["id"]
    sup_hold = client.post("/api/v1/holds", json=on_sup, headers=AUTH).json()["hold"]["id"]

    banner = client.get("/").text
    assert (
        f"pod shop/{pods[0]} is held by alice via token 1 for another 1h30m: checking the "
        "&lt;b&gt;leak&lt;/b&gt;; automation is off there until then or until "
        f"`receiver unhold {pod_hold}`"
    ) in banner
    assert "<b>leak" not in banner
    assert "supervisor checkout is held by token 1 for another 2h: migration" in banner

    held_pod = client.get(f"/pods/shop/{pods[0]}").text
    assert f"receiver unhold {pod_hold}" in held_pod
    assert f"receiver unhold {sup_hold}" in held_pod  # its supervisor's hold covers it
    other_pod = client.get(f"/pods/shop/{pods[1]}").text
    assert f"receiver unhold {pod_hold}" not in other_pod
    assert f"receiver unhold {sup_hold}" in other_pod
    supervisor = client.get("/supervisors/checkout").text
    assert f"receiver unhold {sup_hold}" in supervisor
    assert f"receiver unhold {pod_hold}" not in supervisor

    client.delete(f"/api/v1/holds/{sup_hold}", headers=AUTH)
    assert f"receiver unhold {sup_hold}" not in client.get(f"/pods/shop/{pods[1]}").text
