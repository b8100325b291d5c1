"""Configuration: the defaults of `Config`, overridden by the settings' sources.

A setting is read, highest precedence first, from
1. the real environment (what a shell, systemd or cron sets),
2. `.env` in the project folder (the folder of app.py, wherever the command runs from),
3. `instance/config.py`,
4. the defaults below.

Only a setting present in a source is applied (an empty value counts as absent), so a
value in a file is never overwritten by a default. Every source uses the same names
(`DATABASE_URL`, not SQLAlchemy's key) and gets the same types: the environment and `.env`
hold strings, which are parsed; `instance/config.py` may also hold Python values.
"""

from __future__ import annotations

import ipaddress
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values
from limits import parse_many


class StartupError(RuntimeError):
    """The app cannot start as configured; the message says why and what to do, on one
    line."""


def _text(value: object) -> str:
    return str(value)


def _whole_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("a whole number")
    try:
        return int(value)
    except ValueError:
        raise ValueError("a whole number") from None


TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE | FALSE:
        return word in TRUE
    raise ValueError("one of 1/true/yes/on or 0/false/no/off")


#: The dates the console can work on (S37): a "today" outside them would push its
#: deadline arithmetic (a year ahead, 90 days back) beyond what a date can hold.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def parse_day(value: object) -> date:
    """A date written YYYY-MM-DD between EARLIEST_DAY and LATEST_DAY (a `date` too), or
    ValueError saying which dates are accepted."""
    day = value if isinstance(value, date) else None
    if day is None:
        text = str(value).strip()
        try:
            day = date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            day = None
    if day is None or not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(
            f"a date as YYYY-MM-DD from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}"
        )
    return day


def _iso_date(value: object) -> str:
    """A date, kept as its ISO text (the clock reads it so); a `date` is accepted too."""
    return parse_day(value).isoformat()


def _networks(value: object) -> str:
    """IP addresses or networks, comma-separated (`127.0.0.1, 10.0.0.0/8`); kept as text."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    try:
        return ", ".join(
            str(ipaddress.ip_network(str(item).strip(), strict=False))
            for item in items
            if str(item).strip()
        )
    except ValueError:
        raise ValueError("IP addresses or networks separated by commas") from None


def _base_url(value: object) -> str:
    parts = urlsplit(str(value))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("an http:// or https:// address with a host name")
    return str(value)


def _security_log_days(value: object) -> int:
    days = _whole_number(value)
    if days < MIN_SECURITY_LOG_DAYS:
        raise ValueError(f"a whole number of days, at least {MIN_SECURITY_LOG_DAYS}")
    return days


#: The security log keeps sign-in events, denials and throttling at least this long (S51).
MIN_SECURITY_LOG_DAYS = 400


def _rate_limit(value: object) -> str:
    try:
        parse_many(str(value))
    except ValueError:
        raise ValueError('a rate limit such as "120 per minute"') from None
    return str(value)


#: The caches rendered regions may be kept in (Flask-Caching's names).
CACHE_TYPES = ("SimpleCache", "NullCache")


def _cache_type(value: object) -> str:
    if str(value) not in CACHE_TYPES:
        raise ValueError(" or ".join(CACHE_TYPES))
    return str(value)


@dataclass(frozen=True)
class Setting:
    name: str  # in the environment, `.env` and instance/config.py
    key: str  # in app.config
    parse: Callable[[object], object]


#: Every setting the README's Configuration table lists, in its order.
SETTINGS = (
    Setting("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", _text),
    Setting("SECRET_KEY", "SECRET_KEY", _text),
    Setting("SESSION_COOKIE_SECURE", "SESSION_COOKIE_SECURE", _boolean),
    Setting("VIP_BASE_URL", "VIP_BASE_URL", _base_url),
    Setting("VIP_TODAY", "VIP_TODAY", _iso_date),
    Setting("VIP_PA_ORDER_WINDOW_DAYS", "VIP_PA_ORDER_WINDOW_DAYS", _whole_number),
    Setting("MAIL_SERVER", "MAIL_SERVER", _text),
    Setting("MAIL_PORT", "MAIL_PORT", _whole_number),
    Setting("MAIL_USE_TLS", "MAIL_USE_TLS", _boolean),
    Setting("MAIL_USERNAME", "MAIL_USERNAME", _text),
    Setting("MAIL_PASSWORD", "MAIL_PASSWORD", _text),
    Setting("MAIL_DEFAULT_SENDER", "MAIL_DEFAULT_SENDER", _text),
    Setting("VIP_OUTBOX_DIR", "VIP_OUTBOX_DIR", _text),
    Setting("VIP_RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URI", _text),
    Setting("VIP_TRUSTED_PROXIES", "VIP_TRUSTED_PROXIES", _whole_number),
    Setting("VIP_SECURITY_LOG_DAYS", "VIP_SECURITY_LOG_DAYS", _security_log_days),
    Setting("VIP_WEBHOOK_ALLOW_HTTP", "VIP_WEBHOOK_ALLOW_HTTP", _boolean),
    Setting("VIP_WEBHOOK_ALLOWED_NETWORKS", "VIP_WEBHOOK_ALLOWED_NETWORKS", _networks),
    Setting("VIP_API_RATE_LIMIT", "VIP_API_RATE_LIMIT", _rate_limit),
    Setting("VIP_CACHE_TYPE", "CACHE_TYPE", _cache_type),
)
_SETTING_NAMES = frozenset(setting.name for setting in SETTINGS)


class Config:
    """Defaults for every environment; `load_settings` reads the overrides."""

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Sessions (docs/security.md S6, S7).
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
    # Throttling (S47-S49): per client address and per account, for each action. Each
    # value is a limit in the words of the `limits` library ("20 per minute", several
    # joined by ";"). Storage: in-process memory, or a shared one (VIP_RATELIMIT_STORAGE_URI)
    # when several servers serve the app.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    VIP_RATE_LIMITS = {
        "sign_in": {"address": "60 per minute", "account": "20 per minute"},
        "second_factor": {"address": "60 per minute", "account": "20 per minute"},
        "password_change": {"address": "60 per minute", "account": "20 per minute"},
        "invitation_accept": {"address": "30 per minute", "account": "10 per minute"},
        "invitation_resend": {"address": "60 per minute", "account": "20 per minute"},
        "calendar_feed": {"address": "600 per minute", "account": "20 per minute"},
    }
    #: Proxies in front of the app whose X-Forwarded-For is trusted (nginx: 1), so that
    #: the client address throttling counts by is the client's, not the proxy's.
    VIP_TRUSTED_PROXIES = 0
    # The security log (S50, S51).
    VIP_SECURITY_LOG_DAYS = MIN_SECURITY_LOG_DAYS

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

    # Webhooks (docs/webhooks.md, S70, S71): https only, public addresses only, unless
    # these say otherwise (development and the tests' receiver on 127.0.0.1).
    VIP_WEBHOOK_ALLOW_HTTP = False
    VIP_WEBHOOK_ALLOWED_NETWORKS = ""
    VIP_WEBHOOK_MAX_ATTEMPTS = 10
    VIP_WEBHOOK_TIMEOUT_SECONDS = 10
    # The JSON API (docs/api.md): requests per API key (counted where the throttling
    # above counts: VIP_RATELIMIT_STORAGE_URI).
    VIP_API_RATE_LIMIT = "120 per minute"
    # Rendered regions of the customers list, the renewals overview and VIP information,
    # kept per version of what they show (vip/web/cached_regions.py): in each process's
    # memory, at most CACHE_THRESHOLD of them, each for CACHE_DEFAULT_TIMEOUT seconds at most.
    # VIP_CACHE_TYPE=NullCache keeps none.
    CACHE_TYPE = "SimpleCache"
    CACHE_THRESHOLD = 500  # a region is 10-60 kB: at most about 30 MB per process
    CACHE_DEFAULT_TIMEOUT = 600
    CACHE_NO_NULL_WARNING = True  # NullCache is chosen on purpose
    VIP_CACHED_REGIONS = True
    API_TITLE = "VIP Reseller Console API"
    API_VERSION = "1"
    OPENAPI_VERSION = "3.1.0"


def settings_in(values: Mapping[str, object], *, source: str) -> dict:
    """The app.config entries of the settings present in `values`, typed. An invalid value
    is a StartupError naming the setting and `source`."""
    found: dict = {}
    for setting in SETTINGS:
        value = values.get(setting.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            found[setting.key] = setting.parse(value.strip() if isinstance(value, str) else value)
        except ValueError as error:
            raise StartupError(
                f"{setting.name} in {source} must be {error}, not {value!r}."
            ) from None
    return found


def read_instance_config(path: Path) -> dict:
    """Every upper-case name of `instance/config.py` (as Flask's `from_pyfile`), with the
    settings typed and DATABASE_URL mapped to SQLALCHEMY_DATABASE_URI; {} without one."""
    if not path.is_file():
        return {}
    module = types.ModuleType("config")
    module.__file__ = str(path)
    exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)  # noqa: S102 - the operator's own file
    names = {name: getattr(module, name) for name in dir(module) if name.isupper()}
    other = {name: value for name, value in names.items() if name not in _SETTING_NAMES}
    return other | settings_in(names, source=str(path))


def read_env_file(path: Path) -> dict:
    """The settings of a `.env` file, typed; {} without one. os.environ is left alone."""
    if not path.is_file():
        return {}
    return settings_in(dotenv_values(path), source=str(path))


def load_settings(*, environ: Mapping[str, str], env_file: Path, instance_config: Path) -> dict:
    """The app.config entries the sources give, each from the source of highest precedence
    that has it: the environment, then `env_file`, then `instance_config`. Defaults are
    not included: they stay where no source has a setting."""
    return (
        read_instance_config(instance_config)
        | read_env_file(env_file)
        | settings_in(environ, source="the environment")
    )
