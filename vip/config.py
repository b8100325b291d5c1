"""Configuration read from the environment (and `instance/config.py`)."""

from __future__ import annotations

import os
from datetime import timedelta


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Defaults for every environment; `from_env` reads overrides."""

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Sessions (SECURITY.md S6, S7).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    VIP_SESSION_IDLE_MINUTES = 30
    VIP_SESSION_ABSOLUTE_HOURS = 12

    # Brute force (S3).
    VIP_LOCKOUT_THRESHOLD = 10
    VIP_LOCKOUT_MINUTES = 15
    # werkzeug scrypt (S1); tests lower its cost, never its kind.
    VIP_PASSWORD_HASH = "scrypt"

    WTF_CSRF_TIME_LIMIT = None  # bound to the session, which expires on its own

    BABEL_DEFAULT_LOCALE = "sv"
    BABEL_DEFAULT_TIMEZONE = "Europe/Stockholm"
    BABEL_TRANSLATION_DIRECTORIES = "translations"
    VIP_LANGUAGES = ("sv", "en")

    # Domain settings.
    VIP_TODAY: str | None = None
    VIP_PA_ORDER_WINDOW_DAYS = 14
    VIP_INVITATION_VALID_DAYS = 30
    VIP_PAGE_SIZE = 25
    VIP_BASE_URL = "http://127.0.0.1:5000"

    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "VIP Reseller Console <no-reply@reseller.example>"
    VIP_OUTBOX_DIR: str | None = None  # .eml files when no MAIL_SERVER; default instance/outbox
    VIP_MAIL_MAX_ATTEMPTS = 6

    @classmethod
    def from_env(cls) -> dict:
        env = os.environ
        values: dict = {}
        for key in (
            "SECRET_KEY",
            "MAIL_SERVER",
            "MAIL_USERNAME",
            "MAIL_PASSWORD",
            "MAIL_DEFAULT_SENDER",
            "VIP_TODAY",
            "VIP_BASE_URL",
            "VIP_OUTBOX_DIR",
        ):
            if env.get(key):
                values[key] = env[key]
        if env.get("DATABASE_URL"):
            values["SQLALCHEMY_DATABASE_URI"] = env["DATABASE_URL"]
        if env.get("MAIL_PORT"):
            values["MAIL_PORT"] = int(env["MAIL_PORT"])
        if env.get("VIP_PA_ORDER_WINDOW_DAYS"):
            values["VIP_PA_ORDER_WINDOW_DAYS"] = int(env["VIP_PA_ORDER_WINDOW_DAYS"])
        values["MAIL_USE_TLS"] = _flag("MAIL_USE_TLS", cls.MAIL_USE_TLS)
        values["SESSION_COOKIE_SECURE"] = _flag("SESSION_COOKIE_SECURE", cls.SESSION_COOKIE_SECURE)
        values["REMEMBER_COOKIE_SECURE"] = values["SESSION_COOKIE_SECURE"]
        return values
