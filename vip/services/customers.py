"""Customers: creation with the VIP invitation (R1) and the list every reseller user works from."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, column, func, literal_column, select, table

from vip.extensions import db
from vip.models import Customer, CustomerStatus, MarketSegment, User
from vip.models.customer_search import MIN_INDEXED_LENGTH
from vip.services import audit
from vip.services.access import require, visible_customers
from vip.services.errors import DomainError
from vip.services.invitations import issue_invitation

COMPANY_NAME_LENGTH = (4, 80)

#: sort key -> column; "-key" sorts descending.
SORTS = {
    "name": Customer.company_name,
    "vip_id": Customer.vip_id,
    "status": Customer.status,
    "created": Customer.created_at,
    "anniversary": Customer.anniversary_date,
}


#: Lists count their rows up to this many: beyond it they say "more than 1,000" instead of
#: counting a distributor's whole table on every page (DESIGN.md section 7).
COUNT_CAP = 1000


@dataclass(frozen=True)
class CustomerPage:
    items: list[Customer]
    total: int  # exact up to COUNT_CAP; COUNT_CAP + 1 means "more than COUNT_CAP"
    page: int
    page_size: int
    has_more: bool = False  # a row exists after this page

    @property
    def total_is_capped(self) -> bool:
        return self.total > COUNT_CAP

    @property
    def pages(self) -> int | None:
        """The number of pages, or None when there are too many rows to count."""
        if self.total_is_capped:
            return None
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.has_more


def capped_count(query: Select, *, id_column=Customer.id, cap: int | None = None) -> int:
    """The rows of `query`, counted up to `cap` + 1 (COUNT_CAP unless given: an index
    range, never the table). `id_column` is the primary key of the rows counted, when they
    are not customers."""
    cap = COUNT_CAP if cap is None else cap
    limited = query.with_only_columns(id_column).order_by(None).limit(cap + 1)
    return db.session.scalar(select(func.count()).select_from(limited.subquery())) or 0


def paginate(query: Select, ordering: list, *, page: int, page_size: int) -> CustomerPage:
    """A capped count and one page query (one row more, to know if another page follows)."""
    total = capped_count(query)
    page = max(1, page)
    if total <= COUNT_CAP:
        page = min(page, max(1, math.ceil(total / page_size)))
    rows = list(
        db.session.scalars(
            query.order_by(*ordering).limit(page_size + 1).offset((page - 1) * page_size)
        )
    )
    return CustomerPage(
        items=rows[:page_size],
        total=total,
        page=page,
        page_size=page_size,
        has_more=len(rows) > page_size,
    )


def search_key(*parts: str | None) -> str:
    """What a search matches: the parts case-folded, so that Å, Ä, Ö (and ß) fold like
    PostgreSQL's lower() and a plain LIKE finds them on both databases."""
    return " ".join(part for part in parts if part).casefold()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


_FULL_TEXT = table("customer_search", column("rowid"))


def search_clause(search: str):
    """Company name, VIP ID or VIP admin email containing the text, case-insensitively
    (on the stored search key: no function call per row). From three characters a trigram
    index finds the candidates (vip.models.customer_search): on PostgreSQL pg_trgm's GIN
    index serves the LIKE itself; on SQLite the FTS5 table is asked first."""
    contains = Customer.search_key.like(_like_pattern(search), escape="\\")
    text = search.casefold()
    if len(text) < MIN_INDEXED_LENGTH or db.session.get_bind().dialect.name != "sqlite":
        return contains
    phrase = '"' + text.replace('"', '""') + '"'
    candidates = select(_FULL_TEXT.c.rowid).where(
        literal_column("customer_search").op("MATCH")(phrase)
    )
    return and_(Customer.id.in_(candidates), contains)


def list_customers(
    *,
    user: User,
    search: str = "",
    status: str = "",
    attention: str = "",
    today: date | None = None,
    sort: str = "name",
    page: int = 1,
    page_size: int = 25,
) -> CustomerPage:
    """One count and one page query, whatever the data size. `attention` narrows the list
    to the customers of one of the dashboard's sections (on `today`)."""
    # The dashboard counts with this module's capped_count, so it is imported here.
    from vip.services.dashboard import customer_condition

    require(user, "customers.view")
    query = visible_customers(user)
    search = search.strip()
    if search:
        query = query.where(search_clause(search))
    if status in {s.value for s in CustomerStatus}:
        query = query.where(Customer.status == CustomerStatus(status))
    if today is not None and (condition := customer_condition(attention, today)) is not None:
        query = query.where(condition)
    key = sort.removeprefix("-")
    column = SORTS.get(key, Customer.company_name)
    ordering = column.desc() if sort.startswith("-") else column.asc()
    return paginate(query, [ordering, Customer.id], page=page, page_size=page_size)


def issue_vip_id() -> str:
    """Ten digits, unique; customers are never deleted, so an issued id is never reused."""
    while True:
        candidate = str(secrets.randbelow(9 * 10**9) + 10**9)
        if db.session.scalar(select(Customer.id).where(Customer.vip_id == candidate)) is None:
            return candidate


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
    company_name = " ".join(company_name.split())
    low, high = COMPANY_NAME_LENGTH
    if not low <= len(company_name) <= high:
        raise DomainError(
            _l("Use %(low)d to %(high)d characters.", low=low, high=high), field="company_name"
        )
    if market_segment not in {s.value for s in MarketSegment}:
        raise DomainError(_l("Choose a market segment."), field="market_segment")
    customer = Customer(
        reseller_id=user.reseller_id,
        company_name=company_name,
        country=country.upper(),
        market_segment=MarketSegment(market_segment),
        admin_name=" ".join(admin_name.split()),
        admin_email=admin_email.strip(),
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
    issue_invitation(customer=customer, actor=user, today=today)
    db.session.commit()
    return customer


def status_counts(*, user: User) -> dict[str, int]:
    """Customers per status, each counted up to COUNT_CAP + 1 on its index range."""
    require(user, "customers.view")
    return {
        status.value: capped_count(visible_customers(user).where(Customer.status == status))
        for status in CustomerStatus
    }
