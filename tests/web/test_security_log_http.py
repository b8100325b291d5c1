"""The security log of a partner admin (docs/security.md S50, S51): what it lists, its
filters and pages, the CSV export, tenant isolation and the retention of 400 days."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.conftest import HX, PASSWORD, login
from tests.support import count, in_app, user
from vip import clock
from vip.extensions import db
from vip.models import AuditEvent
from vip.services import audit, security_log


def _events(app, tenants):
    """A failed sign-in and a lock-out of the sales user, a denial of the admin, and one
    event of each kind in the other tenant."""
    client = app.test_client()
    login(client, tenants.a.sales.email, "wrong password!!")
    login(client, tenants.b.sales.email, "wrong password for b")
    with in_app(app):
        audit.record(
            actor=user(tenants.a.sales),
            action="login.locked_out",
            object_type="user",
            object_id=tenants.a.sales.id,
        )
        audit.record(actor=user(tenants.b.admin), action="login.locked_out")
        db.session.commit()


def test_s50_partner_admin_sees_the_resellers_events_only(app, client, tenants, login_as):
    _events(app, tenants)
    login_as(tenants.a.admin)
    html = client.get("/security-log").get_data(as_text=True)
    assert tenants.a.sales.email in html
    assert tenants.b.sales.email not in html and tenants.b.admin.email not in html
    assert 'id="security-log"' in html and "<h1>" in html


def test_s50_filter_by_kind_and_user(app, client, tenants, login_as):
    _events(app, tenants)
    login_as(tenants.a.admin)
    failures = client.get("/security-log?kind=failures").get_data(as_text=True)
    assert tenants.a.sales.email in failures
    sign_ins = client.get(f"/security-log?kind=sign_ins&user={tenants.a.admin.id}")
    html = sign_ins.get_data(as_text=True)
    assert tenants.a.sales.email not in html.split('id="security-log"')[1]
    assert tenants.a.admin.email in html.split('id="security-log"')[1]
    # Unknown kinds are the whole log; another tenant's user is not found.
    assert client.get("/security-log?kind=nonsense").status_code == 200
    assert client.get(f"/security-log?user={tenants.b.sales.id}").status_code == 404


def test_s50_htmx_gets_the_list_partial(app, client, tenants, login_as):
    login_as(tenants.a.admin)
    response = client.get("/security-log?kind=sign_ins", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<div id="security-log">')
    assert "HX-Request" in response.headers["Vary"]


def test_s50_paged_with_the_shared_pagination(app, client, tenants, login_as):
    with in_app(app):
        for _ in range(30):
            audit.record(actor=user(tenants.a.sales), action="login.succeeded")
        db.session.commit()
    login_as(tenants.a.admin)
    first = client.get("/security-log?kind=sign_ins").get_data(as_text=True)
    assert 'class="pagination"' in first and "page=2" in first and "kind=sign_ins" in first
    second = client.get("/security-log?kind=sign_ins&page=2").get_data(as_text=True)
    assert first.count("security-event-") == 25
    assert 1 <= second.count("security-event-") <= 7


def test_s50_only_partner_admins(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    assert client.get("/security-log").status_code == 403
    assert client.get("/security-log/export.csv").status_code == 403


def test_s50_csv_export(app, client, tenants, login_as):
    _events(app, tenants)
    with in_app(app):
        audit.record(
            actor=user(tenants.a.sales),
            action="access.denied_not_found",
            details={"path": "=HYPERLINK(1)", "method": "GET", "detail": "x"},
        )
        db.session.commit()
    login_as(tenants.a.admin)
    client.post("/language", data={"language": "en"})
    response = client.get("/security-log/export.csv?kind=denials")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=","))
    assert rows[0] == ["Time", "Event", "User", "Details"]
    assert len(rows) == 2
    assert rows[1][2] == tenants.a.sales.email
    assert "'=HYPERLINK(1)" in rows[1][3]  # neutralised (S18)
    assert tenants.b.sales.email not in text


def test_s51_retention_keeps_400_days_and_deletes_older_sign_in_events(app, tenants):
    with in_app(app):
        now = clock.now()
        kept = audit.record(actor=user(tenants.a.sales), action="login.failed")
        kept.at = now - timedelta(days=399)
        old = audit.record(actor=user(tenants.a.sales), action="login.failed")
        old.at = now - timedelta(days=401)
        team = audit.record(actor=user(tenants.a.admin), action="user.deactivated")
        team.at = now - timedelta(days=900)
        history = audit.record(
            actor=user(tenants.a.admin),
            action="access.denied_role",
            customer=db.session.merge(tenants.a.customer),
        )
        history.at = now - timedelta(days=900)
        db.session.commit()
        ids = {
            name: event.id
            for name, event in (("kept", kept), ("old", old), ("team", team), ("history", history))
        }
        assert security_log.expired_count(now=now) == 1
        assert security_log.purge_expired(now=now) == 1
        remaining = set(db.session.scalars(db.select(AuditEvent.id)))
        assert ids["old"] not in remaining
        assert {ids["kept"], ids["team"], ids["history"]} <= remaining


def test_s51_the_deadline_job_applies_the_retention(app, runner, tenants):
    with in_app(app):
        old = audit.record(actor=user(tenants.a.sales), action="login.succeeded")
        old.at = clock.now() - timedelta(days=500)
        db.session.commit()
    result = runner.invoke(args=["vip", "tick", "--no-send"])
    assert result.exit_code == 0, result.output
    assert "Security log: 1 events past the retention period deleted." in result.output
    with in_app(app):
        assert count(AuditEvent, AuditEvent.action == "login.succeeded") == 0


@pytest.mark.parametrize("days", ["399", "0", "-5"])
def test_s51_retention_setting_cannot_go_below_400_days(tmp_path, days):
    from vip.config import StartupError, load_settings

    with pytest.raises(StartupError, match="VIP_SECURITY_LOG_DAYS"):
        load_settings(
            environ={"VIP_SECURITY_LOG_DAYS": days},
            env_file=tmp_path / ".env",
            instance_config=tmp_path / "config.py",
        )


def test_s50_login_password_never_in_the_log(app, client, tenants, login_as):
    login(client, tenants.a.sales.email, "a very secret wrong one")
    login_as(tenants.a.admin)
    assert "a very secret wrong one" not in client.get("/security-log").get_data(as_text=True)
    assert PASSWORD not in client.get("/security-log/export.csv").get_data(as_text=True)
