"""Demo data for `vip demo`: two resellers, customers in every status, dates relative to today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    LicenseType,
    MarketSegment,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    Reseller,
    Role,
)
from vip.services import audit, commitments, discount_levels
from vip.services.accounts import create_user
from vip.services.authorizations import issue_authorization_number, order_window_days
from vip.services.catalog import load_catalog
from vip.services.customers import create_customer
from vip.services.invitations import accept_invitation, accept_with_account, token_for
from vip.services.orders import request_return
from vip.services.renewals import record_renewal
from vip.services.terms import add_months, months_to_anniversary

DEMO_RESELLER = "Demo Reseller AB"
OTHER_RESELLER = "Nordic Licensing Oy"
DEFAULT_PASSWORD = "kanelbulle-vinter-2026"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    where: str


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=UTC)


def _product(sku_family: str, license_type: LicenseType, segment: MarketSegment) -> Product:
    return db.session.scalar(
        select(Product)
        .where(
            Product.name == sku_family,
            Product.license_type == license_type,
            Product.market_segment == segment,
            Product.education_device.is_(False),
        )
        .limit(1)
    )


def _authorization(customer, user, *, created: date, lines, status, license_type, po=None):
    pa = PurchaseAuthorization(
        number=issue_authorization_number(),
        customer=customer,
        license_type=license_type,
        deployment_date=created,
        customer_po_number=po,
        status=status,
        created_at=_at(created),
        created_on=created,
        created_by=user,
        order_due_on=created + timedelta(days=order_window_days()),
    )
    if status == AuthorizationStatus.CANCELLED:
        pa.cancelled_at = _at(created + timedelta(days=2))
        pa.cancelled_by = user
    db.session.add(pa)
    for product, quantity in lines:
        db.session.add(
            PurchaseAuthorizationLine(authorization=pa, product=product, quantity=quantity)
        )
    db.session.flush()
    audit.record(
        actor=user,
        action="authorization.created",
        customer=customer,
        object_type="purchase_authorization",
        object_id=pa.number,
        details={"lines": [[p.sku, q] for p, q in lines]},
    )
    return pa


def _order(
    customer,
    user,
    pa,
    *,
    order_date: date,
    order_type: OrderType,
    duration_months: int,
    term_ends_on: date,
):
    order = Order(
        customer=customer,
        vendor_order_number=f"{order_date:%y%m%d}{customer.id:04d}{duration_months:02d}",
        order_type=order_type,
        authorization=pa,
        order_date=order_date,
        duration_months=duration_months,
        term_ends_on=term_ends_on,
        status=OrderStatus.PLACED,
        created_at=_at(order_date),
        created_by=user,
    )
    db.session.add(order)
    for line in pa.lines:
        db.session.add(
            OrderLine(
                order=order,
                product=line.product,
                sku=line.product.sku,
                quantity=line.quantity,
                status=OrderStatus.PLACED,
            )
        )
    pa.status = AuthorizationStatus.ORDERED
    db.session.flush()
    discount_levels.apply_order(
        customer=customer,
        quantities={line.product.id: line.quantity for line in pa.lines},
        new_term=order_type == OrderType.NEW,
        user=user,
    )
    audit.record(
        actor=user,
        action="order.recorded",
        customer=customer,
        object_type="order",
        object_id=order.id,
        details={"authorization": pa.number, "order_date": order_date.isoformat()},
    )
    return order


def _customer(user, today, *, name, segment, admin, email, language="sv", country="SE"):
    customer = create_customer(
        user=user,
        today=today,
        company_name=name,
        country=country,
        market_segment=segment,
        admin_name=admin,
        admin_email=email,
        admin_language=language,
    )
    customer.created_at = _at(today)
    return customer


def _mark_accepted(customer: Customer) -> None:
    invitation = customer.invitations[0]
    invitation.accepted_at = _at(invitation.created_at.date() + timedelta(days=1))
    customer.status = CustomerStatus.ACTIVE


def _renewal(customer, user, *, order_date: date, lines):
    """A renewal recorded through the service, as on the day it was ordered."""
    db.session.commit()
    order = record_renewal(
        user=user,
        customer_id=customer.id,
        today=order_date,
        vendor_order_number=f"R{order_date:%y%m%d}{customer.id:04d}",
        order_date=order_date,
        quantities={product.id: quantity for product, quantity in lines},
    )
    order.created_at = _at(order_date)
    db.session.commit()


def _first_order(customer, user, *, anniversary: date, license_type, lines):
    """The first order whose term ends on about `anniversary`: the anniversary is then
    derived from the order date, as recording the order does."""
    order_date = add_months(anniversary, -12)
    anniversary = add_months(order_date, 12)
    pa = _authorization(
        customer,
        user,
        created=order_date - timedelta(days=min(3, order_window_days())),
        lines=lines,
        status=AuthorizationStatus.PENDING,
        license_type=license_type,
    )
    _order(
        customer,
        user,
        pa,
        order_date=order_date,
        order_type=OrderType.NEW,
        duration_months=12,
        term_ends_on=anniversary,
    )
    customer.anniversary_date = anniversary


def load_demo(*, today: date, password: str = DEFAULT_PASSWORD) -> tuple[bool, list[DemoLogin]]:
    """Returns (created, logins). Does nothing when the demo reseller exists already."""
    logins = [
        DemoLogin("anna@reseller.example", "reseller_admin", DEMO_RESELLER),
        DemoLogin("erik@reseller.example", "reseller_sales", DEMO_RESELLER),
        DemoLogin("other@reseller2.example", "reseller_admin", OTHER_RESELLER),
        DemoLogin("it@kund.example", "vip_admin", "Kund AB, Kund Oy"),
    ]
    if db.session.scalar(select(Reseller).where(Reseller.name == DEMO_RESELLER)):
        return False, logins
    load_catalog()
    demo = Reseller(
        name=DEMO_RESELLER,
        country="SE",
        time_zone="Europe/Stockholm",
        contact_email="order@reseller.example",
        contact_phone="+46 8 123 456 00",
    )
    other = Reseller(
        name=OTHER_RESELLER,
        country="FI",
        time_zone="Europe/Helsinki",
        contact_email="sales@reseller2.example",
    )
    db.session.add_all([demo, other])
    db.session.commit()
    anna = create_user(
        email="anna@reseller.example",
        name="Anna Lindqvist",
        password=password,
        role=Role.RESELLER_ADMIN,
        reseller=demo,
    )
    erik = create_user(
        email="erik@reseller.example",
        name="Erik Johansson",
        password=password,
        role=Role.RESELLER_SALES,
        reseller=demo,
    )
    olli = create_user(
        email="other@reseller2.example",
        name="Olli Virtanen",
        password=password,
        role=Role.RESELLER_ADMIN,
        reseller=other,
        language="en",
    )

    team_c = LicenseType.TEAM
    ent = LicenseType.ENTERPRISE
    com, gov, edu = MarketSegment.COMMERCIAL, MarketSegment.GOVERNMENT, MarketSegment.EDUCATION

    # Active, anniversary 40 days ahead, a VIP admin with assigned licenses.
    kund = _customer(
        anna,
        today - timedelta(days=330),
        name="Kund AB",
        segment="commercial",
        admin="Ingrid Tech",
        email="it@kund.example",
    )
    _first_order(
        kund,
        anna,
        anniversary=today + timedelta(days=40),
        license_type=team_c,
        lines=[
            (_product("Creative Cloud All Apps", team_c, com), 25),
            (_product("Acrobat Pro", team_c, com), 40),
        ],
    )
    db.session.commit()
    accept_invitation(
        token=token_for(kund.invitations[0]),
        password=password,
        today=today - timedelta(days=329),
        now=_at(today - timedelta(days=329)),
    )
    # A three-year commitment of 70 its 65 licenses fall short of: at risk (docs/rules.md).
    commitments.request_commitment(
        user=anna,
        customer_id=kund.id,
        today=today,
        minimum_quantity=70,
        requested_on=today - timedelta(days=200),
    )
    commitments.accept_commitment(
        user=anna, customer_id=kund.id, today=today, starts_on=today - timedelta(days=190)
    )
    cc = _product("Creative Cloud All Apps", team_c, com)
    for number in range(1, 11):
        db.session.add(
            LicenseAssignment(
                customer=kund,
                product=cc,
                user_email=f"designer{number}@kund.example",
                assigned_at=_at(today - timedelta(days=300)),
            )
        )

    # Invited only: the link is waiting in the outbox.
    _customer(
        erik,
        today - timedelta(days=2),
        name="Nordljus Design AB",
        segment="commercial",
        admin="Maja Berg",
        email="maja@nordljus.example",
    )
    _customer(
        anna,
        today - timedelta(days=45),
        name="Östra Gymnasiet",
        segment="education",
        admin="Per Ek",
        email="per.ek@ostra.example",
    )

    # Active, pending authorization due in 11 days, and a cancelled one.
    bryggeri = _customer(
        erik,
        today - timedelta(days=180),
        name="Bryggeriet i Norr AB",
        segment="commercial",
        admin="Sara Nord",
        email="sara@bryggeriet.example",
        language="en",
    )
    _mark_accepted(bryggeri)
    _authorization(
        bryggeri,
        erik,
        created=today - timedelta(days=3),
        lines=[(_product("Photoshop", team_c, com), 5), (_product("Illustrator", team_c, com), 3)],
        status=AuthorizationStatus.PENDING,
        license_type=team_c,
        po="PO-2026-118",
    )
    # Översikt: an authorization whose order is due in 2 days.
    _authorization(
        bryggeri,
        erik,
        created=today - timedelta(days=max(order_window_days() - 2, 0)),
        lines=[(_product("Lightroom", team_c, com), 4)],
        status=AuthorizationStatus.PENDING,
        license_type=team_c,
    )
    _authorization(
        bryggeri,
        erik,
        created=today - timedelta(days=20),
        lines=[(_product("InDesign", team_c, com), 2)],
        status=AuthorizationStatus.CANCELLED,
        license_type=team_c,
    )

    # An add-on ordered 5 days ago, inside its return window, with a return requested.
    _first_order(
        bryggeri,
        erik,
        anniversary=today + timedelta(days=200),
        license_type=team_c,
        lines=[(_product("Photoshop", team_c, com), 6)],
    )
    add_on = _authorization(
        bryggeri,
        erik,
        created=today - timedelta(days=9),
        lines=[(_product("Creative Cloud All Apps", team_c, com), 10)],
        status=AuthorizationStatus.PENDING,
        license_type=team_c,
    )
    order = _order(
        bryggeri,
        erik,
        add_on,
        order_date=today - timedelta(days=5),
        order_type=OrderType.ADD_ON,
        duration_months=7,
        term_ends_on=bryggeri.anniversary_date,
    )
    db.session.commit()
    request_return(
        user=erik,
        order_id=order.id,
        today=today,
        quantities={order.lines[0].id: 3},
        reason="Three designers left the project.",
    )
    # Översikt: an add-on ordered 12 days ago, whose return window closes in 2 days.
    late_add_on = _authorization(
        bryggeri,
        erik,
        created=today - timedelta(days=13),
        lines=[(_product("Acrobat Pro", team_c, com), 4)],
        status=AuthorizationStatus.PENDING,
        license_type=team_c,
    )
    _order(
        bryggeri,
        erik,
        late_add_on,
        order_date=today - timedelta(days=12),
        order_type=OrderType.ADD_ON,
        duration_months=months_to_anniversary(
            today - timedelta(days=12), bryggeri.anniversary_date
        ),
        term_ends_on=bryggeri.anniversary_date,
    )
    db.session.commit()

    # Delayed (Försenad): a pending authorization 20 days old.
    skola = _customer(
        anna,
        today - timedelta(days=200),
        name="Fjällskolan",
        segment="education",
        admin="Lars Fjäll",
        email="lars@fjallskolan.example",
    )
    _mark_accepted(skola)
    _first_order(
        skola,
        anna,
        anniversary=today + timedelta(days=170),
        license_type=ent,
        lines=[(_product("Creative Cloud All Apps", ent, edu), 120)],
    )
    _authorization(
        skola,
        anna,
        created=today - timedelta(days=order_window_days() + 6),
        lines=[(_product("Adobe Express", ent, edu), 300)],
        status=AuthorizationStatus.PENDING,
        license_type=ent,
        po="FS-4471",
    )
    skola.status_before_delay = CustomerStatus.ACTIVE
    skola.status = CustomerStatus.DELAYED
    audit.record(
        actor=None, action="customer.delayed", customer=skola, details={"status": "delayed"}
    )

    # Inactive: anniversary 40 days ago, no renewal.
    kommun = _customer(
        anna,
        today - timedelta(days=420),
        name="Stadsbyggnadskontoret Malmö",
        segment="government",
        admin="Gun Malm",
        email="gun@malmo.example",
    )
    _mark_accepted(kommun)
    _first_order(
        kommun,
        anna,
        anniversary=today - timedelta(days=40),
        license_type=ent,
        lines=[(_product("Acrobat Pro", ent, gov), 80)],
    )
    kommun.status = CustomerStatus.INACTIVE
    audit.record(
        actor=None,
        action="customer.access_removed",
        customer=kommun,
        details={"status": "inactive"},
    )

    # Renewals in several window states.
    for name, days, admin, email in (
        ("Kustbanken AB", 10, "Nils Kust", "nils@kustbanken.example"),
        ("Solsidan Media AB", 75, "Eva Sol", "eva@solsidan.example"),
        ("Granit & Partners HB", -12, "Olof Sten", "olof@granit.example"),
        # Översikt: a renewal window opening in 4 days, an anniversary in 3 days.
        ("Havsbris Reklam AB", 34, "Siv Hav", "siv@havsbris.example"),
        ("Ekbacken Bygg AB", 3, "Bo Ek", "bo@ekbacken.example"),
    ):
        customer = _customer(
            erik,
            today - timedelta(days=365 - days + 5),
            name=name,
            segment="commercial",
            admin=admin,
            email=email,
        )
        _mark_accepted(customer)
        _first_order(
            customer,
            erik,
            anniversary=today + timedelta(days=days),
            license_type=team_c,
            lines=[
                (_product("Creative Cloud All Apps", team_c, com), 8),
                (_product("Adobe Stock Small (10 assets/month)", team_c, com), 2),
            ],
        )

    # Översikt and the Outbox: an invitation that could not be delivered.
    db.session.execute(
        update(Notification)
        .where(Notification.recipient == "maja@nordljus.example")
        .values(
            status=NotificationStatus.FAILED,
            attempts=6,
            last_error="SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable",
        )
    )

    # Renewed once already: its Förlängningshistorik has an entry.
    arkitekter = _customer(
        anna,
        today - timedelta(days=610),
        name="Lindholmen Arkitekter AB",
        segment="commercial",
        admin="Karin Lind",
        email="karin@lindholmen.example",
    )
    _mark_accepted(arkitekter)
    first_anniversary = today - timedelta(days=245)
    _first_order(
        arkitekter,
        anna,
        anniversary=first_anniversary,
        license_type=team_c,
        lines=[
            (_product("Creative Cloud All Apps", team_c, com), 12),
            (_product("Acrobat Pro", team_c, com), 6),
        ],
    )
    _renewal(
        arkitekter,
        erik,
        order_date=first_anniversary - timedelta(days=6),
        lines=[
            (_product("Creative Cloud All Apps", team_c, com), 14),
            (_product("Acrobat Pro", team_c, com), 6),
        ],
    )

    # The other reseller's data, which Demo Reseller AB must never see.
    helsinki = _customer(
        olli,
        today - timedelta(days=90),
        name="Helsinki Graphics Oy",
        segment="commercial",
        admin="Aino Koski",
        email="aino@hg.example",
        language="en",
        country="FI",
    )
    _mark_accepted(helsinki)
    db.session.commit()

    # The VIP admin of Kund AB administers Kund Oy of the other reseller too (one login,
    # the Admin Console's customer switcher), whose anniversary is 12 days ahead.
    kund_oy = _customer(
        olli,
        today - timedelta(days=355),
        name="Kund Oy",
        segment="commercial",
        admin="Ingrid Tech",
        email="it@kund.example",
        country="FI",
    )
    _first_order(
        kund_oy,
        olli,
        anniversary=today + timedelta(days=12),
        license_type=team_c,
        lines=[(_product("Acrobat Pro", team_c, com), 8)],
    )
    db.session.commit()
    accept_with_account(
        token=token_for(kund_oy.invitations[0]),
        password=password,
        today=today - timedelta(days=354),
        now=_at(today - timedelta(days=354)),
    )
    return True, logins
