"""License assignment in the Admin Console: R6 (licenses of a pending authorization may be
assigned, and an authorization whose licenses are in use cannot be cancelled), R5/R7 (what
the customer owns: ordered less returned), R11 (no assignment once access is removed), S19
(the email is validated and normalized), S10/S11 (only the customer's own VIP admin), S22
(audited) and S23 (concurrent assignments never exceed the licenses; one unassign wins)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import TODAY
from tests.support import count, english, in_app, pid, user
from vip.extensions import db
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    PurchaseAuthorization,
)
from vip.services import authorizations, licenses, orders
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.deadlines import apply_deadlines
from vip.services.errors import DomainError, NotVisible, PermissionDenied
from vip.services.licenses import (
    assign_license,
    assignments_of,
    license_inventory,
    unassign_license,
)
from vip.services.orders import decide_return, record_order, request_return
from vip.services.renewals import record_renewal

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
AD = date(2027, 11, 29)  # the anniversary once an order is recorded on TODAY
_numbers = itertools.count(1)
LONGEST = "a" * 64 + "@" + ".".join(["k" * 63, "k" * 63, "k" * 58]) + ".se"  # 254 characters


# --- helpers -------------------------------------------------------------------------------


def assign(tenant, email: str, name: str = "Photoshop", *, actor=None) -> LicenseAssignment:
    return assign_license(
        user=user(actor or tenant.vip_admin),
        customer_id=tenant.customer.id,
        product_id=pid(name),
        email=email,
        today=TODAY,
    )


def assign_many(tenant, how_many: int, name: str = "Photoshop", prefix: str = "user") -> list:
    return [assign(tenant, f"{prefix}{n}@kund.example", name).id for n in range(how_many)]


def unassign(tenant, assignment_id: int, *, actor=None) -> LicenseAssignment:
    return unassign_license(
        user=user(actor or tenant.vip_admin),
        customer_id=tenant.customer.id,
        assignment_id=assignment_id,
    )


def emails(customer_id: int, name: str = "Photoshop") -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(
            select(LicenseAssignment.user_email).where(
                LicenseAssignment.customer_id == customer_id,
                LicenseAssignment.product_id == pid(name),
            )
        )
    )


def stock(customer_id: int) -> dict[str, tuple[int, int, int, int, int]]:
    """product -> (owned, pending, assigned, available, assignable)."""
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    return {
        item.product.name: (
            item.owned,
            item.pending,
            item.assigned,
            item.available,
            item.assignable,
        )
        for item in license_inventory(customer=customer, with_pending=True)
    }


def snapshot() -> tuple:
    db.session.expire_all()
    return (
        sorted(
            db.session.execute(
                select(
                    LicenseAssignment.id,
                    LicenseAssignment.customer_id,
                    LicenseAssignment.product_id,
                    LicenseAssignment.user_email,
                )
            ).all()
        ),
        count(AuditEvent),
        sorted(db.session.execute(select(PurchaseAuthorization.id, PurchaseAuthorization.status))),
    )


def refused(call: Callable, error=DomainError):
    """Runs a call that must be refused, checks it wrote nothing, returns the error."""
    pid("Photoshop")  # the catalog is loaded before the snapshot
    before = snapshot()
    with pytest.raises(error) as caught:
        call()
    db.session.rollback()
    assert snapshot() == before, "a refused action must write nothing"
    return caught.value


def order(tenant, lines: dict[str, int], *, on: date = TODAY) -> int:
    """A recorded order of a new authorization (created and ordered on `on`)."""
    sales = user(tenant.sales)
    pa = create_purchase_authorization(
        user=sales,
        customer_id=tenant.customer.id,
        today=on,
        license_type="team",
        lines=[LineInput(product_id=pid(name), quantity=q) for name, q in lines.items()],
        deployment_date=on,
        customer_po_number=None,
    )
    recorded = record_order(
        user=user(tenant.sales),
        pa_id=pa.id,
        today=on,
        vendor_order_number=f"LIC{next(_numbers):07d}",
        order_date=on,
        duration_months=12,
    )
    return recorded.id


def pending(tenant, lines: dict[str, int]) -> int:
    pa = create_purchase_authorization(
        user=user(tenant.sales),
        customer_id=tenant.customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=pid(name), quantity=q) for name, q in lines.items()],
        deployment_date=TODAY,
        customer_po_number=None,
    )
    return pa.id


def cancel(tenant, pa_id: int):
    return cancel_purchase_authorization(user=user(tenant.sales), pa_id=pa_id, today=TODAY, now=NOW)


def events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def pa_status(pa_id: int) -> AuthorizationStatus:
    db.session.expire_all()
    return db.session.get(PurchaseAuthorization, pa_id).status


# --- R6 / R5 / R7: how many may be assigned -------------------------------------------------


def test_r6_the_licenses_of_a_pending_authorization_may_be_assigned(tenants, ctx):
    a = tenants.a  # its fixture authorization: 5 Photoshop, pending, nothing ordered
    assert stock(a.customer.id) == {"Photoshop": (0, 5, 0, 0, 5)}
    assign_many(a, 5)
    assert stock(a.customer.id) == {"Photoshop": (0, 5, 5, -5, 0)}
    error = refused(lambda: assign(a, "sixth@kund.example"))
    assert error.field == "email"
    message = english(error)
    assert "All 5 licenses of Photoshop are assigned" in message
    assert "Reseller A AB" in message


def test_r6_r5_owned_and_pending_licenses_add_up(tenants, ctx):
    a = tenants.a
    order(a, {"Photoshop": 3})  # a second authorization, ordered; the fixture one stays pending
    assert stock(a.customer.id) == {"Photoshop": (3, 5, 0, 3, 8)}
    assign_many(a, 8)
    error = refused(lambda: assign(a, "ninth@kund.example"))
    assert "All 8 licenses of Photoshop are assigned" in english(error)


def test_r5_r7_returned_licenses_cannot_be_assigned(tenants, ctx):
    a = tenants.a
    cancel(a, a.authorization.id)  # nothing pending
    order_id = order(a, {"Photoshop": 3})
    line_id = orders.get_order_for(user=user(a.sales), order_id=order_id).lines[0].id
    item = request_return(
        user=user(a.sales),
        order_id=order_id,
        today=TODAY,
        quantities={line_id: 2},
        reason="Too many",
    )
    decide_return(user=user(a.admin), return_id=item.id, approve=True, comment="", now=NOW)
    assert stock(a.customer.id) == {"Photoshop": (1, 0, 0, 1, 1)}
    assign(a, "only@kund.example")
    error = refused(lambda: assign(a, "second@kund.example"))
    assert "All 1 licenses of Photoshop are assigned" in english(error)


def test_r6_unassigning_frees_a_license(tenants, ctx):
    a = tenants.a
    ids = assign_many(a, 5)
    refused(lambda: assign(a, "waiting@kund.example"))
    unassign(a, ids[2])
    assign(a, "waiting@kund.example")
    assert len(emails(a.customer.id)) == 5 and "waiting@kund.example" in emails(a.customer.id)


def test_r6_a_product_the_customer_does_not_hold_is_not_visible(tenants, ctx):
    a, b = tenants.a, tenants.b
    pending(b, {"InDesign": 3})  # held by the other reseller's customer only
    for product in (pid("InDesign"), pid("Illustrator"), 999_999):
        refused(
            lambda product=product: assign_license(
                user=user(a.vip_admin),
                customer_id=a.customer.id,
                product_id=product,
                email="x@kund.example",
                today=TODAY,
            ),
            NotVisible,
        )
    # Once its only authorization is cancelled, the product is no longer held.
    cancel(a, a.authorization.id)
    refused(lambda: assign(a, "x@kund.example"), NotVisible)


# --- S19: the email -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("anna@kund.example", "anna@kund.example"),
        ("  Anna.Berg@Kund.EXAMPLE  ", "anna.berg@kund.example"),
        ("ERIK+design@KUND.example", "erik+design@kund.example"),
    ],
)
def test_s19_the_email_is_normalized_to_lower_case(tenants, ctx, typed, stored):
    a = tenants.a
    assignment = assign(a, typed)
    db.session.expire_all()
    row = db.session.get(LicenseAssignment, assignment.id)
    assert (row.user_email, row.customer_id, row.product_id) == (
        stored,
        a.customer.id,
        pid("Photoshop"),
    )
    assert row.assigned_by_id == a.vip_admin.id
    (event,) = events("license.assigned")
    assert event.details["email"] == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param("", "Enter the user's email address", id="empty"),
        pytest.param("   ", "Enter the user's email address", id="blank"),
        pytest.param("anna", "Enter a valid email address", id="no-at"),
        pytest.param("anna@kund", "Enter a valid email address", id="no-dot"),
        pytest.param("an na@kund.example", "Enter a valid email address", id="space"),
        pytest.param(
            "anna@kund.example\r\nBcc: x@evil.example", "Enter a valid email address", id="crlf"
        ),
        pytest.param(LONGEST.replace(".se", "k.se"), "at most 254 characters", id="255"),
    ],
)
def test_s19_s20_an_invalid_email_is_refused_at_its_field(tenants, ctx, typed, message):
    error = refused(lambda: assign(tenants.a, typed))
    assert error.field == "email"
    assert message in english(error)


def test_s19_an_email_of_254_characters_is_accepted(tenants, ctx):
    assert len(LONGEST) == 254
    assert emails(tenants.a.customer.id) == []
    assign(tenants.a, LONGEST.upper())
    assert emails(tenants.a.customer.id) == [LONGEST]


@pytest.mark.parametrize("again", ["anna@kund.example", "ANNA@Kund.Example", " anna@kund.example "])
def test_s19_one_license_of_a_product_per_email(tenants, ctx, again):
    a = tenants.a
    pending(a, {"Illustrator": 2})
    assign(a, "anna@kund.example")
    error = refused(lambda: assign(a, again))
    assert error.field == "email"
    assert "anna@kund.example already has a license of Photoshop" in english(error)
    # The same person may have a license of another product.
    assign(a, again, "Illustrator")
    assert emails(a.customer.id, "Illustrator") == ["anna@kund.example"]


def test_s19_the_same_email_at_another_customer_is_no_duplicate(tenants, ctx):
    assign(tenants.a, "konsult@byra.example")
    assign(tenants.b, "konsult@byra.example")
    assert emails(tenants.a.customer.id) == emails(tenants.b.customer.id)


# --- R11: access removed --------------------------------------------------------------------


def test_r11_no_assignment_once_access_is_removed_until_a_renewal(tenants, ctx):
    a = tenants.a
    order(a, {"Photoshop": 2})  # the fixture authorization stays pending: 7 assignable
    db.session.execute(
        update(Customer).where(Customer.id == a.customer.id).values(status=CustomerStatus.ACTIVE)
    )
    db.session.commit()
    kept = assign(a, "kept@kund.example").id
    removal = AD + timedelta(days=30)
    apply_deadlines(today=removal, reseller_ids=[a.reseller.id])
    assert db.session.get(Customer, a.customer.id).status == CustomerStatus.INACTIVE

    error = refused(lambda: assign(a, "late@kund.example"))
    message = english(error)
    assert "Access was removed" in message and "November 29, 2027" in message
    assert "Reseller A AB" in message
    # Taking a license back is still possible.
    unassign(a, kept)

    record_renewal(
        user=user(a.sales),
        customer_id=a.customer.id,
        today=removal,
        vendor_order_number="RENEWLIC01",
        order_date=removal,
        quantities={pid("Photoshop"): 2},
    )
    # Reactivated (delayed, since the fixture authorization is overdue by now: R4).
    assert db.session.get(Customer, a.customer.id).status == CustomerStatus.DELAYED
    assign(a, "late@kund.example")
    assert emails(a.customer.id) == ["late@kund.example"]


# --- S10 / S11: who may assign --------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "admin"])
def test_s11_reseller_users_cannot_assign_or_unassign(tenants, ctx, role):
    a = tenants.a
    assignment_id = assign(a, "anna@kund.example").id
    actor = getattr(a, role)
    error = refused(lambda: assign(a, "x@kund.example", actor=actor), PermissionDenied)
    assert error.action == "admin_console.use"
    refused(lambda: unassign(a, assignment_id, actor=actor), PermissionDenied)


def test_s10_another_customers_assignment_is_not_visible(tenants, ctx):
    a, b = tenants.a, tenants.b
    theirs = assign(a, "anna@kund.example").id
    refused(lambda: unassign(b, theirs), NotVisible)
    refused(lambda: unassign(a, 999_999), NotVisible)
    assert emails(a.customer.id) == ["anna@kund.example"]
    assert assignments_of(customer=db.session.get(Customer, b.customer.id)) == {}


def test_s10_a_vip_admin_assigns_only_at_its_own_customer(tenants, ctx):
    assign(tenants.b, "bert@kund.example")
    assert emails(tenants.a.customer.id) == []
    assert emails(tenants.b.customer.id) == ["bert@kund.example"]


# --- S22: audited ---------------------------------------------------------------------------


def test_s22_assign_and_unassign_are_audited(tenants, ctx):
    a = tenants.a
    assignment_id = assign(a, "Anna@Kund.example").id
    sku = db.session.get(LicenseAssignment, assignment_id).product.sku
    (assigned,) = events("license.assigned")
    assert (assigned.actor_id, assigned.customer_id, assigned.reseller_id) == (
        a.vip_admin.id,
        a.customer.id,
        a.reseller.id,
    )
    assert (assigned.object_type, assigned.object_id) == ("license_assignment", str(assignment_id))
    assert assigned.details == {"product": sku, "email": "anna@kund.example"}

    removed = unassign(a, assignment_id)
    assert removed.id == assignment_id
    assert db.session.get(LicenseAssignment, assignment_id) is None
    (unassigned,) = events("license.unassigned")
    assert (unassigned.actor_id, unassigned.customer_id) == (a.vip_admin.id, a.customer.id)
    assert (unassigned.object_type, unassigned.object_id) == (
        "license_assignment",
        str(assignment_id),
    )
    assert unassigned.details == {"product": sku, "email": "anna@kund.example"}

    # A second unassign finds nothing and writes nothing.
    refused(lambda: unassign(a, assignment_id), NotVisible)
    assert len(events("license.unassigned")) == 1


def test_s22_assignments_of_lists_by_product_and_email(tenants, ctx):
    a = tenants.a
    pending(a, {"Illustrator": 2})
    for email, name in (("cecilia@kund.example", "Photoshop"), ("anna@kund.example", "Photoshop")):
        assign(a, email, name)
    assign(a, "bo@kund.example", "Illustrator")
    grouped = assignments_of(customer=db.session.get(Customer, a.customer.id))
    assert {pid_: [x.user_email for x in items] for pid_, items in grouped.items()} == {
        pid("Photoshop"): ["anna@kund.example", "cecilia@kund.example"],
        pid("Illustrator"): ["bo@kund.example"],
    }


# --- R6 from both sides: cancelling an authorization whose licenses are in use ---------------


def test_r6_an_assignment_beyond_the_ordered_licenses_blocks_the_cancel_until_unassigned(
    tenants, ctx
):
    a = tenants.a
    pa_id = a.authorization.id
    assignment_id = assign(a, "anna@kund.example").id
    error = refused(lambda: cancel(a, pa_id))
    assert "licenses of Photoshop are assigned" in english(error)
    assert pa_status(pa_id) == AuthorizationStatus.PENDING
    assert not authorizations.can_cancel(db.session.get(PurchaseAuthorization, pa_id))

    unassign(a, assignment_id)
    assert authorizations.can_cancel(db.session.get(PurchaseAuthorization, pa_id))
    cancel(a, pa_id)
    assert pa_status(pa_id) == AuthorizationStatus.CANCELLED
    # With its licenses gone, the product can no longer be assigned.
    refused(lambda: assign(a, "anna@kund.example"), NotVisible)


def test_r6_assignments_within_the_ordered_licenses_do_not_block_the_cancel(tenants, ctx):
    a = tenants.a
    order(a, {"Photoshop": 2})
    assign_many(a, 2)
    cancel(a, a.authorization.id)
    assert pa_status(a.authorization.id) == AuthorizationStatus.CANCELLED
    assert stock(a.customer.id) == {"Photoshop": (2, 0, 2, 0, 0)}
    error = refused(lambda: assign(a, "third@kund.example"))
    assert "All 2 licenses of Photoshop are assigned" in english(error)


def test_r6_one_assignment_beyond_the_ordered_licenses_blocks_the_cancel(tenants, ctx):
    a = tenants.a
    order(a, {"Photoshop": 2})
    ids = assign_many(a, 3)
    refused(lambda: cancel(a, a.authorization.id))
    unassign(a, ids[0])
    cancel(a, a.authorization.id)
    assert pa_status(a.authorization.id) == AuthorizationStatus.CANCELLED


# --- S23: at the same moment ----------------------------------------------------------------


def _at_once(app, calls: list[Callable[[], object]]) -> list:
    """Runs each call in its own thread and app context, released together by a barrier;
    returns "ok" or the error each raised."""
    start = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index: int) -> None:
        with app.test_request_context():
            try:
                start.wait(timeout=10)
                calls[index]()
                outcomes[index] = "ok"
            except Exception as error:  # noqa: BLE001 - reported by the assertions
                outcomes[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _meet_after_counting(monkeypatch) -> None:
    """Each assignment waits (briefly) for the other after counting the licenses, so both
    would count the same free license, were they not serialized."""
    meet = threading.Barrier(2)
    original = licenses.license_inventory

    def count_then_meet(**kwargs):
        result = original(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait(timeout=1.5)
        return result

    monkeypatch.setattr(licenses, "license_inventory", count_then_meet)


@pytest.mark.parametrize("interleave", [False, True], ids=["barrier", "both-past-the-count"])
def test_s23_r6_the_last_license_assigned_twice_at_once_goes_to_one(
    app, tenants, monkeypatch, interleave
):
    a = tenants.a
    with in_app(app):
        assign_many(a, 4)  # 5 pending: one left
    if interleave:
        _meet_after_counting(monkeypatch)
    outcomes = _at_once(
        app,
        [
            lambda: assign(a, "first@kund.example"),
            lambda: assign(a, "second@kund.example"),
        ],
    )
    assert outcomes.count("ok") == 1, outcomes
    (refusal,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refusal, DomainError), outcomes
    winner = ["first@kund.example", "second@kund.example"][outcomes.index("ok")]
    with in_app(app):
        assert "All 5 licenses of Photoshop are assigned" in english(refusal)
        assigned = emails(a.customer.id)
        assert len(assigned) == 5 and winner in assigned
        assert len(events("license.assigned")) == 5


def test_s23_one_email_assigned_twice_at_once_is_kept_once(app, tenants, monkeypatch):
    a = tenants.a
    _meet_after_counting(monkeypatch)
    outcomes = _at_once(
        app, [lambda: assign(a, "anna@kund.example"), lambda: assign(a, "ANNA@kund.example")]
    )
    assert outcomes.count("ok") == 1, outcomes
    (refusal,) = [o for o in outcomes if o != "ok"]
    assert isinstance(refusal, DomainError) and refusal.field == "email", outcomes
    with in_app(app):
        assert emails(a.customer.id) == ["anna@kund.example"]
        assert len(events("license.assigned")) == 1


def test_s23_two_unassigns_of_one_assignment_at_once_succeed_once(app, tenants, monkeypatch):
    a = tenants.a
    with in_app(app):
        assignment_id = assign(a, "anna@kund.example").id
    outcomes = _at_once(app, [lambda: unassign(a, assignment_id)] * 2)
    assert outcomes.count("ok") == 1, outcomes
    (refusal,) = [o for o in outcomes if o != "ok"]
    # Seen gone (404) or lost the delete ("already unassigned"): never a 500, never twice.
    assert isinstance(refusal, NotVisible | DomainError), outcomes
    with in_app(app):
        assert emails(a.customer.id) == []
        assert len(events("license.unassigned")) == 1


def _invariant_holds(app, customer_id: int) -> None:
    """No product has more licenses assigned than the customer owns and has pending."""
    with in_app(app):
        for name, (owned, waiting, assigned, _, _) in stock(customer_id).items():
            assert assigned <= owned + waiting, (name, owned, waiting, assigned)


@pytest.mark.parametrize(
    "first", ["cancel", "assign"], ids=["assign-during-cancel", "cancel-during-assign"]
)
def test_s23_r6_an_assignment_racing_a_cancel_never_outlives_its_licenses(
    app, tenants, monkeypatch, first
):
    """The fixture authorization (5 Photoshop, nothing ordered) is cancelled while the VIP
    admin assigns one of its licenses: either the cancel is refused or the assignment is."""
    a = tenants.a
    outcome: dict = {}
    threads: list[threading.Thread] = []

    def run(name: str, call: Callable) -> None:
        with in_app(app):
            try:
                call()
                outcome[name] = "ok"
            except (DomainError, NotVisible) as error:
                outcome[name] = error

    def do_cancel():
        cancel(a, a.authorization.id)

    def do_assign():
        assign(a, "racer@kund.example")

    def then_the_other(result):
        """The first action has checked; the other runs now (or waits for its lock)."""
        if not threads:
            other = ("assign", do_assign) if first == "cancel" else ("cancel", do_cancel)
            thread = threading.Thread(target=run, args=other)
            threads.append(thread)
            thread.start()
            thread.join(timeout=3)
        return result

    if first == "cancel":
        original = authorizations.assigned_beyond_ordered
        monkeypatch.setattr(
            authorizations,
            "assigned_beyond_ordered",
            lambda pa: then_the_other(original(pa)),
        )
        run("cancel", do_cancel)
    else:
        original_inventory = licenses.license_inventory
        monkeypatch.setattr(
            licenses,
            "license_inventory",
            lambda **kwargs: then_the_other(original_inventory(**kwargs)),
        )
        run("assign", do_assign)
    for thread in threads:
        thread.join(timeout=60)
    assert set(outcome) == {"cancel", "assign"}, outcome
    assert [name for name, result in outcome.items() if result == "ok"] != [], outcome
    _invariant_holds(app, a.customer.id)
    with in_app(app):
        cancelled = pa_status(a.authorization.id) == AuthorizationStatus.CANCELLED
        assert cancelled is (emails(a.customer.id) == []), outcome


def test_s23_r7_an_assignment_racing_a_return_approval_never_outlives_its_licenses(
    app, tenants, monkeypatch
):
    a = tenants.a
    with in_app(app):
        cancel(a, a.authorization.id)  # nothing pending: only the order's licenses count
        order_id = order(a, {"Photoshop": 3})
        line_id = orders.get_order_for(user=user(a.sales), order_id=order_id).lines[0].id
        return_id = request_return(
            user=user(a.sales),
            order_id=order_id,
            today=TODAY,
            quantities={line_id: 2},
            reason="Too many",
        ).id
        assign(a, "one@kund.example")  # 3 owned, 1 assigned: the return of 2 still fits
    outcome: dict = {}
    threads: list[threading.Thread] = []

    def assign_meanwhile():
        with in_app(app):
            try:
                assign(a, "two@kund.example")
                outcome["assign"] = "ok"
            except (DomainError, NotVisible) as error:
                outcome["assign"] = error

    original = orders.license_inventory

    def counted_then_assign(**kwargs):
        result = original(**kwargs)
        if not threads:
            thread = threading.Thread(target=assign_meanwhile)
            threads.append(thread)
            thread.start()
            thread.join(timeout=3)
        return result

    monkeypatch.setattr(orders, "license_inventory", counted_then_assign)
    with in_app(app):
        try:
            decide_return(
                user=user(a.admin), return_id=return_id, approve=True, comment="", now=NOW
            )
            outcome["approve"] = "ok"
        except DomainError as error:
            outcome["approve"] = error
    for thread in threads:
        thread.join(timeout=60)
    assert set(outcome) == {"approve", "assign"}, outcome
    _invariant_holds(app, a.customer.id)
