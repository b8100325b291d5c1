"""The customers search through its trigram index (vip/models/customer_search.py): the
same answers as a plain substring match, kept current on insert and rename, on both
databases, and the index is really there; for a common word, the walk by name through
each customer's trigrams (vip/models/customer_trigrams.py) gives the same pages."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from tests.services.test_customers import new_customer, user
from vip.extensions import db
from vip.models import Customer, CustomerTrigram
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
    statements = page_statements(admin, text, sort)
    walked = statements[-1]

    assert [ids for ids, _total, _more in pages_of(admin, text, sort=sort)] == [
        ids for ids, _total, _more in with_index
    ]
    assert [ids for ids, *_ in pages_of(admin, text, sort=sort, status="invited")] == [
        ids for ids, *_ in with_index_active
    ]
    common = with_index[0][1] > 2
    walks = sort != "status" and common
    assert (("instr(" in walked) or ("strpos(" in walked)) == walks
    # By name and from three characters, which walk to take is asked of every search, so
    # that a page sends as many statements whatever the count.
    probed = any("customer_trigrams" in statement for statement in statements)
    assert probed == (sort != "status" and len(text) >= 3)


# --- each customer's trigrams in name order ----------------------------------------------------


def stored_trigrams() -> set[tuple]:
    return set(
        db.session.execute(
            select(
                CustomerTrigram.reseller_id,
                CustomerTrigram.trigram,
                CustomerTrigram.company_name,
                CustomerTrigram.customer_id,
            )
        ).all()
    )


def computed_trigrams() -> set[tuple]:
    """The same from every customer's search key, in Python."""
    return {
        (c.reseller_id, c.search_key[i : i + 3], c.company_name, c.id)
        for c in db.session.scalars(select(Customer))
        for i in range(len(c.search_key) - 2)
    }


def test_r1_the_trigrams_follow_every_write_to_customers(portfolio, tenants):
    """Insert, rename, a new email, a bulk UPDATE of the key, a move to another reseller, a
    delete: after each the table holds exactly every customer's trigrams."""
    assert stored_trigrams() == computed_trigrams() != set()
    customer = db.session.scalar(select(Customer).where(Customer.company_name == NAMES[0]))
    customer.company_name = "Midnattssol Design AB"
    db.session.commit()
    assert stored_trigrams() == computed_trigrams()
    customer.admin_email = "ny.kontakt@midnatt.example"
    db.session.commit()
    assert stored_trigrams() == computed_trigrams()
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(search_key="helt annat namn")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    assert stored_trigrams() == computed_trigrams()
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(reseller_id=tenants.b.reseller.id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    assert stored_trigrams() == computed_trigrams()
    other = db.session.scalar(select(Customer).where(Customer.company_name == NAMES[1]))
    for table in ("audit_events", "invitations", "notifications", "webhook_events"):
        db.session.execute(
            sa.text(f"DELETE FROM {table} WHERE customer_id = :id"), {"id": other.id}
        )
    db.session.execute(sa.delete(Customer).where(Customer.id == other.id))
    db.session.commit()
    assert stored_trigrams() == computed_trigrams()
    assert other.id not in {row[3] for row in stored_trigrams()}


@pytest.mark.parametrize("walk", ["by name", "by trigram"])
@pytest.mark.parametrize("text", ["nord", "ljus", "ord", "kog", "data", "ab"])
def test_r1_a_common_word_clustered_in_name_order_pages_as_the_trigram_search(
    portfolio, monkeypatch, text, walk
):
    """Names where the word sits together at one place of the name order, and a word that
    shares a trigram with names everywhere: either walk gives the very pages of the
    trigram search, both sort directions."""
    admin = portfolio
    for index in range(20):
        new_customer(admin, f"Alfa Skola {index:02d} AB", admin_email=f"a{index}@skola.example")
        new_customer(admin, f"Skog Data {index:02d} AB", admin_email=f"s{index}@skog.example")
    expected_pages = {sort: pages_of(admin, text, sort=sort) for sort in ("name", "-name")}
    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    # The walk by name whenever a match is among the first names, or never.
    monkeypatch.setattr(listing, "DENSE_FROM_THE_START", 1 if walk == "by name" else 10**6)
    for sort, pages in expected_pages.items():
        assert pages_of(admin, text, sort=sort) == [
            (ids, listing.COUNT_CAP + 1 if total > 2 else total, more) for ids, total, more in pages
        ]


def walked(reseller_id: int, text: str) -> str:
    rows = select(Customer).where(Customer.reseller_id == reseller_id)
    return listing.walk_choice(rows, text, reseller_id=reseller_id, descending=False)[1]


def test_r1_the_walked_trigram_is_the_last_unless_the_first_meets_more_matches(portfolio):
    """The text's last trigram, or its first when more of the first's leading customers by
    name hold the text."""
    admin = portfolio
    for index in range(6):
        new_customer(admin, f"Alfa Skola {index} AB", admin_email=f"k{index}@example.org")
        new_customer(admin, f"Skog {index} AB", admin_email=f"g{index}@example.org")
    reseller_id = admin.reseller_id
    # "sko" starts with the six "Alfa Skola", "kog" with the six "Skog" that match.
    assert walked(reseller_id, "skog") == "kog"
    assert walked(reseller_id, "skol") == "kol"  # as many: the last
    assert walked(reseller_id, "zzzz") == "zzz"  # none anywhere: the last
    assert walked(reseller_id, "öst") == "öst"  # one trigram
    # "ata" leads to forty "Aaa Data" that do not hold "nordata"; "nor" to the one that does.
    for index in range(listing.CUSTOMERS_TRIED):
        new_customer(admin, f"Aaa Data {index:02d} AB", admin_email=f"d{index}@example.org")
    new_customer(admin, "Zeta Nordata AB", admin_email="z@example.org")
    assert walked(reseller_id, "nordata") == "nor"


def test_r1_a_word_spread_from_the_start_and_one_far_on_page_alike(portfolio, monkeypatch):
    """A word whose matches start the name order (the walk by name) and one whose matches
    sit together at its end (the walk by trigram): each page holds its first matches, and
    the walk's ids are the page's alone."""
    admin = portfolio
    for index in range(30):
        new_customer(admin, f"Aaa Skola {index:02d} AB", admin_email=f"a{index}@example.org")
        new_customer(admin, f"Zzz Skog {index:02d} AB", admin_email=f"z{index}@example.org")
    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    monkeypatch.setattr(listing, "NAMES_TRIED", 20)

    def plan_rows(text: str) -> list[str]:
        listed = list_customers(user=admin, search=text, page_size=3)
        return [customer.company_name for customer in listed.items]

    assert plan_rows("skola") == ["Aaa Skola 00 AB", "Aaa Skola 01 AB", "Aaa Skola 02 AB"]
    assert plan_rows("skog") == ["Zzz Skog 00 AB", "Zzz Skog 01 AB", "Zzz Skog 02 AB"]
    spread = db.session.scalar(
        select(func.count()).select_from(
            listing.common_word_walk(
                select(Customer).where(Customer.reseller_id == admin.reseller_id),
                "skola",
                reseller_id=admin.reseller_id,
                descending=False,
            )
            .page_ids(3, 0)
            .subquery()
        )
    )
    assert spread == 3
