"""docs/security.md S3-S8, S12-S17, S21, S22 through the HTTP interface."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest

from tests.conftest import HX, PASSWORD, login
from tests.support import csrf_token_in
from vip.config import Config
from vip.extensions import db
from vip.models import AuditEvent, Customer, User
from vip.services.dashboard import SectionKey

# -- S3 brute force ---------------------------------------------------------------------


def test_s3_unknown_user_and_wrong_password_get_the_same_answer(client, tenants):
    unknown = login(client, "nobody@example.com", "whatever whatever")
    wrong = login(client, tenants.a.admin.email, "wrong password here")
    assert unknown.status_code == wrong.status_code == 400
    message = re.compile(r'<p class="error form-error" role="alert">(.*?)</p>')
    assert message.search(unknown.get_data(as_text=True)).group(1) == message.search(
        wrong.get_data(as_text=True)
    ).group(1)


def test_s3_ten_failures_lock_the_account_for_15_minutes(app, client, tenants):
    for _ in range(10):
        assert login(client, tenants.a.admin.email, "not the password!").status_code == 400
    locked = login(client, tenants.a.admin.email, PASSWORD)
    assert locked.status_code == 400  # the right password is refused while locked
    with app.app_context():
        user = db.session.get(User, tenants.a.admin.id)
        assert user.locked_until is not None
        actions = db.session.scalars(
            db.select(AuditEvent.action).where(AuditEvent.actor_id == user.id)
        ).all()
        assert actions.count("login.failed") == 11
        assert "login.locked_out" in actions
        # 15 minutes later it opens again.
        user.locked_until = user.locked_until - timedelta(minutes=15, seconds=1)
        db.session.commit()
    assert login(client, tenants.a.admin.email, PASSWORD).status_code == 303


def test_s3_nine_failures_do_not_lock(client, tenants):
    for _ in range(9):
        login(client, tenants.a.admin.email, "not the password!")
    assert login(client, tenants.a.admin.email, PASSWORD).status_code == 303


# -- S4 session rotation, S5 server-side logout -------------------------------------------


def _session_cookie(client):
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_s4_login_issues_a_new_session(client, tenants):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    before = _session_cookie(client)
    login(client, tenants.a.admin.email)
    after = _session_cookie(client)
    assert before and after and before != after
    with client.session_transaction() as session:
        assert "planted" not in session


def test_s5_replayed_cookie_after_logout_is_refused(client, tenants, login_as):
    login_as(tenants.a.admin)
    stolen = _session_cookie(client)
    assert client.get("/customers").status_code == 200
    assert client.post("/logout").status_code == 303
    client.set_cookie("session", stolen)
    response = client.get("/customers")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_s5_deactivation_ends_the_users_sessions(app, tenants):
    admin_client, sales_client = app.test_client(), app.test_client()
    login(sales_client, tenants.a.sales.email)
    assert sales_client.get("/customers").status_code == 200
    login(admin_client, tenants.a.admin.email)
    assert admin_client.post(f"/team/{tenants.a.sales.id}/deactivate").status_code == 303
    assert sales_client.get("/customers").status_code == 302


# -- S6 cookies, S7 time-outs -------------------------------------------------------------


def test_s6_session_cookie_flags(client, tenants):
    response = login(client, tenants.a.admin.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_s6_production_config_marks_cookies_secure(tmp_path):
    from vip.config import load_settings

    assert Config.SESSION_COOKIE_SECURE is True
    # No source sets it: the secure default stays (and no source overwrites it by default).
    settings = load_settings(
        environ={}, env_file=tmp_path / ".env", instance_config=tmp_path / "config.py"
    )
    assert "SESSION_COOKIE_SECURE" not in settings
    assert Config.REMEMBER_COOKIE_DURATION <= timedelta(days=14)


@pytest.mark.parametrize(
    ("key", "age"), [("seen_at", 31 * 60), ("started_at", 12 * 3600 + 60)], ids=["idle", "absolute"]
)
def test_s7_session_times_out(client, tenants, login_as, key, age):
    login_as(tenants.a.admin)
    with client.session_transaction() as session:
        session[key] = time.time() - age
    response = client.get("/customers")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_s7_activity_keeps_the_session(client, tenants, login_as):
    login_as(tenants.a.admin)
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 29 * 60
    assert client.get("/customers").status_code == 200


# -- S8 next ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\t/evil.example",
        "evil.example",
        "///evil.example",
    ],
)
def test_s8_next_refuses_other_sites(client, tenants, target):
    response = client.post(
        "/login", data={"email": tenants.a.admin.email, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_s8_next_keeps_same_site_paths(client, tenants):
    response = client.post(
        "/login",
        data={"email": tenants.a.admin.email, "password": PASSWORD, "next": "/customers?q=ab"},
    )
    assert response.headers["Location"] == "/customers?q=ab"


# -- S12 mass assignment ------------------------------------------------------------------


def test_s12_posted_tenant_status_and_vip_id_are_ignored(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    response = client.post(
        "/customers/new",
        data={
            "company_name": "Massassign AB",
            "country": "SE",
            "market_segment": "commercial",
            "admin_name": "M A",
            "admin_email": "ma@example.com",
            "admin_language": "sv",
            "reseller_id": tenants.b.reseller.id,
            "status": "active",
            "vip_id": "1234567890",
            "id": 999,
        },
    )
    assert response.status_code == 303
    with app.app_context():
        customer = db.session.scalar(
            db.select(Customer).where(Customer.company_name == "Massassign AB")
        )
        assert customer.reseller_id == tenants.a.reseller.id
        assert customer.status == "invited"
        assert customer.vip_id != "1234567890"
        assert customer.id != 999


# -- S13 methods and CSRF -----------------------------------------------------------------


def test_s13_no_state_change_over_get(client, tenants, login_as):
    login_as(tenants.a.admin)
    assert client.get("/logout").status_code == 405
    assert client.get(f"/team/{tenants.a.sales.id}/deactivate").status_code == 405
    assert client.get(f"/customers/{tenants.a.customer.id}/invitation/resend").status_code == 405


def test_s13_csrf_token_required_and_checked(csrf_app):
    from tests.conftest import build_tenant

    with csrf_app.test_request_context():
        admin_email = build_tenant("Csrf AB", "c").admin.email
        db.session.remove()
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    pre_login_token = csrf_token_in(page)
    response = client.post(
        "/login", data={"email": admin_email, "password": PASSWORD, "csrf_token": pre_login_token}
    )
    assert response.status_code == 303
    form = {
        "company_name": "Csrf Test AB",
        "country": "SE",
        "market_segment": "commercial",
        "admin_name": "C T",
        "admin_email": "ct@example.com",
        "admin_language": "sv",
    }
    assert client.post("/customers/new", data=form).status_code == 400
    # S4: the token issued before login no longer works after it.
    stale = client.post("/customers/new", data={**form, "csrf_token": pre_login_token})
    assert stale.status_code == 400
    wrong = client.post("/customers/new", data={**form, "csrf_token": "forged"})
    assert wrong.status_code == 400
    with csrf_app.app_context():
        assert (
            db.session.scalar(db.select(Customer).where(Customer.company_name == "Csrf Test AB"))
            is None
        )
    token = csrf_token_in(client.get("/customers/new").get_data(as_text=True))
    # htmx sends the token as a header (hx-headers on <body>).
    ok = client.post("/customers/new", data=form, headers={"X-CSRFToken": token})
    assert ok.status_code == 303
    # S14: a stale token on an htmx request asks htmx to reload, it swaps nothing.
    htmx = client.post("/customers/new", data=form, headers={**HX, "X-CSRFToken": "old"})
    assert htmx.status_code == 400 and htmx.headers["HX-Refresh"] == "true"


def test_s14_expired_session_on_htmx_answers_hx_redirect(client, tenants, login_as):
    login_as(tenants.a.admin)
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 3600
    response = client.get(
        f"/customers/{tenants.a.customer.id}/history",
        headers={
            **HX,
            "HX-Current-URL": f"http://localhost/customers/{tenants.a.customer.id}/info",
        },
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert "<html" not in response.get_data(as_text=True)


# -- S15 output escaping --------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_s15_hostile_names_render_inert(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    response = client.post(
        "/customers/new",
        data={
            "company_name": SCRIPT,
            "country": "SE",
            "market_segment": "commercial",
            "admin_name": '"><img src=x onerror=alert(1)>',
            "admin_email": "x@example.com",
            "admin_language": "en",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        customer = db.session.scalar(db.select(Customer).where(Customer.company_name == SCRIPT))
        mail = customer and db.session.scalar(
            db.select(__import__("vip.models", fromlist=["Notification"]).Notification).where(
                db.literal_column("customer_id") == customer.id
            )
        )
        assert mail is not None
        assert SCRIPT not in mail.body_html and "&lt;script&gt;" in mail.body_html
        assert "<img src=x" not in mail.body_html
    pages = [
        "/customers",
        f"/customers/{customer.id}/info",
        f"/customers/{customer.id}/history",
        f"/customers?q={SCRIPT}",
    ]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert SCRIPT not in html, url
        assert "<img src=x" not in html, url
    fragment = client.get(f"/customers/{customer.id}/history", headers=HX).get_data(as_text=True)
    assert SCRIPT not in fragment


# -- S16 headers, S17 htmx config -----------------------------------------------------------


@pytest.mark.parametrize("url", ["/login", "/nowhere", "/static/app.css"])
def test_s16_security_headers_on_every_response(client, url):
    response = client.get(url)
    response.close()
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_s16_authenticated_pages_are_not_cached(client, tenants, login_as):
    login_as(tenants.a.admin)
    response = client.get("/customers")
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_s17_htmx_config_meta(client):
    html = client.get("/login").get_data(as_text=True)
    meta = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', html).group(1)
    import json

    config = json.loads(meta)
    required = {
        "selfRequestsOnly": True,
        "allowEval": False,
        "allowScriptTags": False,
        "historyCacheSize": 0,
        "historyRestoreAsHxRequest": False,
        "includeIndicatorStyles": False,
    }
    assert {key: config.get(key) for key in required} == required
    # Forms with errors answer 422 everywhere, and htmx is told once to swap them.
    handling = config["responseHandling"]
    assert {"code": "422", "swap": True} in handling
    first_error_rule = next(i for i, rule in enumerate(handling) if rule["code"] == "[45]..")
    assert handling.index({"code": "422", "swap": True}) < first_error_rule
    assert re.search(r'src="/static/vendor/htmx-2\.\d+\.\d+\.min\.js"', html)
    assert "<script>" not in html  # no inline scripts anywhere


# -- S21 error pages ------------------------------------------------------------------------


def test_s21_error_page_shows_an_incident_id_and_logs_the_traceback(database, caplog):
    from tests.conftest import empty_all_tables, make_app

    app = make_app(database, "boom")

    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/boom", "boom", boom)
    try:
        with caplog.at_level(logging.ERROR, logger="vip.errors"):
            response = app.test_client().get("/boom")
        html = response.get_data(as_text=True)
        assert response.status_code == 500
        incident = re.search(r'<code class="incident">([0-9a-f]{12})</code>', html).group(1)
        assert "secret internals" not in html and "Traceback" not in html
        assert incident in caplog.text and "secret internals" in caplog.text
        assert response.headers["Content-Security-Policy"]
    finally:
        empty_all_tables(app)


# -- S22 audit ---------------------------------------------------------------------------------


def test_s22_logins_and_denials_are_audited_without_secrets(app, client, tenants, login_as):
    login(client, tenants.a.admin.email, "a wrong password")
    login_as(tenants.a.admin)
    client.get(f"/customers/{tenants.b.customer.id}/info")
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        actions = [event.action for event in events]
        assert "login.failed" in actions and "login.succeeded" in actions
        denial = next(e for e in events if e.action == "access.denied_not_found")
        assert denial.actor_id == tenants.a.admin.id
        assert denial.reseller_id == tenants.a.reseller.id
        assert denial.details["path"] == f"/customers/{tenants.b.customer.id}/info"
        for event in events:
            assert PASSWORD not in str(event.details) and "a wrong password" not in str(
                event.details
            )


def test_s5_password_change_ends_other_sessions_and_keeps_this_one(app, tenants):
    mine, other = app.test_client(), app.test_client()
    login(mine, tenants.a.admin.email)
    login(other, tenants.a.admin.email)
    stolen = _session_cookie(mine)
    new_password = "violet harbour lantern seventy"
    response = mine.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": new_password, "confirm": new_password},
    )
    assert response.status_code == 303
    assert mine.get("/customers").status_code == 200  # this session goes on
    assert other.get("/customers").status_code == 302  # every other one is over
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/customers").status_code == 302  # and so is the old cookie
    assert login(app.test_client(), tenants.a.admin.email, PASSWORD).status_code == 400
    assert login(app.test_client(), tenants.a.admin.email, new_password).status_code == 303
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "user.password_changed")
            )
            == 1
        )


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field"),
    [
        (
            "wrong password!!",
            "violet harbour lantern seventy",
            "violet harbour lantern seventy",
            "current_password",
        ),
        (PASSWORD, "password1234", "password1234", "password"),
        (PASSWORD, "violet harbour lantern seventy", "something else entirely", "confirm"),
    ],
    ids=["wrong-current", "common", "mismatch"],
)
def test_s2_password_change_refusals_change_nothing(
    app, client, tenants, login_as, current, new, confirm, field
):
    login_as(tenants.a.admin)
    with app.app_context():
        before = db.session.get(User, tenants.a.admin.id).password_hash
    response = client.post(
        "/account/password", data={"current_password": current, "password": new, "confirm": confirm}
    )
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, tenants.a.admin.id).password_hash == before
    assert client.get("/customers").status_code == 200


def test_postgresql_connections_run_without_jit_compilation(request, app):
    """JIT compilation cost more than the queries it compiled (vip/database.py); every
    connection of the pool has it off, also after a transaction was rolled back."""
    if request.config.getoption("--db") != "postgres":
        pytest.skip("PostgreSQL's JIT")
    from sqlalchemy import text

    from vip.extensions import db

    with app.app_context():
        db.session.rollback()
        with db.engine.connect() as first, db.engine.connect() as second:
            for connection in (first, second):
                assert connection.scalar(text("SHOW jit")) == "off"
                connection.rollback()
                assert connection.scalar(text("SHOW jit")) == "off"


def test_s26_sqlite_reads_begin_deferred_and_writes_immediate(
    request, app, client, tenants, login_as
):
    """GET pages read side by side under WAL; anything that may write takes the write lock
    first (BEGIN IMMEDIATE), as does every transaction outside a web request."""
    if request.config.getoption("--db") != "sqlite":
        pytest.skip("SQLite's transaction modes")
    from sqlalchemy import event

    from vip.extensions import db

    with app.app_context():
        engine = db.engine
    begun: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            begun.append(statement)

    login_as(tenants.a.admin)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get(f"/customers/{tenants.a.customer.id}/plans").status_code == 200
        reads = list(begun)
        begun.clear()
        client.post(f"/authorizations/{tenants.a.authorization.id}/cancel")
        writes = list(begun)
        begun.clear()
        with app.app_context():
            db.session.execute(db.select(1))
            db.session.rollback()
        outside = list(begun)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert reads and set(reads) == {"BEGIN"}
    assert writes and set(writes) == {"BEGIN IMMEDIATE"}
    assert outside == ["BEGIN IMMEDIATE"]


def test_s26_readers_and_a_writer_at_once_never_see_database_is_locked(
    request, app, tenants, login_as
):
    """Eight threads read pages while another cancels and creates authorizations: every
    response is a page, never a 500 from a locked database."""
    import threading

    errors: list = []
    customer_id = tenants.a.customer.id

    def reader():
        client = app.test_client()
        login(client, tenants.a.sales.email)
        for _ in range(15):
            for tab in ("info", "plans", "orders", "renewals"):
                status = client.get(f"/customers/{customer_id}/{tab}").status_code
                if status != 200:
                    errors.append(("read", tab, status))

    def writer():
        client = app.test_client()
        login(client, tenants.a.admin.email)
        for number in range(10):
            response = client.post(
                f"/customers/{customer_id}/authorizations",
                data={
                    "license_type": "team",
                    "lines-0-product": str(_photoshop_id(app)),
                    "lines-0-quantity": "1",
                    "deployment_date": "2026-11-29",
                    "customer_po_number": f"S26-{number}",
                },
            )
            if response.status_code >= 500:
                errors.append(("write", response.status_code))

    threads = [threading.Thread(target=reader) for _ in range(8)] + [
        threading.Thread(target=writer)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        from vip.models import PurchaseAuthorization

        created = db.session.scalar(
            db.select(db.func.count())
            .select_from(PurchaseAuthorization)
            .where(PurchaseAuthorization.customer_po_number.like("S26-%"))
        )
    assert created == 10  # the writer really wrote while the readers read


def _photoshop_id(app) -> int:
    from tests.conftest import product_id

    with app.app_context():
        return product_id("Photoshop", "team", "commercial")


# -- S41 (issue 15, row 2): no write lock during the password check ------------------------


def _observe_password_checks(monkeypatch, app):
    """Wraps the password checks of `accounts`: each call notes whether the session has a
    transaction open, and on SQLite whether a BEGIN IMMEDIATE (the write lock) is held by
    any connection of the app at that moment."""
    from sqlalchemy import event

    from vip.services import accounts

    with app.app_context():
        engine = db.engine
    held = {"write_transactions": 0}
    seen: list[dict] = []

    def on_statement(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN IMMEDIATE"):
            held["write_transactions"] += 1

    def on_end(_conn):
        held["write_transactions"] = max(0, held["write_transactions"] - 1)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_end)
    event.listen(engine, "rollback", on_end)

    def observed(check):
        def wrapper(*args):
            seen.append(
                {
                    "in_transaction": db.session().in_transaction(),
                    "write_lock": held["write_transactions"] > 0,
                }
            )
            return check(*args)

        return wrapper

    monkeypatch.setattr(accounts, "password_matches", observed(accounts.password_matches))
    monkeypatch.setattr(
        accounts, "burn_time_for_unknown_user", observed(accounts.burn_time_for_unknown_user)
    )

    def detach():
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_end)
        event.remove(engine, "rollback", on_end)

    return seen, detach


def test_s41_row2_failed_logins_check_the_password_before_any_write(
    app, client, tenants, monkeypatch
):
    """Row 2: the scrypt check of a sign-in (known or unknown email, right or wrong
    password) and of a password change runs with no transaction open and no write lock
    held; the failure is then recorded in one short write."""
    seen, detach = _observe_password_checks(monkeypatch, app)
    try:
        assert login(client, tenants.a.admin.email, "a wrong password!").status_code == 400
        assert login(client, "nobody@example.com", "a wrong password!").status_code == 400
        assert login(client, tenants.a.admin.email).status_code == 303
        response = client.post(
            "/account/password",
            data={"current_password": "wrong again!!", "password": "x" * 20, "confirm": "x" * 20},
        )
        assert response.status_code == 422
    finally:
        detach()
    assert len(seen) == 4
    assert all(check == {"in_transaction": False, "write_lock": False} for check in seen), seen
    with app.app_context():
        assert db.session.get(User, tenants.a.admin.id).failed_logins == 1


def test_s41_row2_a_failed_login_is_one_short_write(app, client, tenants, request):
    """The bookkeeping of a failure: one transaction that writes, holding no hash check."""
    if request.config.getoption("--db") != "sqlite":
        pytest.skip("counts SQLite's BEGIN IMMEDIATE statements")
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split())[:60])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert login(client, tenants.a.admin.email, "a wrong password!").status_code == 400
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"], statements  # the read, then the write
    write = statements[statements.index("BEGIN IMMEDIATE") :]
    assert len(write) <= 5, write  # the user, the count, the audit row


# -- S45 (issue 15, row 5): wrong current passwords count toward the lock-out ---------------


def test_s45_row5_wrong_current_passwords_lock_and_are_audited(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    new = "violet harbour lantern seventy"
    for _ in range(9):
        response = client.post(
            "/account/password",
            data={"current_password": "wrong password!!", "password": new, "confirm": new},
        )
        assert response.status_code == 422
    with app.app_context():
        assert db.session.get(User, tenants.a.admin.id).failed_logins == 9
        assert (
            db.session.scalar(
                db.select(db.func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "user.password_change_failed",
                    AuditEvent.actor_id == tenants.a.admin.id,
                )
            )
            == 9
        )
    # The tenth locks the account and ends its sessions, this one included.
    client.post(
        "/account/password",
        data={"current_password": "wrong password!!", "password": new, "confirm": new},
    )
    assert client.get("/customers").status_code == 302
    with app.app_context():
        user = db.session.get(User, tenants.a.admin.id)
        assert user.locked_until is not None
        before = user.password_hash
        assert (
            "login.locked_out"
            in db.session.scalars(
                db.select(AuditEvent.action).where(AuditEvent.actor_id == user.id)
            ).all()
        )
    # The right password no longer signs in while locked, and changed nothing.
    assert login(app.test_client(), tenants.a.admin.email).status_code == 400
    with app.app_context():
        assert db.session.get(User, tenants.a.admin.id).password_hash == before


def test_s45_row5_a_locked_account_cannot_change_its_password(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    with app.app_context():
        user = db.session.get(User, tenants.a.admin.id)
        from vip import clock

        user.locked_until = clock.now() + timedelta(minutes=10)
        db.session.commit()
        before = user.password_hash
    new = "violet harbour lantern seventy"
    response = client.post(
        "/account/password", data={"current_password": PASSWORD, "password": new, "confirm": new}
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(User, tenants.a.admin.id).password_hash == before


# -- S46 (issue 15, row 6): background refreshes are not activity ---------------------------


def test_s46_row6_dashboard_refresh_does_not_keep_the_session_alive(client, tenants, login_as):
    """The dashboard's sections refresh every 60 seconds with X-VIP-Background: 1. Those
    requests are answered while the session lives, but do not move its idle clock: 29
    minutes after the last click a refresh works, and 31 minutes after it the session
    is over, refreshes or not."""
    login_as(tenants.a.admin)
    html = client.get("/").get_data(as_text=True)
    sections = len(SectionKey)  # every section (each also sends back its version, X-VIP-Shown)
    assert len(re.findall(r"hx-headers='\{\"X-VIP-Background\": \"1\"[,}]", html)) == sections
    background = {**HX, "X-VIP-Background": "1"}
    last_click = time.time() - 29 * 60
    with client.session_transaction() as session:
        session["seen_at"] = last_click
    assert client.get("/dashboard/sections/order_due", headers=background).status_code == 200
    with client.session_transaction() as session:
        assert session["seen_at"] == last_click  # the refresh did not count
        session["seen_at"] = time.time() - 31 * 60
    expired = client.get("/dashboard/sections/order_due", headers=background)
    assert expired.status_code == 401 and expired.headers["HX-Redirect"].startswith("/login")


def test_s46_row6_a_user_request_still_counts_as_activity(client, tenants, login_as):
    login_as(tenants.a.admin)
    last_click = time.time() - 29 * 60
    with client.session_transaction() as session:
        session["seen_at"] = last_click
    assert client.get("/dashboard/sections/order_due", headers=HX).status_code == 200
    with client.session_transaction() as session:
        assert session["seen_at"] > last_click + 28 * 60
