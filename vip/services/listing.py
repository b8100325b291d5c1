"""Lists of customers, shared by the pages that show them (the customers list, the renewals
overview, the dashboard's sections): capped counts, pages, and the search."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Select, and_, column, func, literal_column, select, table
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from vip.extensions import db
from vip.models import Customer
from vip.models.customer_search import MIN_INDEXED_LENGTH
from vip.models.types import ID_MAX

#: Lists count their rows up to this many: beyond it they say "more than 1,000" instead of
#: counting a distributor's whole table on every page (README, "Performance").
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


def _capped(query: Select, id_column, cap: int | None) -> Select:
    cap = COUNT_CAP if cap is None else cap
    limited = query.with_only_columns(id_column).order_by(None).limit(cap + 1)
    return select(func.count()).select_from(limited.subquery())


def capped_count(query: Select, *, id_column=Customer.id, cap: int | None = None) -> int:
    """The rows of `query`, counted up to `cap` + 1 (COUNT_CAP unless given: an index
    range, never the table). `id_column` is the primary key of the rows counted, when they
    are not customers."""
    return db.session.scalar(_capped(query, id_column, cap)) or 0


def capped_counts(queries: list[Select], *, id_column=Customer.id) -> list[int]:
    """`capped_count` of each query, all in one statement."""
    counts = [_capped(query, id_column, None).scalar_subquery() for query in queries]
    return [count or 0 for count in db.session.execute(select(*counts)).one()]


def paginate(
    query: Select,
    ordering: list,
    *,
    page: int,
    page_size: int,
    id_column=Customer.id,
    when_many: Select | None = None,
) -> CustomerPage:
    """A capped count and one page query (one row more, to know if another page follows).
    `id_column` is the primary key of the rows, when they are not customers. `when_many`
    is the same rows asked another way, for the page when they are more than COUNT_CAP
    (a search for a common word: see `search_walk_clause`)."""
    total = capped_count(query, id_column=id_column)
    # A page past every possible row: clamped, so that its offset fits the database (S28).
    page = min(max(1, page), ID_MAX // page_size)
    if total <= COUNT_CAP:
        page = min(page, max(1, math.ceil(total / page_size)))
    window = query.order_by(*ordering).limit(page_size + 1).offset((page - 1) * page_size)
    if total > COUNT_CAP and when_many is not None:
        # The walk reads ids alone (an index holds all it tests), then the page's rows.
        walk = when_many.with_only_columns(id_column).order_by(*ordering)
        walk = walk.limit(page_size + 1).offset((page - 1) * page_size)
        window = when_many.where(id_column.in_(walk)).order_by(*ordering)
    rows = list(db.session.scalars(window))
    return CustomerPage(
        items=rows[:page_size],
        total=total,
        page=page,
        page_size=page_size,
        has_more=len(rows) > page_size,
    )


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


_FULL_TEXT = table("customer_search", column("rowid"))


def search_clause(search: str):
    """Company name, VIP ID or VIP admin email containing the text, case-insensitively
    (on the stored search key: no function call per row). From three characters a trigram
    index finds the candidates (vip.models.customer_search): on PostgreSQL pg_trgm's GIN
    index serves the LIKE itself; on SQLite the FTS5 table joins the query (its matches in
    id order: a capped count stops after the cap, where an `IN` on them read them all).
    The unary + keeps SQLite from looking the table up by rowid, one MATCH per customer,
    which the planner would choose when an index holds every other column it needs."""
    contains = Customer.search_key.like(_like_pattern(search), escape="\\")
    text = search.casefold()
    if len(text) < MIN_INDEXED_LENGTH or db.session.get_bind().dialect.name != "sqlite":
        return contains
    phrase = '"' + text.replace('"', '""') + '"'
    return and_(
        UnaryExpression(_FULL_TEXT.c.rowid, operator=operators.custom_op("+")) == Customer.id,
        literal_column("customer_search").op("MATCH")(phrase),
        contains,
    )


def search_walk_clause(search: str):
    """The same matches as `search_clause`, in a form no trigram index serves (the stored
    key holds the text: `instr` on SQLite, `strpos` on PostgreSQL), so that the planner
    walks the name index in the page's order and stops after the page. Cheap exactly when
    the text is common: with more than COUNT_CAP matches the walk meets one every few rows,
    where the trigram index would read every match and sort them all (README,
    "Performance")."""
    text = search.casefold()
    if db.session.get_bind().dialect.name == "postgresql":
        return func.strpos(Customer.search_key, text) > 0
    return func.instr(Customer.search_key, text) > 0
