"""vip/web/template_helpers.py: the day counts and status tests the templates use instead
of arithmetic and string comparisons, and a guard that those do not come back."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import render_template_string
from flask_babel import force_locale

from vip.models import (
    AuthorizationStatus,
    NotificationStatus,
    OrderStatus,
    ReturnStatus,
    Role,
)
from vip.services.orders import RETURN_WINDOW_DAYS
from vip.services.renewals import RenewalStage
from vip.web import template_helpers
from vip.web.template_helpers import STATUS_TESTS, Countdown, order_due, return_window

TODAY = date(2026, 12, 1)
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize(
    ("offset", "days_left", "days_past", "is_today", "is_past"),
    [(3, 3, 0, False, False), (0, 0, 0, True, False), (-2, 0, 2, False, True)],
)
def test_countdown_counts_whole_days_either_side(offset, days_left, days_past, is_today, is_past):
    countdown = Countdown(TODAY + timedelta(days=offset), TODAY)
    assert (countdown.days_left, countdown.days_past) == (days_left, days_past)
    assert (countdown.is_today, countdown.is_past) == (is_today, is_past)


def test_order_due_counts_to_the_order_due_date():
    pa = SimpleNamespace(order_due_on=TODAY + timedelta(days=14))
    assert order_due(pa, TODAY).days_left == 14


@pytest.mark.parametrize(
    ("age", "status", "has_window", "is_open"),
    [
        (RETURN_WINDOW_DAYS, OrderStatus.PLACED, True, True),  # closes today
        (RETURN_WINDOW_DAYS + 1, OrderStatus.PLACED, True, False),
        (1, OrderStatus.RETURNED, True, False),
        (1, OrderStatus.PLACED, False, False),  # imported: no return window
    ],
)
def test_r7_return_window_is_the_services_rule(age, status, has_window, is_open):
    order = SimpleNamespace(
        order_date=TODAY - timedelta(days=age), status=status, has_return_window=has_window
    )
    window = return_window(order, TODAY)
    assert window.is_open is is_open
    assert window.closes_on == order.order_date + timedelta(days=RETURN_WINDOW_DAYS)


@pytest.mark.parametrize(
    ("test", "status", "expected"),
    [
        ("pending_authorization", AuthorizationStatus.PENDING, True),
        ("pending_authorization", "ordered", False),
        ("ordered_authorization", "ordered", True),
        ("cancelled_authorization", AuthorizationStatus.CANCELLED, True),
        ("returned_order", OrderStatus.RETURNED, True),
        ("requested_return", ReturnStatus.REQUESTED, True),
        ("requested_return", ReturnStatus.APPROVED, False),
        ("sent_mail", NotificationStatus.SENT, True),
        ("failed_mail", NotificationStatus.FAILED, True),
        ("failed_mail", None, False),
    ],
)
def test_status_tests(test, status, expected):
    assert STATUS_TESTS[test](SimpleNamespace(status=status)) is expected


def test_renewal_stage_and_role_tests():
    assert STATUS_TESTS["renewal_in_grace"](SimpleNamespace(stage=RenewalStage.IN_GRACE))
    assert not STATUS_TESTS["renewal_overdue"](SimpleNamespace(stage=None))
    assert STATUS_TESTS["reseller_admin"](SimpleNamespace(role=Role.RESELLER_ADMIN))
    assert not STATUS_TESTS["reseller_admin"](SimpleNamespace(role=Role.RESELLER_SALES))


def test_templates_compare_no_status_strings_and_count_no_days():
    """`x.status == 'placed'` and `(day - today).days` belong to the helpers above (or to
    the models and services), not to templates."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"\b(status|stage|role)\s*[!=]=\s*['\"]",
            r"\)\.days\b",
            r"-\s*today\b",
        ):
            found += [f"{path.relative_to(TEMPLATES)}: {m[0]}" for m in re.finditer(pattern, text)]
    assert found == []


# --- the translations of a render, resolved once ----------------------------------------------


def test_a_render_resolves_its_translations_once_and_still_escapes(app, monkeypatch):
    """The gettext functions a render uses are bound once (translations_context), and they
    are Jinja's newstyle ones: the arguments of a translated string are escaped."""
    resolved = []
    real = template_helpers.get_translations
    monkeypatch.setattr(template_helpers, "get_translations", lambda: resolved.append(1) or real())
    source = (
        "{% autoescape true %}{{ _('Customers') }}|{{ gettext('Customers') }}|"
        "{{ _('%(name)s', name=name) }}|{% trans %}Customers{% endtrans %}{% endautoescape %}"
    )
    with app.test_request_context(), force_locale("sv"):
        html = render_template_string(source, name="<b>x</b>")
    assert html == "Kunder|Kunder|&lt;b&gt;x&lt;/b&gt;|Kunder"
    assert resolved == [1]
    with app.test_request_context(), force_locale("en"):
        assert render_template_string(source, name="&").startswith("Customers|Customers|&amp;|")


# --- dates and counts of a render, bound to its locale once -----------------------------------


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_render_formats_dates_and_counts_as_flask_babel_does(app, language):
    """formatting_context: the same text as Flask-Babel's format_date and format_decimal for
    dates, datetimes (in the user's time zone), named and pattern formats, integers and
    fractions, in both languages."""
    from datetime import UTC, datetime

    from flask_babel import format_date, format_decimal

    values = {
        "days": [date(2026, 1, 1), date(2026, 12, 31), TODAY, date(2030, 2, 28)],
        "moments": [datetime(2026, 12, 31, 23, 30, tzinfo=UTC)],
        "numbers": [0, 7, 999, 1000, 12345, 1234567, -4321, 2.5, 1234.5678],
    }
    source = (
        "{% for d in days %}{{ format_date(d) }}|{{ format_date(d, 'long') }}|"
        "{{ format_date(d, 'short') }}|{{ format_date(d, 'd MMM') }}|{% endfor %}"
        "{% for m in moments %}{{ format_date(m) }}|{% endfor %}"
        "{% for n in numbers %}{{ format_decimal(n) }}|{% endfor %}"
    )
    with app.test_request_context(), force_locale(language):
        expected = "".join(
            f"{format_date(d)}|{format_date(d, 'long')}|{format_date(d, 'short')}|"
            f"{format_date(d, 'd MMM')}|"
            for d in values["days"]
        )
        expected += "".join(f"{format_date(m)}|" for m in values["moments"])
        expected += "".join(f"{format_decimal(n)}|" for n in values["numbers"])
        rendered = render_template_string(source, **values)
    assert rendered == expected
    assert ("1 234 567" if language == "sv" else "1,234,567") in rendered.replace("\xa0", " ")
