"""Two-factor sign-in (docs/security.md S40, S42-S44) through the services, with codes the
library computes at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD
from tests.support import count, english, enrol_two_factor, in_app, totp_code, user
from vip.extensions import db
from vip.models import AuditEvent, RecoveryCode, User
from vip.services import accounts, two_factor
from vip.services.errors import DomainError, NotVisible, PermissionDenied

NOW = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)


def _sign_in(user_id: int, code: str, now: datetime) -> User:
    member = user(user_id)
    return two_factor.sign_in_with_code(
        user_id=user_id, session_version=member.session_version, code=code, now=now
    )


def test_s40_enrolment_needs_a_code_of_the_new_key(app, tenants):
    with in_app(app):
        secret = two_factor.new_secret()
        with pytest.raises(two_factor.SecondFactorRefused):
            two_factor.enrol(user=user(tenants.a.sales), secret=secret, code="000000", now=NOW)
        assert user(tenants.a.sales).totp_secret is None
        codes = two_factor.enrol(
            user=user(tenants.a.sales), secret=secret, code=totp_code(secret, NOW), now=NOW
        )
        member = user(tenants.a.sales)
        assert member.totp_secret == secret and member.two_factor_enabled_at == NOW
        assert len(codes) == 10 and len(set(codes)) == 10
        assert count(AuditEvent, AuditEvent.action == "two_factor.enabled") == 1


def test_s40_the_key_gives_the_rfc_6238_codes(app, tenants):
    """The otpauth address carries the key, SHA-1, 6 digits and 30 seconds (RFC 6238), so
    any authenticator app computes the codes the console expects."""
    with in_app(app):
        secret = two_factor.new_secret()
        uri = two_factor.provisioning_uri(secret=secret, email="a@example.com")
        assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
        assert "issuer=VIP%20Reseller%20Console" in uri
        assert len(secret) == 32  # 160 bits
        assert two_factor.grouped_secret("ABCDEFGH") == "ABCD EFGH"


def test_s40_a_code_completes_the_sign_in_once(app, tenants):
    with in_app(app):
        secret, _ = enrol_two_factor(tenants.a.sales.id, now=NOW)
        later = NOW + timedelta(seconds=30)
        signed_in = _sign_in(tenants.a.sales.id, totp_code(secret, later), later)
        assert signed_in.id == tenants.a.sales.id
        # The same code again, within its window: refused (no replay).
        with pytest.raises(two_factor.SecondFactorRefused):
            _sign_in(tenants.a.sales.id, totp_code(secret, later), later + timedelta(seconds=5))
        # An older step than the last one used: refused too.
        with pytest.raises(two_factor.SecondFactorRefused):
            _sign_in(tenants.a.sales.id, totp_code(secret, NOW), later)
        # The next step's code works.
        next_step = later + timedelta(seconds=30)
        assert _sign_in(tenants.a.sales.id, totp_code(secret, next_step), next_step)
        actions = db.session.scalars(
            db.select(AuditEvent.action).where(AuditEvent.actor_id == tenants.a.sales.id)
        ).all()
        assert actions.count("login.succeeded") == 2
        assert actions.count("two_factor.failed") == 2


def test_s40_codes_of_one_step_either_side_are_accepted_and_no_further(app, tenants):
    with in_app(app):
        secret, _ = enrol_two_factor(tenants.a.sales.id, now=NOW)
        at = NOW + timedelta(minutes=5)
        with pytest.raises(two_factor.SecondFactorRefused):
            _sign_in(tenants.a.sales.id, totp_code(secret, at, steps=2), at)
        with pytest.raises(two_factor.SecondFactorRefused):
            _sign_in(tenants.a.sales.id, totp_code(secret, at, steps=-2), at)
        assert _sign_in(tenants.a.sales.id, totp_code(secret, at, steps=1), at)


def test_s40_wrong_codes_count_toward_the_lock_out(app, tenants):
    with in_app(app):
        secret, _ = enrol_two_factor(tenants.a.sales.id, now=NOW)
        at = NOW + timedelta(minutes=1)
        for _ in range(10):
            with pytest.raises(two_factor.SecondFactorRefused):
                _sign_in(tenants.a.sales.id, "123456", at)
        assert user(tenants.a.sales).locked_until == at + timedelta(minutes=15)
        # Locked: even the right code is refused, and says nothing more.
        with pytest.raises(accounts.LoginRefused):
            _sign_in(tenants.a.sales.id, totp_code(secret, at), at)
        assert count(AuditEvent, AuditEvent.action == "login.locked_out") == 1


def test_s40_the_password_alone_does_not_reset_the_failures(app, tenants):
    """A known password must not buy more guesses at the code: the failures are reset only
    when every factor was given."""
    with in_app(app):
        enrol_two_factor(tenants.a.sales.id, now=NOW)
        at = NOW + timedelta(minutes=1)
        for _ in range(5):
            with pytest.raises(two_factor.SecondFactorRefused):
                _sign_in(tenants.a.sales.id, "123456", at)
        returned = accounts.authenticate(email=tenants.a.sales.email, password=PASSWORD, now=at)
        assert returned.two_factor_enabled
        assert user(tenants.a.sales).failed_logins == 5
        assert count(AuditEvent, AuditEvent.action == "login.succeeded") == 0


def test_s40_a_session_ended_between_the_steps_refuses_the_code(app, tenants):
    with in_app(app):
        secret, _ = enrol_two_factor(tenants.a.sales.id, now=NOW)
        version = user(tenants.a.sales).session_version
        accounts.end_sessions(user=user(tenants.a.sales), reason="logout")
        later = NOW + timedelta(seconds=30)
        with pytest.raises(accounts.LoginRefused):
            two_factor.sign_in_with_code(
                user_id=tenants.a.sales.id,
                session_version=version,
                code=totp_code(secret, later),
                now=later,
            )


def test_s42_recovery_codes_are_stored_hashed_and_work_once(app, tenants):
    with in_app(app):
        _, codes = enrol_two_factor(tenants.a.sales.id, now=NOW)
        stored = db.session.scalars(db.select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10
        assert not any(code in stored or code.replace("-", "") in stored for code in codes)
        at = NOW + timedelta(minutes=1)
        assert _sign_in(tenants.a.sales.id, codes[3].lower(), at)
        with pytest.raises(two_factor.SecondFactorRefused):
            _sign_in(tenants.a.sales.id, codes[3], at)
        assert two_factor.remaining_recovery_codes(user(tenants.a.sales)) == 9
        event = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == "login.succeeded")
        ).one()
        assert event.details == {"second_factor": "recovery_code"}
        assert codes[3] not in str(event.details)


def test_s42_enrolling_again_replaces_the_recovery_codes(app, tenants):
    with in_app(app):
        _, first = enrol_two_factor(tenants.a.sales.id, now=NOW)
        two_factor.reset_for_member(actor=user(tenants.a.admin), user_id=tenants.a.sales.id)
        assert count(RecoveryCode) == 0
        _, second = enrol_two_factor(tenants.a.sales.id, now=NOW + timedelta(minutes=1))
        assert not set(first) & set(second)
        assert count(RecoveryCode) == 10


def test_s43_requirement_is_a_partner_admin_switch_and_audited(app, tenants):
    with in_app(app):
        with pytest.raises(PermissionDenied):
            two_factor.set_requirement(user=user(tenants.a.sales), required=True)
        assert two_factor.set_requirement(user=user(tenants.a.admin), required=True)
        assert not two_factor.set_requirement(user=user(tenants.a.admin), required=True)
        assert two_factor.required_for(user(tenants.a.sales))
        assert not two_factor.required_for(user(tenants.b.sales))
        assert not two_factor.required_for(user(tenants.a.vip_admin))  # reseller users only
        assert count(AuditEvent, AuditEvent.action == "reseller.two_factor_required") == 1


def test_s43_a_required_second_factor_cannot_be_turned_off_by_its_user(app, tenants):
    with in_app(app):
        secret, _ = enrol_two_factor(tenants.a.sales.id, now=NOW)
        two_factor.set_requirement(user=user(tenants.a.admin), required=True)
        later = NOW + timedelta(seconds=30)
        with pytest.raises(DomainError) as refused:
            two_factor.disable_own(
                user=user(tenants.a.sales), code=totp_code(secret, later), now=later
            )
        assert "requires" in english(refused.value)
        assert user(tenants.a.sales).two_factor_enabled


def test_s44_vip_admin_enrols_and_turns_it_off_with_a_code(app, tenants):
    with in_app(app):
        secret, _ = enrol_two_factor(tenants.a.vip_admin.id, now=NOW)
        later = NOW + timedelta(seconds=30)
        with pytest.raises(two_factor.SecondFactorRefused):
            two_factor.disable_own(user=user(tenants.a.vip_admin), code="111111", now=later)
        assert user(tenants.a.vip_admin).failed_logins == 1
        two_factor.disable_own(
            user=user(tenants.a.vip_admin), code=totp_code(secret, later), now=later
        )
        assert not user(tenants.a.vip_admin).two_factor_enabled
        assert count(RecoveryCode) == 0
        assert count(AuditEvent, AuditEvent.action == "two_factor.disabled") == 1


def test_s44_partner_admin_resets_a_member_and_signs_them_out(app, tenants):
    with in_app(app):
        enrol_two_factor(tenants.a.sales.id, now=NOW)
        version = user(tenants.a.sales).session_version
        member = two_factor.reset_for_member(
            actor=user(tenants.a.admin), user_id=tenants.a.sales.id
        )
        assert not member.two_factor_enabled
        assert user(tenants.a.sales).session_version == version + 1
        event = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == "two_factor.reset")
        ).one()
        assert event.actor_id == tenants.a.admin.id
        assert event.object_id == str(tenants.a.sales.id)


def test_s44_reset_is_for_partner_admins_of_the_same_reseller(app, tenants):
    with in_app(app):
        enrol_two_factor(tenants.a.sales.id, now=NOW)
        with pytest.raises(PermissionDenied):
            two_factor.reset_for_member(actor=user(tenants.a.sales), user_id=tenants.a.admin.id)
        with pytest.raises(NotVisible):
            two_factor.reset_for_member(actor=user(tenants.b.admin), user_id=tenants.a.sales.id)
        with pytest.raises(DomainError):
            two_factor.reset_for_member(actor=user(tenants.a.admin), user_id=tenants.a.admin.id)
        assert user(tenants.a.sales).two_factor_enabled
        assert count(AuditEvent, AuditEvent.action == "two_factor.reset") == 0


def test_s40_check_code_for_other_flows_spends_once_and_counts_failures(app, tenants):
    """The check other flows use (an existing VIP admin accepting another invitation)."""
    with in_app(app):
        secret, codes = enrol_two_factor(tenants.a.vip_admin.id, now=NOW)
        later = NOW + timedelta(seconds=30)
        member = user(tenants.a.vip_admin)
        assert (
            two_factor.check_code(user=member, code=totp_code(secret, later), now=later) == "totp"
        )
        db.session.commit()
        with pytest.raises(two_factor.SecondFactorRefused):
            two_factor.check_code(
                user=user(tenants.a.vip_admin), code=totp_code(secret, later), now=later
            )
        assert user(tenants.a.vip_admin).failed_logins == 1
        assert two_factor.check_code(user=user(tenants.a.vip_admin), code=codes[0], now=later) == (
            "recovery_code"
        )
        db.session.commit()
        member = user(tenants.a.vip_admin)
        member.locked_until = later + timedelta(minutes=1)
        db.session.commit()
        with pytest.raises(two_factor.SecondFactorRefused):
            two_factor.check_code(user=user(tenants.a.vip_admin), code=codes[1], now=later)
        assert two_factor.remaining_recovery_codes(user(tenants.a.vip_admin)) == 9
