"""The renewal pipeline chart and the customer's Timeline tab in a real browser: the chart
draws at the top of the renewals overview (bars with a size on screen), its table fallback
opens from the keyboard, and the Timeline tab swaps in through htmx without a reload.

Dates: the app's "today" is TODAY (29 November 2026); anniversaries are placed around it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, open_customer, sign_in
from tests.browser.test_orders_and_returns import db_work, record_first_order
from tests.browser.test_purchase_authorizations import screenshot
from tests.conftest import TODAY, product_id
from vip.extensions import db

pytestmark = pytest.mark.browser


def add_customers(app, tenant, anniversaries: dict[str, tuple[date, int]]) -> None:
    """Customers of `tenant` whose current term (Photoshop × quantity) runs to the date."""
    from vip.models import CustomerStatus, Order, OrderLine, OrderStatus, OrderType, User
    from vip.services.customers import create_customer
    from vip.services.terms import add_months

    def work():
        for number, (name, (anniversary, quantity)) in enumerate(anniversaries.items(), 1):
            customer = create_customer(
                user=db.session.get(User, tenant.admin.id),
                today=TODAY,
                company_name=name,
                country="SE",
                market_segment="commercial",
                admin_name="Kund Admin",
                admin_email=f"it{number}@pipeline-browser.example",
                admin_language="sv",
            )
            order = Order(
                customer_id=customer.id,
                vendor_order_number=f"PB{number:08d}",
                order_type=OrderType.NEW,
                order_date=add_months(anniversary, -12),
                duration_months=12,
                term_ends_on=anniversary,
                status=OrderStatus.PLACED,
            )
            db.session.add(order)
            db.session.add(
                OrderLine(
                    order=order,
                    product_id=product_id("Photoshop", "team", "commercial"),
                    sku="SKU-PS",
                    quantity=quantity,
                    status=OrderStatus.PLACED,
                )
            )
            customer.anniversary_date = anniversary
            customer.status = CustomerStatus.ACTIVE
        db.session.commit()

    db_work(app, work)


@pytest.fixture
def pipeline_customers(app, tenants):
    add_customers(
        app,
        tenants.a,
        {
            "Alfa AB": (TODAY - timedelta(days=10), 5),  # overdue (in grace)
            "Bravo AB": (TODAY + timedelta(days=12), 8),  # window open
            "Charlie AB": (TODAY + timedelta(days=40), 3),  # upcoming, next month
            "Delta AB": (date(2027, 6, 15), 12),  # upcoming
        },
    )


def test_the_chart_draws_on_the_renewals_overview(page, live_server, tenants, pipeline_customers):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/renewals")

    pipeline = page.locator("#renewal-pipeline")
    expect(pipeline).to_be_visible()
    for measure in ("customers", "licenses"):
        chart = page.locator(f"#pipeline-{measure} svg[role=img]")
        box = chart.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80, box
        segments = chart.locator("rect.segment")
        expect(segments).to_have_count(4)  # one segment per customer's month and status
        for index in range(4):
            segment = segments.nth(index).bounding_box()
            assert segment and segment["width"] > 5 and segment["height"] > 1, segment
        expect(chart.locator("text.month-label").first).to_have_text("nov")
    # The chart heads the page, above the overview's filter.
    chart_box = page.locator("#pipeline-customers").bounding_box()
    filter_box = page.locator("#renewal-filter").bounding_box()
    assert chart_box["y"] < filter_box["y"]
    # The segments' patterns are defined and paint (a pattern fill of a missing id paints
    # nothing at all).
    assert page.evaluate(
        """() => [...document.querySelectorAll('#renewal-pipeline rect.segment')].every(
            r => document.querySelector(r.getAttribute('fill').slice(4, -1)) !== null)"""
    )
    screenshot(page, "renewal-pipeline-sv.png")
    assert errors == []


def test_the_table_fallback_opens_with_the_keyboard(page, live_server, tenants, pipeline_customers):
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/renewals")
    table = page.locator("#pipeline-table table")
    expect(table).to_be_hidden()

    summary = page.locator("#pipeline-table summary")
    summary.focus()
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#pipeline-table")).to_have_attribute("open", "")
    expect(table).to_be_visible()
    december = table.locator('td[data-month="2026-12"][data-status="window_open"]')
    expect(december).to_have_count(2)  # customers and licenses
    expect(december.nth(0)).to_have_text("1")
    expect(december.nth(1)).to_have_text("8")

    page.keyboard.press("Space")  # the same key closes it again
    expect(table).to_be_hidden()


def test_the_timeline_tab_loads_through_htmx_without_a_reload(page, live_server, app, tenants):
    errors = collect_errors(page)
    customer = tenants.a.customer
    db_work(app, record_first_order(tenants.a, order_date=TODAY, vendor_number="TLBROWSER1"))
    sign_in(page, live_server, tenants.a.sales.email)  # English
    open_customer(page, live_server, customer)
    page.evaluate("window.__marker = 1")

    page.locator("#tab-timeline").click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/timeline$"))
    expect(page.locator("#tab-timeline")).to_have_attribute("aria-selected", "true")
    timeline = page.locator("#customer-timeline")
    expect(timeline).to_be_visible()
    assert page.evaluate("window.__marker") == 1, "the tab switch reloaded the whole page"

    chart = timeline.locator("svg[role=img]")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100, box
    today = chart.locator("g.today-marker line").bounding_box()
    assert today and today["height"] > 100
    expect(chart.locator("text.today-label")).to_have_text("Today")
    expect(timeline.locator("ol.timeline-events li.today")).to_contain_text("Today")
    expect(timeline.locator('ol.timeline-events li[data-kind="order"]')).to_contain_text(
        "TLBROWSER1"
    )
    screenshot(page, "customer-timeline-en.png")

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.id}/info$"))
    expect(page.locator("#tab-info")).to_have_attribute("aria-selected", "true")
    assert errors == []
