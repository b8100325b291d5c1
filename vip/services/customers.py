"""Customers: creation with the VIP invitation and the list every reseller user works from."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from babel import Locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from vip.extensions import db
from vip.models import Customer, CustomerStatus, MarketSegment, User
from vip.services import audit, events
from vip.services.access import require, visible_customers
from vip.services.accounts import PERSON_NAME_LENGTH, email_address, language_code
from vip.services.dashboard import customer_condition
from vip.services.errors import DomainError, FieldChecks, NotVisible
from vip.services.free_text import free_text
from vip.services.invitations import issue_invitation
from vip.services.listing import (
    CustomerPage,
    capped_counts,
    common_word_walk,
    paginate,
    search_clause,
)

COMPANY_NAME_LENGTH = (4, 80)

#: sort key -> column; "-key" sorts descending.
SORTS = {
    "name": Customer.company_name,
    "vip_id": Customer.vip_id,
    "status": Customer.status,
    "created": Customer.created_at,
    "anniversary": Customer.anniversary_date,
}


def _filtered(
    user: User,
    *,
    search: str,
    status: str,
    attention: str = "",
    today: date | None = None,
    anniversary_from: date | None = None,
    anniversary_to: date | None = None,
):
    """The user's customers narrowed by the filters the list and the API share."""
    require(user, "customers.view")
    query = visible_customers(user)
    search = search.strip()
    if search:
        query = query.where(search_clause(search))
    if status in {s.value for s in CustomerStatus}:
        query = query.where(Customer.status == CustomerStatus(status))
    if today is not None and (condition := customer_condition(attention, today)) is not None:
        query = query.where(condition)
    if anniversary_from is not None:
        query = query.where(Customer.anniversary_date >= anniversary_from)
    if anniversary_to is not None:
        query = query.where(Customer.anniversary_date <= anniversary_to)
    return query


def list_customers(
    *,
    user: User,
    search: str = "",
    status: str = "",
    attention: str = "",
    today: date | None = None,
    anniversary: date | None = None,
    sort: str = "name",
    page: int = 1,
    page_size: int = 25,
) -> CustomerPage:
    """One count and one page query, whatever the data size. `attention` narrows the list
    to the customers of one of the dashboard's sections (on `today`), `anniversary` to
    those with that anniversary date (a calendar feed's day of many links there)."""
    # The search is added below: by the trigram index, or walking the name index.
    query = _filtered(
        user,
        search="",
        status=status,
        attention=attention,
        today=today,
        anniversary_from=anniversary,
        anniversary_to=anniversary,
    )
    key = sort.removeprefix("-")
    column = SORTS.get(key, Customer.company_name)
    ordering = column.desc() if sort.startswith("-") else column.asc()
    search = search.strip()
    when_many = None
    if search:
        if column is Customer.company_name:
            # A common word: walk the customers by name instead (listing.common_word_walk).
            when_many = common_word_walk(
                query, search, reseller_id=user.reseller_id, descending=sort.startswith("-")
            )
        query = query.where(search_clause(search))
    return paginate(
        query, [ordering, Customer.id], page=page, page_size=page_size, when_many=when_many
    )


@dataclass(frozen=True)
class CustomerSlice:
    """Customers in the order they were created, after a cursor (the API's pages)."""

    items: list[Customer]
    next_after: int | None  # the cursor of the next slice; None: this is the last one


def customers_after(
    *,
    user: User,
    search: str = "",
    status: str = "",
    anniversary_from: date | None = None,
    anniversary_to: date | None = None,
    after: int | None = None,
    limit: int = 50,
) -> CustomerSlice:
    """Up to `limit` customers after the cursor `after`: the customers list's filters, plus
    a range of anniversary dates, in one query on the primary key (stable while rows are
    added, whatever the data size)."""
    query = _filtered(
        user,
        search=search,
        status=status,
        anniversary_from=anniversary_from,
        anniversary_to=anniversary_to,
    )
    if after is not None:
        query = query.where(Customer.id > after)
    rows = list(db.session.scalars(query.order_by(Customer.id).limit(limit + 1)))
    items = rows[:limit]
    return CustomerSlice(items, items[-1].id if len(rows) > limit else None)


def customer_by_vip_id(*, user: User, vip_id: str, action: str = "customers.view") -> Customer:
    """The customer with this VIP ID among those the user may see, or NotVisible (404)."""
    require(user, action)
    customer = db.session.scalar(visible_customers(user).where(Customer.vip_id == vip_id))
    if customer is None:
        raise NotVisible(f"customer {vip_id}")
    return customer


def issue_vip_id() -> str:
    """Ten digits, unique; customers are never deleted, so an issued id is never reused."""
    while True:
        candidate = str(secrets.randbelow(9 * 10**9) + 10**9)
        if db.session.scalar(select(Customer.id).where(Customer.vip_id == candidate)) is None:
            return candidate


def market_segment_of(value: str | None, *, field: str = "market_segment") -> MarketSegment:
    if value not in {segment.value for segment in MarketSegment}:
        raise DomainError(_l("Choose a market segment."), field=field)
    return MarketSegment(value)


def country_code(value: str | None, *, field: str = "country") -> str:
    """A country as ISO 3166 alpha-2 (SE, FI, ...), one the console knows by name."""
    code = (value or "").strip().upper()
    if len(code) != 2 or not code.isalpha() or code == "ZZ" or code not in KNOWN_TERRITORIES:
        raise DomainError(_l("Choose a country."), field=field)
    return code


KNOWN_TERRITORIES = frozenset(Locale("en").territories)


def create_customer(
    *,
    user: User,
    today: date,
    company_name: str,
    country: str,
    market_segment: str,
    admin_name: str,
    admin_email: str,
    admin_language: str,
) -> Customer:
    """Creates the customer, issues its VIP ID and sends the invitation at once (R1)."""
    require(user, "customers.create")
    check = FieldChecks()
    company_name = check(free_text, company_name, field="company_name", length=COMPANY_NAME_LENGTH)
    country = check(country_code, country)
    segment = check(market_segment_of, market_segment)
    admin_name = check(free_text, admin_name, field="admin_name", length=PERSON_NAME_LENGTH)
    admin_email = check(email_address, admin_email, field="admin_email")
    admin_language = check(language_code, admin_language, field="admin_language")
    check.raise_if_any()
    customer = Customer(
        reseller_id=user.reseller_id,
        company_name=company_name,
        country=country,
        market_segment=segment,
        admin_name=admin_name,
        admin_email=admin_email,
        admin_language=admin_language,
        vip_id=issue_vip_id(),
        status=CustomerStatus.INVITED,
    )
    db.session.add(customer)
    db.session.flush()
    audit.record(
        actor=user,
        action="customer.created",
        customer=customer,
        object_type="customer",
        object_id=customer.id,
        details={
            "company_name": customer.company_name,
            "vip_id": customer.vip_id,
            "market_segment": customer.market_segment.value,
            "country": customer.country,
            "admin_email": customer.admin_email,
        },
    )
    events.customer_created(customer)
    issue_invitation(customer=customer, actor=user, today=today)
    db.session.commit()
    return customer


def status_counts(*, user: User) -> dict[str, int]:
    """Customers per status, each counted up to COUNT_CAP + 1 on its index range, in one
    statement."""
    require(user, "customers.view")
    statuses = list(CustomerStatus)
    counts = capped_counts(
        [visible_customers(user).where(Customer.status == status) for status in statuses]
    )
    return {status.value: count for status, count in zip(statuses, counts, strict=True)}
