"""R5: the one function that turns an order date into whole months to the anniversary.

The expected months in the tables are worked out by hand (anchor_k = the anniversary moved
back k months, its day clamped to the month's length; the answer is the smallest k whose
anchor is on or before the order date), never by calling the code under test."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vip.services.terms import (
    add_months,
    anniversary_anchor,
    months_to_anniversary,
    period_containing,
)

D = date


# --- R5 table: (anniversary, order date, months) -------------------------------------------

SEED_AND_ANCHOR_DAY = [
    # The design's example: anniversary 15 Jan, order 20 Apr: periods Apr 15 ... Jan 14.
    pytest.param(D(2027, 1, 15), D(2026, 4, 20), 9, id="seed-15jan-order-20apr"),
    # On the anchor day the period starts that day: still 9.
    pytest.param(D(2027, 1, 15), D(2026, 4, 15), 9, id="on-anchor-day"),
    # The day before the anchor belongs to the period before: a started month counts whole.
    pytest.param(D(2027, 1, 15), D(2026, 4, 14), 10, id="day-before-anchor"),
    pytest.param(D(2027, 1, 15), D(2026, 5, 14), 9, id="last-day-of-period"),
    pytest.param(D(2027, 1, 15), D(2026, 5, 15), 8, id="next-anchor"),
    # The day before the anniversary: one (started) month.
    pytest.param(D(2027, 1, 15), D(2027, 1, 14), 1, id="day-before-anniversary"),
    pytest.param(D(2027, 1, 15), D(2026, 12, 15), 1, id="last-anchor"),
    pytest.param(D(2027, 1, 15), D(2026, 12, 14), 2, id="day-before-last-anchor"),
    # Exactly one year before: the full 12; a day later still 12.
    pytest.param(D(2027, 1, 15), D(2026, 1, 15), 12, id="one-year-before"),
    pytest.param(D(2027, 1, 15), D(2026, 1, 16), 12, id="one-year-minus-a-day"),
    pytest.param(D(2027, 1, 15), D(2026, 2, 15), 11, id="eleven-months-before"),
    pytest.param(D(2027, 11, 29), D(2027, 4, 20), 8, id="console-today-anniversary"),
]

DEC_JAN_BOUNDARY = [
    pytest.param(D(2027, 1, 10), D(2026, 12, 31), 1, id="10jan-order-31dec"),
    pytest.param(D(2027, 1, 10), D(2026, 12, 10), 1, id="10jan-order-10dec"),
    pytest.param(D(2027, 1, 10), D(2026, 12, 9), 2, id="10jan-order-9dec"),
    pytest.param(D(2027, 1, 10), D(2027, 1, 9), 1, id="10jan-order-9jan"),
    pytest.param(D(2027, 1, 10), D(2026, 1, 10), 12, id="10jan-order-10jan-prev-year"),
    pytest.param(D(2027, 2, 15), D(2026, 12, 20), 2, id="15feb-order-20dec"),
    pytest.param(D(2027, 2, 15), D(2027, 1, 14), 2, id="15feb-order-14jan"),
    pytest.param(D(2027, 2, 15), D(2027, 1, 15), 1, id="15feb-order-15jan"),
    pytest.param(D(2026, 12, 5), D(2026, 1, 4), 12, id="5dec-order-4jan"),
    pytest.param(D(2026, 12, 5), D(2025, 12, 5), 12, id="5dec-order-5dec-prev-year"),
    pytest.param(D(2026, 12, 5), D(2026, 1, 5), 11, id="5dec-order-5jan"),
    pytest.param(D(2027, 1, 31), D(2026, 12, 31), 1, id="31jan-order-31dec"),
    pytest.param(D(2027, 1, 31), D(2026, 12, 30), 2, id="31jan-order-30dec"),
]

ANCHOR_31ST = [
    # Anniversary 31 Jan 2027: the February anchor is 28 Feb 2026, March's is 31 Mar again.
    pytest.param(D(2027, 1, 31), D(2026, 2, 27), 12, id="31jan-feb27"),
    pytest.param(D(2027, 1, 31), D(2026, 2, 28), 11, id="31jan-feb28-is-anchor"),
    pytest.param(D(2027, 1, 31), D(2026, 3, 1), 11, id="31jan-mar1"),
    pytest.param(D(2027, 1, 31), D(2026, 3, 30), 11, id="31jan-mar30"),
    pytest.param(D(2027, 1, 31), D(2026, 3, 31), 10, id="31jan-mar31-anchor-not-28"),
    pytest.param(D(2027, 1, 31), D(2026, 4, 29), 10, id="31jan-apr29"),
    pytest.param(D(2027, 1, 31), D(2026, 4, 30), 9, id="31jan-apr30-is-anchor"),
    pytest.param(D(2027, 1, 31), D(2026, 5, 30), 9, id="31jan-may30"),
    pytest.param(D(2027, 1, 31), D(2026, 5, 31), 8, id="31jan-may31"),
    # Leap year: the February anchor is the 29th.
    pytest.param(D(2029, 1, 31), D(2028, 2, 28), 12, id="31jan-leap-feb28"),
    pytest.param(D(2029, 1, 31), D(2028, 2, 29), 11, id="31jan-leap-feb29-is-anchor"),
    # Anniversary 31 Mar: one month back is the last day of February.
    pytest.param(D(2026, 3, 31), D(2026, 2, 28), 1, id="31mar-feb28-is-anchor"),
    pytest.param(D(2026, 3, 31), D(2026, 2, 27), 2, id="31mar-feb27"),
    pytest.param(D(2026, 3, 31), D(2026, 3, 30), 1, id="31mar-mar30"),
    pytest.param(D(2028, 3, 31), D(2028, 2, 28), 2, id="31mar-leap-feb28"),
    pytest.param(D(2028, 3, 31), D(2028, 2, 29), 1, id="31mar-leap-feb29-is-anchor"),
    # Anniversary 31 May: April has 30 days.
    pytest.param(D(2027, 5, 31), D(2027, 4, 30), 1, id="31may-apr30-is-anchor"),
    pytest.param(D(2027, 5, 31), D(2027, 4, 29), 2, id="31may-apr29"),
    pytest.param(D(2027, 5, 31), D(2027, 5, 30), 1, id="31may-may30"),
]

ANCHOR_30TH = [
    pytest.param(D(2027, 1, 30), D(2026, 2, 27), 12, id="30jan-feb27"),
    pytest.param(D(2027, 1, 30), D(2026, 2, 28), 11, id="30jan-feb28-is-anchor"),
    pytest.param(D(2027, 1, 30), D(2026, 3, 29), 11, id="30jan-mar29"),
    pytest.param(D(2027, 1, 30), D(2026, 3, 30), 10, id="30jan-mar30-anchor-not-28"),
    pytest.param(D(2026, 3, 30), D(2026, 2, 28), 1, id="30mar-feb28-is-anchor"),
    pytest.param(D(2026, 3, 30), D(2026, 2, 27), 2, id="30mar-feb27"),
    pytest.param(D(2027, 5, 30), D(2027, 4, 30), 1, id="30may-apr30-is-anchor"),
    pytest.param(D(2027, 5, 30), D(2027, 4, 29), 2, id="30may-apr29"),
    pytest.param(D(2027, 7, 30), D(2027, 6, 30), 1, id="30jul-jun30-is-anchor"),
]

ANCHOR_29TH_AND_29_FEB = [
    # Anniversary 29 Feb 2028 (leap): a year back is 28 Feb 2027, later anchors are the 29th.
    pytest.param(D(2028, 2, 29), D(2027, 2, 28), 12, id="29feb-one-year-before-is-feb28"),
    pytest.param(D(2028, 2, 29), D(2027, 3, 28), 12, id="29feb-mar28"),
    pytest.param(D(2028, 2, 29), D(2027, 3, 29), 11, id="29feb-mar29-is-anchor"),
    pytest.param(D(2028, 2, 29), D(2028, 1, 28), 2, id="29feb-jan28"),
    pytest.param(D(2028, 2, 29), D(2028, 1, 29), 1, id="29feb-jan29-is-anchor"),
    pytest.param(D(2028, 2, 28), D(2028, 1, 28), 1, id="28feb-leap-jan28"),
    pytest.param(D(2028, 2, 29), D(2028, 2, 28), 1, id="29feb-day-before"),
    # Anniversary 28 Feb 2029 (a 29 Feb 2028 first order + 12 months): anchors on the 28th.
    pytest.param(D(2029, 2, 28), D(2028, 2, 29), 12, id="28feb2029-order-29feb2028"),
    pytest.param(D(2029, 2, 28), D(2028, 3, 27), 12, id="28feb2029-mar27"),
    pytest.param(D(2029, 2, 28), D(2028, 3, 28), 11, id="28feb2029-mar28"),
    # A 29th anchor in February: non-leap 2026 and 2029 clamp to the 28th, leap 2028 does not.
    pytest.param(D(2027, 1, 29), D(2026, 2, 27), 12, id="29jan-nonleap-feb27"),
    pytest.param(D(2027, 1, 29), D(2026, 2, 28), 11, id="29jan-nonleap-feb28-is-anchor"),
    pytest.param(D(2029, 1, 29), D(2028, 2, 28), 12, id="29jan-leap-feb28"),
    pytest.param(D(2029, 1, 29), D(2028, 2, 29), 11, id="29jan-leap-feb29-is-anchor"),
    pytest.param(D(2029, 3, 29), D(2029, 2, 27), 2, id="29mar-nonleap-feb27"),
    pytest.param(D(2029, 3, 29), D(2029, 2, 28), 1, id="29mar-nonleap-feb28-is-anchor"),
    pytest.param(D(2028, 3, 29), D(2028, 2, 28), 2, id="29mar-leap-feb28"),
    pytest.param(D(2028, 3, 29), D(2028, 2, 29), 1, id="29mar-leap-feb29-is-anchor"),
]


@pytest.mark.parametrize(("anniversary", "order_date", "months"), SEED_AND_ANCHOR_DAY)
def test_r5_months_seed_example_anchor_day_and_day_before_anniversary(
    anniversary, order_date, months
):
    assert months_to_anniversary(order_date, anniversary) == months


@pytest.mark.parametrize(("anniversary", "order_date", "months"), DEC_JAN_BOUNDARY)
def test_r5_months_across_the_december_january_boundary(anniversary, order_date, months):
    assert months_to_anniversary(order_date, anniversary) == months


@pytest.mark.parametrize(("anniversary", "order_date", "months"), ANCHOR_31ST)
def test_r5_months_31st_anchor_falls_on_the_last_day_of_shorter_months(
    anniversary, order_date, months
):
    assert months_to_anniversary(order_date, anniversary) == months


@pytest.mark.parametrize(("anniversary", "order_date", "months"), ANCHOR_30TH)
def test_r5_months_30th_anchor(anniversary, order_date, months):
    assert months_to_anniversary(order_date, anniversary) == months


@pytest.mark.parametrize(("anniversary", "order_date", "months"), ANCHOR_29TH_AND_29_FEB)
def test_r5_months_29th_anchor_and_29_february_in_leap_and_non_leap_years(
    anniversary, order_date, months
):
    assert months_to_anniversary(order_date, anniversary) == months


@pytest.mark.parametrize(
    ("anniversary", "order_date"),
    [
        pytest.param(D(2027, 1, 15), D(2027, 1, 15), id="on-the-anniversary"),
        pytest.param(D(2027, 1, 15), D(2027, 1, 16), id="day-after"),
        pytest.param(D(2027, 1, 15), D(2028, 6, 1), id="next-year"),
        pytest.param(D(2028, 2, 29), D(2028, 2, 29), id="29feb-on-the-anniversary"),
    ],
)
def test_r5_months_refuses_an_order_on_or_after_the_anniversary(anniversary, order_date):
    with pytest.raises(ValueError, match="not before the anniversary"):
        months_to_anniversary(order_date, anniversary)
    with pytest.raises(ValueError):
        period_containing(order_date, anniversary)


@pytest.mark.parametrize(
    ("anniversary", "order_date"),
    [
        pytest.param(D(2027, 1, 15), D(2026, 1, 14), id="a-year-and-a-day"),
        pytest.param(D(2027, 11, 29), D(2026, 11, 13), id="pa-recorded-after-the-first-order"),
        pytest.param(D(2027, 1, 15), D(2024, 6, 1), id="years-before"),
    ],
)
def test_r5_months_more_than_a_year_before_are_capped_at_12(anniversary, order_date):
    assert months_to_anniversary(order_date, anniversary) == 12


# --- the helpers the rule is built on ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "anchor_day", "expected"),
    [
        pytest.param(D(2026, 11, 29), 12, None, D(2027, 11, 29), id="first-order-anniversary"),
        pytest.param(D(2028, 2, 29), 12, None, D(2029, 2, 28), id="29feb-plus-a-year"),
        pytest.param(D(2028, 2, 29), 48, None, D(2032, 2, 29), id="29feb-plus-four-years"),
        pytest.param(D(2026, 1, 31), 1, None, D(2026, 2, 28), id="31jan-plus-1"),
        pytest.param(D(2028, 1, 31), 1, None, D(2028, 2, 29), id="31jan-leap-plus-1"),
        pytest.param(D(2026, 2, 28), 1, None, D(2026, 3, 28), id="clamped-day-without-anchor"),
        pytest.param(D(2026, 2, 28), 1, 31, D(2026, 3, 31), id="clamped-day-keeps-anchor"),
        pytest.param(D(2026, 12, 15), 1, None, D(2027, 1, 15), id="dec-to-jan"),
        pytest.param(D(2027, 1, 15), -1, None, D(2026, 12, 15), id="jan-back-to-dec"),
        pytest.param(D(2027, 1, 10), -13, None, D(2025, 12, 10), id="back-over-a-year"),
        pytest.param(D(2026, 5, 31), -3, None, D(2026, 2, 28), id="31may-back-to-feb"),
        pytest.param(D(2026, 3, 15), 0, None, D(2026, 3, 15), id="zero"),
    ],
)
def test_r5_add_months_clamps_to_the_month_length(day, months, anchor_day, expected):
    assert add_months(day, months, anchor_day=anchor_day) == expected


@pytest.mark.parametrize(
    ("anniversary", "months_before", "expected"),
    [
        pytest.param(D(2027, 1, 31), 11, D(2026, 2, 28), id="31jan-11"),
        pytest.param(D(2027, 1, 31), 10, D(2026, 3, 31), id="31jan-10"),
        pytest.param(D(2027, 1, 31), 12, D(2026, 1, 31), id="31jan-12"),
        pytest.param(D(2028, 2, 29), 12, D(2027, 2, 28), id="29feb-12"),
        pytest.param(D(2028, 2, 29), 1, D(2028, 1, 29), id="29feb-1"),
        pytest.param(D(2027, 1, 10), 1, D(2026, 12, 10), id="10jan-1"),
    ],
)
def test_r5_anniversary_anchor(anniversary, months_before, expected):
    assert anniversary_anchor(anniversary, months_before) == expected


@pytest.mark.parametrize(
    ("anniversary", "order_date", "period"),
    [
        pytest.param(D(2027, 1, 15), D(2026, 4, 20), (D(2026, 4, 15), D(2026, 5, 14)), id="seed"),
        pytest.param(
            D(2027, 1, 15), D(2027, 1, 14), (D(2026, 12, 15), D(2027, 1, 14)), id="last-month"
        ),
        pytest.param(
            D(2027, 1, 31), D(2026, 3, 1), (D(2026, 2, 28), D(2026, 3, 30)), id="31jan-feb-anchor"
        ),
        pytest.param(
            D(2028, 2, 29), D(2027, 3, 1), (D(2027, 2, 28), D(2027, 3, 28)), id="29feb-first"
        ),
        pytest.param(
            D(2027, 1, 10), D(2026, 12, 31), (D(2026, 12, 10), D(2027, 1, 9)), id="dec-jan"
        ),
    ],
)
def test_r5_period_containing_shows_the_monthly_period(anniversary, order_date, period):
    assert period_containing(order_date, anniversary) == period


# --- properties ---------------------------------------------------------------------------


def _one_year_before(day: date) -> date:
    """The same day a year earlier; 29 Feb falls on 28 Feb."""
    year = day.year - 1
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def _anchor(anniversary: date, k: int) -> date:
    """The test's own anchor_k: the anniversary moved back k months, day clamped."""
    index = anniversary.year * 12 + anniversary.month - 1 - k
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anniversary.day, calendar.monthrange(year, month)[1]))


def _oracle(order_date: date, anniversary: date) -> int:
    return min(k for k in range(1, 13) if _anchor(anniversary, k) <= order_date)


@st.composite
def anniversary_and_order(draw, count: int = 1):
    anniversary = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)))
    first = _one_year_before(anniversary)
    span = (anniversary - first).days - 1  # the last allowed day is the anniversary - 1
    offsets = [draw(st.integers(min_value=0, max_value=span)) for _ in range(count)]
    return anniversary, [first + timedelta(days=offset) for offset in offsets]


PROPERTY = settings(max_examples=400, deadline=None)


def test_r5_oracle_agrees_with_the_hand_table():
    """The test's own oracle is checked against the hand-made table before it is trusted."""
    rows = (
        SEED_AND_ANCHOR_DAY + DEC_JAN_BOUNDARY + ANCHOR_31ST + ANCHOR_30TH + ANCHOR_29TH_AND_29_FEB
    )
    for row in rows:
        anniversary, order_date, months = row.values
        assert _oracle(order_date, anniversary) == months, row.id


@PROPERTY
@given(anniversary_and_order(count=1))
def test_r5_property_months_always_1_to_12_and_match_the_oracle(case):
    anniversary, (order_date,) = case
    months = months_to_anniversary(order_date, anniversary)
    assert 1 <= months <= 12
    assert months == _oracle(order_date, anniversary)
    # The period shown to the user holds the order date and starts on anchor_months.
    start, end = period_containing(order_date, anniversary)
    assert start <= order_date <= end < anniversary
    assert start == _anchor(anniversary, months)
    assert end == _anchor(anniversary, months - 1) - timedelta(days=1)


@PROPERTY
@given(anniversary_and_order(count=2))
def test_r5_property_months_never_increase_as_the_order_date_moves_later(case):
    anniversary, days = case
    earlier, later = sorted(days)
    assert months_to_anniversary(earlier, anniversary) >= months_to_anniversary(later, anniversary)


@PROPERTY
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)))
def test_r5_property_full_year_and_last_day(anniversary):
    """A year (or the clamped 28 Feb) before is 12; the day before the anniversary is 1."""
    assert months_to_anniversary(_one_year_before(anniversary), anniversary) == 12
    assert months_to_anniversary(anniversary - timedelta(days=1), anniversary) == 1
