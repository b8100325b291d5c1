"""Lists of customers, shared by the pages that show them (the customers list, the renewals
overview, the dashboard's sections): capped counts, pages, and the search."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Select,
    and_,
    column,
    func,
    literal_column,
    select,
    table,
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
    `rows` reads the rows of those ids. Used when the rows are more than COUNT_CAP."""

    page_ids: Callable[[int, int], Select]
    rows: Select


def paginate(
    query: Select,
    ordering: list,
    *,
    page: int,
    page_size: int,
    id_column=Customer.id,
    when_many: Walk | None = None,
) -> CustomerPage:
    """A capped count and one page query (one row more, to know if another page follows).
    `id_column` is the primary key of the rows, when they are not customers. `when_many`
    is the walk of the same rows for the page when they are more than COUNT_CAP (a search
    for a common word: see `common_word_walk`)."""
    total = capped_count(query, id_column=id_column)
    # A page past every possible row: clamped, so that its offset fits the database (S28).
    page = min(max(1, page), ID_MAX // page_size)
    if total <= COUNT_CAP:
        page = min(page, max(1, math.ceil(total / page_size)))
    window = query.order_by(*ordering).limit(page_size + 1).offset((page - 1) * page_size)
    if total > COUNT_CAP and when_many is not None:
        # The walk reads ids alone (an index holds all it tests), then the page's rows.
        ids = when_many.page_ids(page_size + 1, (page - 1) * page_size)
        window = when_many.rows.where(id_column.in_(ids)).order_by(*ordering)
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


#: The walk by name is taken when DENSE_FROM_THE_START of the first NAMES_TRIED names in
#: the page's order hold the text (its matches are spread from the start); otherwise the
#: walk by trigram, by the trigram of the text more of whose first CUSTOMERS_TRIED
#: customers by name hold it.
NAMES_TRIED = 100
DENSE_FROM_THE_START = 10
CUSTOMERS_TRIED = 40


def _leading_matches(rows: Select, order: list, limit: int, key, text: str):
    """How many of the first `limit` rows of `rows` in `order` have `key` holding `text`."""
    leading = rows.with_only_columns(key.label("key")).order_by(*order).limit(limit).subquery()
    return (
        select(func.count()).select_from(leading).where(_holds(leading.c.key, text))
    ).scalar_subquery()


def _trigram_rows(reseller_id: int, trigram: str) -> Select:
    return (
        select(Customer.id)
        .select_from(CustomerTrigram)
        .join(Customer, Customer.id == CustomerTrigram.customer_id)
        .where(CustomerTrigram.reseller_id == reseller_id, CustomerTrigram.trigram == trigram)
    )


def walk_choice(rows: Select, text: str, *, reseller_id: int, descending: bool):
    """One statement of bounded reads: (whether the text's matches are spread from the
    start of the name order, the trigram to walk by otherwise). The trigram is the text's
    last, or its first when more of the first's leading customers hold the text: a word's
    end tells more than its start ("skog" and "skola" share "sko"). Counting each
    trigram's customers instead would read thousands of rows each and still not tell
    where in the name order the matches are."""
    name = [Customer.company_name.desc() if descending else Customer.company_name, Customer.id]
    first, last = text[:3], text[-3:]
    by_trigram = [CustomerTrigram.company_name, CustomerTrigram.customer_id]
    probes = [
        _leading_matches(rows, name, NAMES_TRIED, Customer.search_key, text),
        _leading_matches(
            _trigram_rows(reseller_id, last), by_trigram, CUSTOMERS_TRIED, Customer.search_key, text
        ),
    ]
    if first != last:
        probes.append(
            _leading_matches(
                _trigram_rows(reseller_id, first),
                by_trigram,
                CUSTOMERS_TRIED,
                Customer.search_key,
                text,
            )
        )
    spread, *by_each = db.session.execute(select(*probes)).one()
    trigram = first if len(by_each) == 2 and by_each[1] > by_each[0] else last
    return spread >= DENSE_FROM_THE_START, trigram


def common_word_walk(
    rows: Select, search: str, *, reseller_id: int | None, descending: bool
) -> Walk:
    """The walk (`Walk`, for `paginate`) of the customers of `rows` whose search key holds
    `search`, by company name: cheap exactly when the text is common, where the trigram
    index would read every match and sort them all (README, "Performance").

    With three characters or more it is chosen by `walk_choice` (one statement, sent
    whether the walk is then needed or not, so that a page sends as many statements
    whatever the portfolio). When the matches are spread from the start of the name
    order: the name index itself (it holds the search key: no row read but the page's).
    Otherwise the reseller's customers having one trigram of the text in name order
    (vip/models/customer_trigrams.py), which meets a match every few rows even when the
    matches sit together far on in the name order ("Nord…", "Öst…"), where the name index
    would read every name before them. Shorter texts, or a user of no reseller, walk the
    name index."""
    text = search.casefold()
    name = [Customer.company_name.desc() if descending else Customer.company_name, Customer.id]
    by_walk = rows.where(search_walk_clause(search))

    def by_name(limit: int, offset: int) -> Select:
        ids = by_walk.with_only_columns(Customer.id).order_by(*name)
        return ids.limit(limit).offset(offset)

    if len(text) < MIN_INDEXED_LENGTH or reseller_id is None:
        return Walk(page_ids=by_name, rows=by_walk)
    spread, trigram = walk_choice(rows, text, reseller_id=reseller_id, descending=descending)
    if spread:
        return Walk(page_ids=by_name, rows=by_walk)
    posting = CustomerTrigram
    by_trigram = by_walk.join(
        posting,
        and_(
            posting.customer_id == Customer.id,
            posting.reseller_id == reseller_id,
            posting.trigram == trigram,
        ),
    )
    in_name_order = [posting.company_name.desc() if descending else posting.company_name]
    in_name_order.append(posting.customer_id)  # as the page: ties by id, ascending

    def by_posting(limit: int, offset: int) -> Select:
        ids = by_trigram.with_only_columns(posting.customer_id).order_by(*in_name_order)
        return ids.limit(limit).offset(offset)

    return Walk(page_ids=by_posting, rows=rows)


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
