"""`flask vip create-reseller`: a reseller sets itself up from the command line, with its
first partner admin (a password from stdin, or a set-password link by mail)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support import in_app
from vip.extensions import db
from vip.models import AuditEvent, Notification, Reseller, Role, User

PASSWORD = "a strong enough harbour password"


def create(runner, *args, password: str | None = PASSWORD):
    return runner.invoke(
        args=["vip", "create-reseller", *args], input=None if password is None else password + "\n"
    )


def rows(app) -> tuple[int, int, int, int]:
    with in_app(app):
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Reseller, User, Notification, AuditEvent)
        )


def test_create_reseller_with_its_first_partner_admin(app, runner, client):
    result = create(
        runner,
        "Prod Reseller AB",
        "--country",
        "se",
        "--time-zone",
        "Europe/Helsinki",
        "--contact-email",
        "order@prod.example",
        "--contact-phone",
        "+46 8 555 000 11",
        "--admin",
        "Boss@Prod.example",
        "--admin-name",
        "Bo Ss",
        "--language",
        "en",
    )
    assert result.exit_code == 0, result.output
    assert "Created reseller 'Prod Reseller AB'" in result.output
    with in_app(app):
        reseller = db.session.scalar(select(Reseller))
        assert (reseller.country, reseller.time_zone) == ("SE", "Europe/Helsinki")
        assert (reseller.contact_email, reseller.contact_phone) == (
            "order@prod.example",
            "+46 8 555 000 11",
        )
        admin = db.session.scalar(select(User))
        assert (admin.role, admin.reseller_id, admin.language, admin.name) == (
            Role.RESELLER_ADMIN,
            reseller.id,
            "en",
            "Bo Ss",
        )
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"reseller.created", "user.created"} <= actions
    # The admin signs in with the password it was given.
    response = client.post("/login", data={"email": "boss@prod.example", "password": PASSWORD})
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Beta AB", "--admin", "Taken@prod.example"], "--admin: A user with this email"),
        (["acme ab", "--admin", "new@prod.example"], "NAME: A reseller with this name"),
        (["Other AB", "--admin", "x@prod.example", "--time-zone", "Mars/Base"], "--time-zone"),
        (["Other AB", "--admin", "x@prod.example", "--country", "Sverige"], "--country"),
        (["Other AB", "--admin", "x@prod.example", "--contact-email", "nope"], "--contact-email"),
        (["O", "--admin", "x@prod.example"], "NAME: Use 2 to 120 characters."),
    ],
)
def test_create_reseller_refuses_with_one_line_and_writes_nothing(app, runner, args, message):
    assert create(runner, "Acme AB", "--admin", "taken@prod.example").exit_code == 0
    before = rows(app)
    result = create(runner, *args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert rows(app) == before


def test_create_reseller_refuses_a_weak_password(app, runner):
    result = create(runner, "Acme AB", "--admin", "a@prod.example", password="password123")
    assert result.exit_code == 1 and "password: " in result.output
    assert rows(app) == (0, 0, 0, 0)


def test_create_reseller_with_invite_mails_a_single_use_link(app, runner, client):
    result = create(runner, "Acme AB", "--admin", "new@prod.example", "--invite", password=None)
    assert result.exit_code == 0, result.output
    with in_app(app):
        mail = db.session.scalar(select(Notification))
        assert (mail.kind, mail.recipient, mail.customer_id) == (
            "account_invitation",
            "new@prod.example",
            None,
        )
        link = next(line for line in mail.body_text.splitlines() if "/set-password/" in line)
    path = link.strip().removeprefix("http://localhost")
    assert "Choose your password" in client.get(path, headers={"Accept-Language": "en"}).text
    response = client.post(
        path, data={"password": PASSWORD, "confirm": PASSWORD}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert client.post("/login", data={"email": "new@prod.example", "password": PASSWORD})
    # The link worked once.
    again = client.post(path, data={"password": PASSWORD + "!", "confirm": PASSWORD + "!"})
    assert again.status_code == 410
    # The job delivers the mail like any other.
    sent = runner.invoke(args=["vip", "send-mail"])
    assert sent.exit_code == 0 and "send account_invitation to new@prod.example" in sent.output
