"""Lists of customers, shared by the pages that show them (the customers list, the renewals
overview, the dashboard's sections): capped counts, pages, and the search."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Select,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    union_all,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from vip.extensions import db
from vip.models import Customer, CustomerTrigram
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


@dataclass(frozen=True)
class Walk:
    """The rows of a page asked another way: `page_ids(limit, offset)` selects the ids of
    a page's rows through an index walked in the page's order, stopping after the page;
    `rows` reads the rows of those ids."""

    page_ids: Callable[[int, int], Select]
    rows: Select


def paginate(
    query: Select,
    ordering: list,
    *,
    page: int,
    page_size: int,
    id_column=Customer.id,
    when_many: Callable[[], Walk] | None = None,
) -> CustomerPage:
    """A capped count and one page query (one row more, to know if another page follows).
    `id_column` is the primary key of the rows, when they are not customers. `when_many`
    makes the walk of the same rows for the page when they are more than COUNT_CAP (a
    search for a common word: see `common_word_walk`)."""
    total = capped_count(query, id_column=id_column)
    # A page past every possible row: clamped, so that its offset fits the database (S28).
    page = min(max(1, page), ID_MAX // page_size)
    if total <= COUNT_CAP:
        page = min(page, max(1, math.ceil(total / page_size)))
    window = query.order_by(*ordering).limit(page_size + 1).offset((page - 1) * page_size)
    if total > COUNT_CAP and when_many is not None:
        # The walk reads ids alone (an index holds all it tests), then the page's rows.
        walk = when_many()
        ids = walk.page_ids(page_size + 1, (page - 1) * page_size)
        window = walk.rows.where(id_column.in_(ids)).order_by(*ordering)
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


#: How many of a trigram's first customers by name are read to try it for a walk.
CUSTOMERS_TRIED = 40


def walked_trigram(reseller_id: int, text: str):
    """The trigram of `text` (case-folded, three characters or more) to walk by: its last,
    or its first when more of the first's first CUSTOMERS_TRIED customers by name hold
    the text. An expression the walk's own statement evaluates once (a bounded read):
    the walk by that trigram meets a match every few rows from its start. The last comes
    first because a word's end tells more than its start ("skog" and "skola" share
    "sko"); counting each trigram's customers instead would read thousands of rows each
    and still not tell where in the name order the matches are."""
    first, last = text[:3], text[-3:]
    if first == last:
        return literal(last)

    def matches(trigram: str):
        leading = (
            select(CustomerTrigram.customer_id)
            .where(CustomerTrigram.reseller_id == reseller_id, CustomerTrigram.trigram == trigram)
            .order_by(CustomerTrigram.company_name, CustomerTrigram.customer_id)
            .limit(CUSTOMERS_TRIED)
            .subquery()
        )
        return (
            select(func.count())
            .select_from(leading)
            .join(Customer, Customer.id == leading.c.customer_id)
            .where(search_walk_clause(text))
            .scalar_subquery()
        )

    return case((matches(first) > matches(last), literal(first)), else_=literal(last))


#: A walk by name is taken when this many of the first NAMES_TRIED names in the page's
#: order hold the text (the matches are spread from the start); otherwise the walk by
#: trigram.
NAMES_TRIED = 100
DENSE_FROM_THE_START = 10


def common_word_walk(
    rows: Select, search: str, *, reseller_id: int | None, descending: bool
) -> Walk:
    """The walk (`Walk`, for `paginate`) of the customers of `rows` whose search key holds
    `search`, by company name: cheap exactly when the text is common, where the trigram
    index would read every match and sort them all (README, "Performance").

    Two walks, of which one statement runs one, chosen by a bounded read it evaluates
    once: when DENSE_FROM_THE_START of the first NAMES_TRIED names hold the text, the name
    index itself (it holds the search key: no row read but the page's); otherwise, with
    three characters or more, the reseller's customers having one trigram of the text
    (`walked_trigram`) in name order (vip/models/customer_trigrams.py), which meets a
    match every few rows even when the matches sit together far on in the name order
    ("Nord…", "Öst…"), where the name index would read every name before them. Shorter
    texts, or a user of no reseller, walk the name index."""
    text = search.casefold()
    name = [Customer.company_name.desc() if descending else Customer.company_name, Customer.id]
    by_walk = rows.where(search_walk_clause(search))

    def by_name(limit, offset: int) -> Select:
        ids = by_walk.with_only_columns(Customer.id).order_by(*name)
        return ids.limit(limit).offset(offset)

    if len(text) < MIN_INDEXED_LENGTH or reseller_id is None:
        return Walk(page_ids=by_name, rows=by_walk)
    leading = rows.with_only_columns(Customer.search_key).order_by(*name).limit(NAMES_TRIED)
    leading = leading.subquery()
    spread = (
        select(func.count()).select_from(leading).where(_holds(leading.c.search_key, text))
    ).scalar_subquery() >= DENSE_FROM_THE_START
    posting = CustomerTrigram
    by_trigram = by_walk.join(
        posting,
        and_(
            posting.customer_id == Customer.id,
            posting.reseller_id == reseller_id,
            posting.trigram == walked_trigram(reseller_id, text),
        ),
    )
    in_name_order = [posting.company_name.desc() if descending else posting.company_name]
    in_name_order.append(posting.customer_id)  # as the page: ties by id, ascending

    def either(limit: int, offset: int) -> Select:
        # The walk not taken reads no row: PostgreSQL checks a WHERE on the choice once
        # (a one-time filter; a LIMIT of an expression made it plan parallel workers),
        # SQLite checked it at every row but evaluates a LIMIT before the first.
        if db.session.get_bind().dialect.name == "postgresql":
            name_walk = by_name(limit, offset).where(spread)
            trigram_walk, trigram_limit = by_trigram.where(~spread), limit
        else:
            name_walk, trigram_walk = by_name(case((spread, limit), else_=0), offset), by_trigram
            trigram_limit = case((spread, 0), else_=limit)
        first = name_walk.subquery()
        second = (
            trigram_walk.with_only_columns(posting.customer_id)
            .order_by(*in_name_order)
            .limit(trigram_limit)
            .offset(offset)
            .subquery()
        )
        return union_all(select(first.c.id), select(second.c.customer_id))

    return Walk(page_ids=either, rows=rows)


def search_walk_clause(search: str):
    """The same matches as `search_clause`, in a form no trigram index serves (the stored
    key holds the text: `instr` on SQLite, `strpos` on PostgreSQL), so that the planner
    walks the name index in the page's order and stops after the page. Cheap exactly when
    the text is common: with more than COUNT_CAP matches the walk meets one every few rows,
    where the trigram index would read every match and sort them all (README,
    "Performance")."""
    return _holds(Customer.search_key, search.casefold())


def _holds(key, text: str):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.strpos(key, text) > 0
    return func.instr(key, text) > 0
