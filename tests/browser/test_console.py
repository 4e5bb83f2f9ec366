"""What an operator sees on the console in a real browser: a drain, a systemic outage, a dry-run.

Each test drives a live `receiver serve` over its webhook API, the way
Alertmanager would, and reads the pages as a person would: the banner, the
fleets' guard usage, the pods grouped by state with why, the pod and
supervisor pages and the decision log with its filters.
"""

from __future__ import annotations

import re
from pathlib import Path

from live_receiver import alert, receiver
from playwright.sync_api import Page, expect

from browser.artifacts import shot

ACTED = "rgb(26, 127, 55)"
HELD = "rgb(179, 89, 0)"
BAD = "rgb(207, 34, 46)"
DRY = "rgb(130, 80, 223)"


def border(page: Page, selector: str) -> str:
    return str(page.eval_on_selector(selector, "e => getComputedStyle(e).borderLeftColor"))


def test_a_drain_shows_up_without_a_reload_with_its_guard_usage_and_history(
    tmp_path: Path, page: Page
) -> None:
    with receiver(tmp_path) as live:
        page.goto(live.base + "/")
        expect(page.locator("#banner")).to_contain_text("nothing needs a human")
        expect(page.locator("#fleets")).to_contain_text("unavailable 0 of 2")
        live.alerts(alert("checkout-1"), alert("checkout-2", name="SomethingElse"))

        # The live region updates in place: no navigation, the new state appears.
        card = page.locator('.pod[data-pod="shop/checkout-1"]')
        expect(card).to_contain_text("drained", timeout=15_000)
        expect(card).to_contain_text("out (drained)")
        expect(card).to_contain_text("error-outlier, attempt 1")
        expect(card).to_contain_text(re.compile(r"back in traffic, on probation in (10m|9m \d+s)"))
        expect(page.locator("#fleets")).to_contain_text("unavailable 1 of 2")
        assert page.evaluate("document.getElementById('live').dataset.updated") is not None
        row = page.locator("tr.decision").first
        expect(row).to_contain_text("drain shop/checkout-1")
        expect(row.locator(".tag")).to_have_text("acted")
        assert border(page, "tr.decision .k") == ACTED
        # Relative time on the page, the absolute one on hover.
        when = row.locator("time")
        expect(when).to_have_text(re.compile(r"^(now|\d+s ago)$"))
        expect(when).to_have_attribute(
            "title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$")
        )
        # The overview leaves out what led nowhere; the log has it.
        expect(page.locator("table.decisions")).not_to_contain_text("no_rule")
        shot(page, "drain-console")

        card.get_by_role("link", name="shop/checkout-1").click()
        expect(page).to_have_url(live.base + "/pods/shop/checkout-1")
        expect(page.locator("tr.decision")).to_have_count(1)
        expect(page.locator("tr.decision")).to_contain_text("step 1 of rule error-outlier")
        shot(page, "drain-pod")

        page.goto(live.base + "/decisions")
        expect(page.locator("tr.decision")).to_have_count(2)
        page.select_option("select[name=outcome]", "nothing")
        page.get_by_role("button", name="filter").click()
        expect(page).to_have_url(re.compile(r"outcome=nothing"))
        expect(page.locator("tr.decision")).to_have_count(1)
        expect(page.locator("tr.decision")).to_contain_text("nothing to do (no_rule)")
        assert border(page, "tr.decision .k") == "rgb(110, 119, 129)"
        page.goto(live.base + "/decisions?fleet=shop/statefulset/checkout&rule=error-outlier")
        expect(page.locator("tr.decision")).to_have_count(1)
        page.goto(live.base + "/decisions?reason=no_rule&pod=checkout-1")
        expect(page.locator("tr.decision")).to_have_count(0)
        expect(page.locator("#live")).to_contain_text("no decision matches these filters")


def test_a_systemic_outage_is_a_banner_with_the_freeze_and_held_pods_say_why(
    tmp_path: Path, page: Page
) -> None:
    with receiver(tmp_path) as live:
        # Four of six pods at once, more than maxUnhealthy 50%: the batch is
        # seen as a whole, so no pod is acted on and the supervisor escalates.
        live.alerts(*(alert(f"checkout-{i}") for i in range(4)))
        page.goto(live.base + "/")
        banner = page.locator("#banner li")
        expect(banner.nth(0)).to_contain_text("supervisor checkout is frozen for another")
        expect(banner.nth(0)).to_contain_text("escalated (systemic)")
        expect(banner.nth(1)).to_contain_text(
            "fleet shop/statefulset/checkout is held as systemic: 4 of 6 pods signalling"
        )
        assert border(page, "#banner li") == BAD
        expect(page.locator("#fleets")).to_contain_text("signalling 4 of 6, systemic above 3")
        expect(page.locator("#fleets")).to_contain_text("unavailable 0 of 2")
        expect(page.locator("h3.group")).to_have_text(["serving but signalling or not Ready (4)"])
        first = page.locator('.pod[data-pod="shop/checkout-0"]')
        expect(first).to_contain_text("trafficin")
        expect(first).to_contain_text("held drain (systemic)")
        expect(first).to_contain_text("4 of 6 pods in the fleet are signalling")
        held = page.locator('.pod[data-pod="shop/checkout-2"]')
        expect(held).to_contain_text("(frozen) supervisor checkout is frozen for another")
        expect(held).to_contain_text("an action nowheld by frozen")
        assert border(page, '.pod[data-pod="shop/checkout-2"] dd.k') == HELD
        escalated = page.locator('tr.decision[data-kind="escalated"]')
        expect(escalated).to_have_count(1)
        assert border(page, 'tr.decision[data-kind="escalated"] .k-escalated') == BAD
        shot(page, "systemic-console")

        page.goto(live.base + "/supervisors/checkout")
        expect(page.locator(".banner .bad")).to_contain_text("receiver reset checkout")
        expect(page.locator("#supervisors")).to_contain_text("frozen, thaws in")
        expect(page.locator('tr.decision[data-kind="escalated"]')).to_have_count(1)
        expect(page.locator("tr.decision")).to_have_count(4)
        shot(page, "systemic-supervisor")


def test_a_dry_run_is_visibly_distinct(tmp_path: Path, page: Page) -> None:
    with receiver(tmp_path, "--dry-run") as live:
        live.alerts(alert("checkout-1"))
        page.goto(live.base + "/")
        expect(page.locator("header .tag-dry_run")).to_have_text("dry-run")
        expect(page.locator("#banner")).to_contain_text(
            "dry-run: every decision is made and reported, nothing is changed"
        )
        row = page.locator("tr.decision").first
        expect(row.locator(".tag").first).to_have_text("dry-run")
        expect(row).to_contain_text("would drain shop/checkout-1 (dry_run")
        assert border(page, "tr.decision .k") == DRY
        style = page.eval_on_selector("tr.decision .k", "e => getComputedStyle(e).borderLeftStyle")
        assert style == "dashed"
        expect(page.locator('.pod[data-pod="shop/checkout-1"]')).to_contain_text(
            "in dry-run would be out (drained)"
        )
        shot(page, "dry-run-console")


def test_on_a_phone_without_javascript_it_reads_and_filters(tmp_path: Path, phone: Page) -> None:
    with receiver(tmp_path) as live:
        live.alerts(*(alert(f"checkout-{i}") for i in range(4)))
        phone.goto(live.base + "/")
        expect(phone.locator("#banner")).to_contain_text("supervisor checkout is frozen")
        # Nothing wider than the screen: tables stack their cells.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "systemic-phone")
        phone.goto(live.base + "/decisions")
        phone.fill("input[name=pod]", "checkout-0")
        phone.get_by_role("button", name="filter").click()
        expect(phone).to_have_url(re.compile(r"pod=checkout-0"))
        expect(phone.locator("tr.decision")).to_have_count(1)
        expect(phone.locator("tr.decision")).to_contain_text("escalation")


def test_an_operator_hold_shows_in_the_banner_and_on_the_pod_page_until_lifted(
    tmp_path: Path, page: Page
) -> None:
    with receiver(tmp_path) as live:
        page.goto(live.base + "/")
        expect(page.locator("#banner")).to_contain_text("nothing needs a human")
        hold = live.request(
            "POST",
            "/api/v1/holds",
            {"pod": "shop/checkout-1", "for": "2h", "reason": "heap dump", "author": "alice"},
        )["hold"]
        banner = page.locator("#banner li.warn")
        expect(banner).to_contain_text(
            "pod shop/checkout-1 is held by alice via token 1 for another", timeout=15_000
        )
        expect(banner).to_contain_text(f"receiver unhold {hold['id']}")
        live.alerts(alert("checkout-1"))
        row = page.locator("tr.decision").first
        expect(row).to_contain_text("shop/checkout-1", timeout=15_000)
        expect(row.locator(".tag")).to_have_text("held")
        assert border(page, "tr.decision .k") == HELD
        shot(page, "hold-console")

        banner.get_by_role("link", name="details").click()
        expect(page).to_have_url(live.base + "/pods/shop/checkout-1")
        expect(page.locator("#holds")).to_contain_text("held by alice via token 1")
        expect(page.locator("#holds")).to_contain_text(f"receiver unhold {hold['id']}")
        live.request("DELETE", f"/api/v1/holds/{hold['id']}")
        expect(page.locator("#holds")).to_have_count(0, timeout=15_000)
