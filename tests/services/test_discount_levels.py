"""Discount levels and three-year commitments: R14 (thresholds, a single order's lift, the
look-back at AD-31, consumables, the renewal's level), R15 (request at Level 2 or above,
acceptance, refusal, the floor, the third anniversary) and R16 (a renewal at, below and
above the minimum; at risk from AD-60; a missed renewal). Dates are arguments."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TODAY
from tests.support import count, english, in_app, order_licenses, pid, user
from vip.extensions import db
from vip.models import AuditEvent, CommitmentState, Customer, ThreeYearCommitment
from vip.models.discount_levels import level_for
from vip.services import commitments, discount_levels, renewals
from vip.services.authorizations import AuthorizationInvalid
from vip.services.errors import DomainError, NotVisible
from vip.services.licenses import qualifying_licenses
from vip.services.terms import add_months

AD = add_months(TODAY, 12)  # the anniversary a first order on TODAY sets
_numbers = itertools.count(1)


def order(tenant, lines: list[tuple[int, int]], *, on: date = TODAY) -> None:
    order_licenses(tenant, lines, on=on)


def customer_of(tenant) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, tenant.customer.id)


def level(tenant) -> int:
    return customer_of(tenant).discount_level


def renew(tenant, quantities: dict[int, int], *, on: date, accept: bool = False):
    return renewals.record_renewal(
        user=user(tenant.sales),
        customer_id=tenant.customer.id,
        today=on,
        vendor_order_number=f"RN{next(_numbers):08d}",
        order_date=on,
        quantities=quantities,
        accept_below_commitment=accept,
    )


def commit(tenant, minimum: int, *, on: date = TODAY) -> ThreeYearCommitment:
    commitments.request_commitment(
        user=user(tenant.sales),
        customer_id=tenant.customer.id,
        today=on,
        minimum_quantity=minimum,
        requested_on=on,
    )
    return commitments.accept_commitment(
        user=user(tenant.sales), customer_id=tenant.customer.id, today=on, starts_on=on
    )


def lookback(tenant, on: date):
    return discount_levels.apply_lookbacks(today=on, reseller_ids=[tenant.reseller.id])


def expire(tenant, on: date):
    return commitments.apply_commitment_deadlines(today=on, reseller_ids=[tenant.reseller.id])


def events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


# --- R14 Discount level ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("licenses", "expected"),
    [(0, 1), (1, 1), (9, 1), (10, 2), (49, 2), (50, 3), (99, 3), (100, 4), (5000, 4)],
)
def test_r14_level_thresholds(licenses, expected):
    assert level_for(licenses) == expected


@pytest.mark.parametrize(
    ("licenses", "expected"), [(9, 1), (10, 2), (49, 2), (50, 3), (99, 3), (100, 4)]
)
def test_r14_a_first_order_sets_the_level_at_each_boundary(app, tenants, licenses, expected):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), licenses)])
        assert level(tenants.a) == expected
        assert level(tenants.b) == 1


@pytest.mark.parametrize(("add_on", "expected"), [(9, 1), (10, 2), (49, 2), (50, 3), (100, 4)])
def test_r14_a_single_add_on_order_lifts_the_level_at_once(app, tenants, add_on, expected):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 8)])
        order(tenants.a, [(pid("Illustrator"), add_on)], on=TODAY + timedelta(days=40))
        assert level(tenants.a) == expected
        changed = events("customer.level_changed")
        assert len(changed) == (1 if expected > 1 else 0)
        if changed:
            assert changed[0].details["level"] == [1, expected]
            assert changed[0].details["reason"] == "order"


def test_r14_a_single_order_counts_all_its_rows(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 6), (pid("Illustrator"), 4)])
        assert level(tenants.a) == 2


def test_r14_the_level_never_falls_within_the_term(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 50)])
        order(tenants.a, [(pid("Illustrator"), 1)], on=TODAY + timedelta(days=20))
        assert level(tenants.a) == 3


def test_r14_lookback_at_ad_32_changes_nothing_at_ad_31_raises_the_level(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 8)])
        order(tenants.a, [(pid("Illustrator"), 4)], on=TODAY + timedelta(days=100))
        assert level(tenants.a) == 1  # no single order reached 10

        report = lookback(tenants.a, AD - timedelta(days=32))
        assert report.lookbacks == 0
        assert level(tenants.a) == 1
        assert customer_of(tenants.a).lookback_anniversary is None

        report = lookback(tenants.a, AD - timedelta(days=31))
        assert report.lookbacks == 1
        assert [change.describe().split(": ")[-1] for change in report.changes] == [
            "12 licenses, level 1 -> 2"
        ]
        assert level(tenants.a) == 2
        assert customer_of(tenants.a).lookback_anniversary == AD
        (event,) = events("customer.level_lookback")
        assert event.actor_label == "system"
        assert event.details["level"] == [1, 2] and event.details["licenses"] == 12

        again = lookback(tenants.a, AD - timedelta(days=30))
        assert again.lookbacks == 0 and len(events("customer.level_lookback")) == 1


def test_r14_lookback_applies_once_per_anniversary_and_never_lowers(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 10)])
        order(tenants.a, [(pid("Illustrator"), 1)], on=TODAY + timedelta(days=30))
        report = lookback(tenants.a, AD - timedelta(days=31))
        assert report.lookbacks == 0
        assert level(tenants.a) == 2
        # Marked as looked back: a later add-on of 39 (50 in all) waits for no second one.
        assert customer_of(tenants.a).lookback_anniversary == AD


def test_r14_lookback_dry_plan_writes_nothing(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 8)])
        order(tenants.a, [(pid("Illustrator"), 4)], on=TODAY + timedelta(days=100))
        plan = discount_levels.plan_lookbacks(
            today=AD - timedelta(days=31), reseller_ids=[tenants.a.reseller.id]
        )
        assert [(c.before, c.after, c.licenses) for c in plan.changes] == [(1, 2, 12)]
        assert level(tenants.a) == 1
        assert customer_of(tenants.a).lookback_anniversary is None


def test_r14_consumables_are_not_counted(app, tenants):
    with in_app(app):
        packs = pid("Adobe Stock Credit Pack 150")
        order(tenants.a, [(pid("Photoshop"), 9), (packs, 20)])
        assert level(tenants.a) == 1
        order(tenants.a, [(packs, 100)], on=TODAY + timedelta(days=10))
        assert level(tenants.a) == 1
        assert qualifying_licenses(customer=customer_of(tenants.a)) == 9
        plan = discount_levels.plan_lookbacks(
            today=AD - timedelta(days=31), reseller_ids=[tenants.a.reseller.id]
        )
        assert plan.changes == []  # 9 licenses and 120 credit packs: still Level 1
        order(tenants.a, [(pid("Photoshop"), 1)], on=AD - timedelta(days=40))
        assert lookback(tenants.a, AD - timedelta(days=31)).lookbacks == 1
        assert level(tenants.a) == 2


def test_r14_the_renewed_quantity_sets_the_new_terms_level(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        assert level(tenants.a) == 2
        renew(tenants.a, {pid("Photoshop"): 9}, on=AD - timedelta(days=10))
        assert level(tenants.a) == 1
        assert customer_of(tenants.a).anniversary_date == add_months(AD, 12)
        (event,) = events("customer.level_changed")[-1:]
        assert event.details["reason"] == "renewal" and event.details["level"] == [2, 1]


def test_r14_order_hint_names_the_next_threshold(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 8)])
        hint = discount_levels.order_hint(
            customer=customer_of(tenants.a),
            quantities={pid("Illustrator"): 7},
            today=TODAY + timedelta(days=5),
        )
        assert (hint.current_level, hint.order_level) == (1, 1)
        assert (hint.next_level, hint.next_threshold, hint.more_needed) == (2, 10, 3)
        assert (hint.lookback_licenses, hint.lookback_level) == (15, 2)
        assert hint.lookback_on == AD - timedelta(days=31)
        lifted = discount_levels.order_hint(
            customer=customer_of(tenants.a),
            quantities={pid("Illustrator"): 10, pid("Adobe Stock Credit Pack 40"): 90},
            today=TODAY + timedelta(days=5),
        )
        assert (lifted.order_licenses, lifted.order_level, lifted.raises) == (10, 2, True)


# --- R15 Three-year commitment -----------------------------------------------------------------


def test_r15_a_commitment_requested_at_level_1_is_refused(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 9)])
        with pytest.raises(AuthorizationInvalid) as caught:
            commitments.request_commitment(
                user=user(tenants.a.sales),
                customer_id=tenants.a.customer.id,
                today=TODAY,
                minimum_quantity=10,
                requested_on=TODAY,
            )
        db.session.rollback()
        assert "Level 2" in english(caught.value.errors["minimum_quantity"][0])
        assert count(ThreeYearCommitment) == 0


@pytest.mark.parametrize(("minimum", "accepted"), [(9, False), (10, True)])
def test_r15_the_minimum_is_at_least_10(app, tenants, minimum, accepted):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        call = lambda: commitments.request_commitment(  # noqa: E731
            user=user(tenants.a.sales),
            customer_id=tenants.a.customer.id,
            today=TODAY,
            minimum_quantity=minimum,
            requested_on=TODAY,
        )
        if accepted:
            assert call().state == CommitmentState.REQUESTED
        else:
            with pytest.raises(AuthorizationInvalid) as caught:
                call()
            db.session.rollback()
            assert "at least 10" in english(caught.value.errors["minimum_quantity"][0])
            assert count(ThreeYearCommitment) == 0


def test_r15_request_checks_its_date_and_one_open_at_a_time(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        sales, cid = user(tenants.a.sales), tenants.a.customer.id
        with pytest.raises(AuthorizationInvalid) as caught:
            commitments.request_commitment(
                user=sales,
                customer_id=cid,
                today=TODAY,
                minimum_quantity=12,
                requested_on=TODAY + timedelta(days=1),
            )
        db.session.rollback()
        assert "requested_on" in caught.value.errors
        commitments.request_commitment(
            user=sales, customer_id=cid, today=TODAY, minimum_quantity=12, requested_on=TODAY
        )
        with pytest.raises(DomainError):
            commitments.request_commitment(
                user=sales, customer_id=cid, today=TODAY, minimum_quantity=12, requested_on=TODAY
            )
        db.session.rollback()
        assert count(ThreeYearCommitment) == 1


def test_r15_acceptance_runs_to_the_third_anniversary_and_raises_the_level(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        commitment = commit(tenants.a, 50, on=TODAY + timedelta(days=3))
        assert commitment.state == CommitmentState.COMMITTED
        assert commitment.starts_on == TODAY + timedelta(days=3)
        assert commitment.ends_on == add_months(AD, 24)
        assert commitments.covered_anniversaries(commitment) == [
            AD,
            add_months(AD, 12),
            add_months(AD, 24),
        ]
        assert level(tenants.a) == 3  # the level 50 licenses reach, at once
        assert [e.action for e in events("commitment.requested") + events("commitment.accepted")]


def test_r15_refusal_declines_and_allows_a_new_request(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        sales, cid = user(tenants.a.sales), tenants.a.customer.id
        commitments.request_commitment(
            user=sales, customer_id=cid, today=TODAY, minimum_quantity=12, requested_on=TODAY
        )
        with pytest.raises(AuthorizationInvalid):
            commitments.decline_commitment(
                user=sales, customer_id=cid, today=TODAY, decided_on=TODAY - timedelta(days=1)
            )
        db.session.rollback()
        declined = commitments.decline_commitment(
            user=sales, customer_id=cid, today=TODAY, decided_on=TODAY
        )
        assert declined.state == CommitmentState.DECLINED
        assert level(tenants.a) == 2
        assert len(events("commitment.declined")) == 1
        again = commitments.request_commitment(
            user=sales, customer_id=cid, today=TODAY, minimum_quantity=15, requested_on=TODAY
        )
        assert commitments.current_commitment(customer_of(tenants.a)).id == again.id


def test_r15_another_resellers_customer_is_not_found(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        with pytest.raises(NotVisible):
            commitments.request_commitment(
                user=user(tenants.b.sales),
                customer_id=tenants.a.customer.id,
                today=TODAY,
                minimum_quantity=12,
                requested_on=TODAY,
            )


def test_r15_a_new_term_keeps_the_committed_level(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        commit(tenants.a, 50)
        hint = discount_levels.order_hint(
            customer=customer_of(tenants.a),
            quantities={pid("Photoshop"): 5},
            today=TODAY,
            new_term=True,
        )
        assert hint.order_level == 3


def test_r15_the_third_anniversary_ends_the_commitment(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        commit(tenants.a, 12)
        photoshop = pid("Photoshop")
        renew(tenants.a, {photoshop: 12}, on=AD - timedelta(days=5))
        second = add_months(AD, 12)
        renew(tenants.a, {photoshop: 12}, on=second - timedelta(days=5))
        third = add_months(AD, 24)
        assert expire(tenants.a, third - timedelta(days=1)).commitments == 0
        assert commitments.current_commitment(customer_of(tenants.a)).state == "committed"
        # Renewing the third anniversary below the minimum: no longer covered, no warning.
        renew(tenants.a, {photoshop: 5}, on=third - timedelta(days=1))
        assert commitments.current_commitment(customer_of(tenants.a)).state == "committed"
        assert level(tenants.a) == 1
        report = expire(tenants.a, third)
        assert report.commitments == 1
        assert commitments.current_commitment(customer_of(tenants.a)).state == "expired"
        assert events("commitment.expired")[0].actor_label == "system"
        assert expire(tenants.a, third + timedelta(days=1)).commitments == 0


# --- R16 Compliance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("renewed", "state", "expected_level"), [(25, "committed", 2), (60, "committed", 3)]
)
def test_r16_a_renewal_at_or_above_the_commitment_complies(
    app, tenants, renewed, state, expected_level
):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 30)])
        commit(tenants.a, 25)
        renew(tenants.a, {pid("Photoshop"): renewed}, on=AD - timedelta(days=10))
        assert commitments.current_commitment(customer_of(tenants.a)).state == state
        assert level(tenants.a) == expected_level
        assert events("commitment.noncompliant") == []


def test_r16_a_renewal_below_the_commitment_warns_then_makes_it_noncompliant(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 30)])
        commit(tenants.a, 25)
        photoshop = pid("Photoshop")
        outlook = renewals.renewal_outlook(
            customer=customer_of(tenants.a), quantities={photoshop: 20}
        )
        assert outlook.compliance.below and outlook.level == 2
        with pytest.raises(AuthorizationInvalid) as caught:
            renew(tenants.a, {photoshop: 20}, on=AD - timedelta(days=10))
        db.session.rollback()
        assert "noncompliant" in english(caught.value.errors["accept_below_commitment"][0])
        assert customer_of(tenants.a).anniversary_date == AD
        renew(tenants.a, {photoshop: 20}, on=AD - timedelta(days=10), accept=True)
        assert commitments.current_commitment(customer_of(tenants.a)).state == "noncompliant"
        (event,) = events("commitment.noncompliant")
        assert event.details["licenses"] == 20 and event.details["minimum"] == 25
        assert level(tenants.a) == 2  # 20 licenses: the floor no longer holds


def test_r16_consumables_do_not_reach_the_commitment(app, tenants):
    with in_app(app):
        packs = pid("Adobe Stock Credit Pack 40")
        order(tenants.a, [(pid("Photoshop"), 12), (packs, 20)])
        commit(tenants.a, 12)
        outlook = renewals.renewal_outlook(
            customer=customer_of(tenants.a), quantities={pid("Photoshop"): 11, packs: 20}
        )
        assert outlook.licenses == 11 and outlook.compliance.below


@pytest.mark.parametrize(("offset", "at_risk"), [(-61, False), (-60, True), (-1, True)])
def test_r16_at_risk_from_60_days_before_the_anniversary(app, tenants, offset, at_risk):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        commit(tenants.a, 20)
        today = AD + timedelta(days=offset)
        customer = customer_of(tenants.a)
        commitment = commitments.current_commitment(customer)
        assert (
            commitments.is_at_risk(
                commitment,
                anniversary=customer.anniversary_date,
                licenses=qualifying_licenses(customer=customer),
                today=today,
            )
            is at_risk
        )
        found = db.session.scalars(
            select(Customer.id).where(commitments.at_risk_clause(today))
        ).all()
        assert found == ([tenants.a.customer.id] if at_risk else [])


def test_r16_not_at_risk_at_the_minimum(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 20)])
        commit(tenants.a, 20)
        today = AD - timedelta(days=30)
        found = db.session.scalars(
            select(Customer.id).where(commitments.at_risk_clause(today))
        ).all()
        assert found == []


def test_r16_a_missed_renewal_makes_the_commitment_noncompliant(app, tenants):
    with in_app(app):
        order(tenants.a, [(pid("Photoshop"), 12)])
        commit(tenants.a, 12)
        assert expire(tenants.a, AD + timedelta(days=30)).commitments == 0
        report = expire(tenants.a, AD + timedelta(days=31))
        assert [c.action for c in report.changes] == ["commitment_noncompliant"]
        assert commitments.current_commitment(customer_of(tenants.a)).state == "noncompliant"
