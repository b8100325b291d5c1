"""The customers search through its trigram index (vip/models/customer_search.py): the
same answers as a plain substring match, kept current on insert and rename, on both
databases, and the index is really there."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from tests.services.test_customers import new_customer, user
from vip.extensions import db
from vip.models import Customer
from vip.models.customers import search_key
from vip.services import listing
from vip.services.customers import list_customers
from vip.services.listing import search_clause

NAMES = [
    "Nordljus Design AB",
    "Norrsken Bygg AB",
    "Fjällnära Ord & Bild",
    'Citat "Nord" HB',
    "Ångström Åkeri",
    "100% Nord_Data",
    "Straße Media GmbH",
]


@pytest.fixture
def portfolio(tenants, ctx):
    admin = user(tenants.a.admin)
    for index, name in enumerate(NAMES):
        new_customer(admin, name, admin_email=f"kontakt{index}@nord{index}.example")
    new_customer(user(tenants.b.admin), "Nordljus Oy", admin_email="x@nordljus.example")
    return admin


def expected(admin, text: str) -> list[str]:
    """The rule, in Python: the case-folded search key contains the case-folded text."""
    own = db.session.scalars(select(Customer).where(Customer.reseller_id == admin.reseller_id))
    return sorted(
        c.company_name
        for c in own
        if text.strip().casefold() in search_key(c.company_name, c.vip_id, c.admin_email)
    )


def found(admin, text: str) -> list[str]:
    return sorted(
        c.company_name for c in list_customers(user=admin, search=text, page_size=100).items
    )


def test_search_index_exists_on_this_database(portfolio):
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT rowid FROM customer_search WHERE customer_search MATCH '\"nordljus\"'"
        ).all()
        assert len(rows) == 2  # both resellers' Nordljus: the index is global, the query not
    else:
        indexes = {i["name"] for i in sa.inspect(connection).get_indexes("customers")}
        definition = connection.scalar(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
            {"n": "ix_customers_search_key_trgm"},
        )
        assert "gin_trgm_ops" in (definition or ""), indexes


@pytest.mark.parametrize(
    "text",
    [
        "nord",
        "NORD",
        "ord",
        "no",
        "n",
        "ljus des",
        '"nord"',
        "100%",
        "d_d",
        "ångström",
        "ÅNGSTRÖM",
        "strasse",
        "straße",
        "kontakt3@",
        ".example",
        "zzz",
        "åke",
    ],
)
def test_r1_search_with_the_index_answers_as_a_substring_match(portfolio, text):
    assert found(portfolio, text) == expected(portfolio, text)


def test_r1_search_index_follows_a_rename(portfolio):
    customer = db.session.scalar(
        select(Customer).where(Customer.company_name == "Norrsken Bygg AB")
    )
    customer.company_name = "Midnattssol Bygg AB"
    db.session.commit()
    assert "Midnattssol Bygg AB" in found(portfolio, "midnatt")
    assert "Norrsken Bygg AB" not in found(portfolio, "norrsken")
    assert found(portfolio, "norrsken") == expected(portfolio, "norrsken") == []


def test_r1_search_index_follows_a_bulk_update_of_the_key(portfolio):
    """An UPDATE that bypasses the ORM still keeps the index (triggers on SQLite)."""
    db.session.execute(
        update(Customer)
        .where(Customer.company_name == "Straße Media GmbH")
        .values(search_key="helt annat namn")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    assert found(portfolio, "annat namn") == ["Straße Media GmbH"]
    assert found(portfolio, "media gmbh") == []


def test_r1_search_index_is_asked_only_from_three_characters(portfolio):
    dialect = db.session.get_bind().dialect
    short = str(search_clause("no").compile(dialect=dialect))
    long = str(search_clause("nor").compile(dialect=dialect))
    assert "customer_search" not in short
    if dialect.name == "sqlite":
        assert "customer_search MATCH" in long
    else:
        assert "customer_search" not in long  # the GIN index serves the LIKE itself


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet="nordNORDåÅ %_\"'ljusAB@.", min_size=1, max_size=8))
def test_r1_search_any_text_answers_as_a_substring_match(portfolio, text):
    if not text.strip():
        return
    assert found(portfolio, text) == expected(portfolio, text)


# --- a common word: the name index walked instead of the trigram index ----------------------


def pages_of(admin, text: str, *, sort: str = "name", status: str = "") -> list:
    """Every page of the search, 3 rows a page: (ids, total, has_more) each."""
    result = []
    page = 1
    while True:
        listed = list_customers(
            user=admin, search=text, sort=sort, status=status, page=page, page_size=3
        )
        result.append(([c.id for c in listed.items], listed.total, listed.has_more))
        if not listed.has_more or page > 20:
            return result
        page += 1


def page_statements(admin, text: str, sort: str) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        list_customers(user=admin, search=text, sort=sort, page_size=3)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return seen


@pytest.mark.parametrize("sort", ["name", "-name", "status"])
@pytest.mark.parametrize("text", ["nord", "AB", "ab", "example", "Nordljus", "å", "zz"])
def test_r1_a_common_word_walks_the_name_index_with_the_same_pages(
    portfolio, monkeypatch, text, sort
):
    """With more matches than the count's cap, the name-ordered pages come from a walk of
    the name index (instr/strpos, which no trigram index serves): the very rows, order,
    totals and pages of the trigram search."""
    admin = portfolio
    for index in range(12):  # equal names: the order falls back to the id
        new_customer(admin, f"Nord Lika {index % 3} AB", admin_email=f"l{index}@lika.example")
    with_index = pages_of(admin, text, sort=sort)
    with_index_active = pages_of(admin, text, sort=sort, status="invited")
    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    walked = page_statements(admin, text, sort)[-1]

    assert [ids for ids, _total, _more in pages_of(admin, text, sort=sort)] == [
        ids for ids, _total, _more in with_index
    ]
    assert [ids for ids, *_ in pages_of(admin, text, sort=sort, status="invited")] == [
        ids for ids, *_ in with_index_active
    ]
    common = with_index[0][1] > 2
    walks = sort != "status" and common
    assert (("instr(" in walked) or ("strpos(" in walked)) == walks
