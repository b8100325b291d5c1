"""Settings for a service manager or cron (issue 13): each source on its own, the
precedence environment > `.env` > `instance/config.py` > defaults, DATABASE_URL from each,
a value in a file never overwritten by a default, the types, and the tests' own path
reading none of them. Every test points the app at files under tmp_path."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from dotenv import dotenv_values

import vip
from vip import create_app
from vip.config import SETTINGS, Config, StartupError

ROOT = Path(__file__).resolve().parents[2]

#: Each setting as a source writes it (text), and the value the app must then hold; none
#: is its default, so a setting that is not read fails.
TEXT_AND_VALUE = {
    "DATABASE_URL": ("postgresql+psycopg://vip:pw@db.example/vip",) * 2,
    "SECRET_KEY": ("a-secret-from-the-source",) * 2,
    "SESSION_COOKIE_SECURE": ("off", False),
    "VIP_BASE_URL": ("https://vip.example.com",) * 2,
    "VIP_TODAY": ("2026-12-15",) * 2,
    "VIP_PA_ORDER_WINDOW_DAYS": ("21", 21),
    "MAIL_SERVER": ("smtp.example.com",) * 2,
    "MAIL_PORT": ("587", 587),
    "MAIL_USE_TLS": ("yes", True),
    "MAIL_USERNAME": ("vip-mailer",) * 2,
    "MAIL_PASSWORD": ("mail-password",) * 2,
    "MAIL_DEFAULT_SENDER": ("VIP <vip@example.com>",) * 2,
    "VIP_OUTBOX_DIR": ("/var/spool/vip-outbox",) * 2,
    "VIP_RATELIMIT_STORAGE_URI": ("memory://shared",) * 2,
    "VIP_TRUSTED_PROXIES": ("1", 1),
    "VIP_SECURITY_LOG_DAYS": ("730", 730),
    "VIP_WEBHOOK_ALLOW_HTTP": ("on", True),
    "VIP_WEBHOOK_ALLOWED_NETWORKS": ("127.0.0.1, 10.1.0.0/16", "127.0.0.1/32, 10.1.0.0/16"),
    "VIP_API_RATE_LIMIT": ("30 per minute",) * 2,
    "VIP_CACHE_TYPE": ("NullCache",) * 2,
}
#: The same as Python values, as instance/config.py may hold them.
PYTHON_VALUES = {
    "SESSION_COOKIE_SECURE": False,
    "VIP_TODAY": date(2026, 12, 15),
    "VIP_PA_ORDER_WINDOW_DAYS": 21,
    "MAIL_PORT": 587,
    "MAIL_USE_TLS": True,
    "VIP_WEBHOOK_ALLOW_HTTP": True,
}
KEY = {setting.name: setting.key for setting in SETTINGS}


class Sources:
    """The three sources of one app, under tmp_path, the environment emptied of settings."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        self.env_file = tmp_path / "project" / ".env"
        self.instance = tmp_path / "project" / "instance"
        self.instance.mkdir(parents=True)
        self.monkeypatch = monkeypatch
        for name in KEY:
            monkeypatch.delenv(name, raising=False)

    def environment(self, **values: str) -> None:
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def dotenv(self, **values: str) -> None:
        self.env_file.write_text("".join(f"{name}={value!r}\n" for name, value in values.items()))

    def instance_config(self, **values: object) -> None:
        (self.instance / "config.py").write_text(
            "import datetime\n" + "".join(f"{name} = {value!r}\n" for name, value in values.items())
        )

    def app(self):
        return create_app(env_file=self.env_file, instance_path=self.instance)


@pytest.fixture
def sources(tmp_path, monkeypatch) -> Sources:
    return Sources(tmp_path, monkeypatch)


def texts() -> dict[str, str]:
    return {name: text for name, (text, _) in TEXT_AND_VALUE.items()}


def test_the_table_names_every_setting_and_no_value_is_a_default():
    assert set(TEXT_AND_VALUE) == set(KEY)
    for name, (_, value) in TEXT_AND_VALUE.items():
        assert getattr(Config, KEY[name], None) != value, name


# --- one source at a time ------------------------------------------------------------------


def test_defaults_hold_when_no_source_sets_anything(sources):
    app = sources.app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{sources.instance / 'vip.db'}"
    assert app.config["SECRET_KEY"] == (sources.instance / "secret_key").read_text().strip()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["MAIL_USE_TLS"] is False
    assert app.config["MAIL_PORT"] == 25
    assert app.config["MAIL_SERVER"] is None
    assert app.config["VIP_BASE_URL"] == "http://127.0.0.1:5000"
    assert app.config["VIP_TODAY"] is None
    assert app.config["VIP_PA_ORDER_WINDOW_DAYS"] == 14


def _assert_every_setting_read(app) -> None:
    for name, (_, value) in TEXT_AND_VALUE.items():
        assert app.config[KEY[name]] == value, name
        assert type(app.config[KEY[name]]) is type(value), name


def test_the_environment_sets_every_setting_with_its_type(sources):
    sources.environment(**texts())
    _assert_every_setting_read(sources.app())


def test_env_file_sets_every_setting_with_its_type(sources):
    sources.dotenv(**texts())
    _assert_every_setting_read(sources.app())


def test_instance_config_sets_every_setting_from_text(sources):
    sources.instance_config(**texts())
    _assert_every_setting_read(sources.app())


def test_instance_config_sets_every_setting_from_python_values(sources):
    sources.instance_config(**(texts() | PYTHON_VALUES))
    _assert_every_setting_read(sources.app())


def test_mail_use_tls_true_in_instance_config_survives_the_defaults(sources):
    sources.instance_config(MAIL_USE_TLS=True, SESSION_COOKIE_SECURE=False)
    app = sources.app()
    assert app.config["MAIL_USE_TLS"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["REMEMBER_COOKIE_SECURE"] is False  # follows the session cookie


def test_instance_config_keeps_its_other_names(sources):
    """Names that are not environment settings (the page size, engine options, SQLAlchemy's
    own URL key) are applied from instance/config.py as before."""
    sources.instance_config(VIP_PAGE_SIZE=50, SQLALCHEMY_DATABASE_URI="sqlite:///other.db")
    app = sources.app()
    assert app.config["VIP_PAGE_SIZE"] == 50
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///other.db"


@pytest.mark.parametrize("word", ["1", "true", "YES", " on "])
def test_a_true_word_turns_a_flag_on(sources, word):
    sources.environment(MAIL_USE_TLS=word)
    assert sources.app().config["MAIL_USE_TLS"] is True


@pytest.mark.parametrize("word", ["0", "false", "No", "off"])
def test_a_false_word_turns_a_flag_off(sources, word):
    sources.instance_config(MAIL_USE_TLS=True)
    sources.environment(MAIL_USE_TLS=word)
    assert sources.app().config["MAIL_USE_TLS"] is False


# --- precedence ----------------------------------------------------------------------------


def _values_of(source: str) -> dict[str, str]:
    """Distinct, valid values per source for every setting that is not a flag."""
    return {
        "DATABASE_URL": f"postgresql+psycopg://vip:pw@{source}.example/vip",
        "SECRET_KEY": f"secret-of-{source}",
        "VIP_BASE_URL": f"https://{source}.example",
        "VIP_TODAY": {"env": "2026-01-01", "dotenv": "2026-02-02", "instance": "2026-03-03"}[
            source
        ],
        "VIP_PA_ORDER_WINDOW_DAYS": {"env": "1", "dotenv": "2", "instance": "3"}[source],
        "MAIL_SERVER": f"smtp.{source}.example",
        "MAIL_PORT": {"env": "1025", "dotenv": "2025", "instance": "3025"}[source],
        "MAIL_USERNAME": f"user-{source}",
        "MAIL_PASSWORD": f"password-{source}",
        "MAIL_DEFAULT_SENDER": f"{source}@example.com",
        "VIP_OUTBOX_DIR": f"/srv/{source}/outbox",
    }


def _assert_values_of(app, source: str) -> None:
    for name, text in _values_of(source).items():
        expected = int(text) if name in {"MAIL_PORT", "VIP_PA_ORDER_WINDOW_DAYS"} else text
        assert app.config[KEY[name]] == expected, (name, source)


def test_the_environment_wins_over_env_file_and_instance_config(sources):
    sources.instance_config(**_values_of("instance"), MAIL_USE_TLS=True)
    sources.dotenv(**_values_of("dotenv"), MAIL_USE_TLS="true")
    sources.environment(**_values_of("env"), MAIL_USE_TLS="false")
    app = sources.app()
    _assert_values_of(app, "env")
    assert app.config["MAIL_USE_TLS"] is False


def test_env_file_wins_over_instance_config(sources):
    sources.instance_config(**_values_of("instance"), MAIL_USE_TLS=True)
    sources.dotenv(**_values_of("dotenv"), MAIL_USE_TLS="no")
    app = sources.app()
    _assert_values_of(app, "dotenv")
    assert app.config["MAIL_USE_TLS"] is False


def test_each_setting_comes_from_the_highest_source_that_has_it(sources):
    """A source that lacks a setting leaves it to the next one down, not to the default."""
    sources.instance_config(MAIL_SERVER="smtp.instance.example", MAIL_USE_TLS=True)
    sources.dotenv(MAIL_PORT="587", VIP_BASE_URL="https://dotenv.example")
    sources.environment(VIP_BASE_URL="https://env.example")
    app = sources.app()
    assert app.config["MAIL_SERVER"] == "smtp.instance.example"
    assert app.config["MAIL_USE_TLS"] is True
    assert app.config["MAIL_PORT"] == 587
    assert app.config["VIP_BASE_URL"] == "https://env.example"


@pytest.mark.parametrize(
    ("present", "winner"),
    [
        (("instance",), "instance"),
        (("dotenv",), "dotenv"),
        (("env",), "env"),
        (("instance", "dotenv"), "dotenv"),
        (("instance", "env"), "env"),
        (("instance", "dotenv", "env"), "env"),
    ],
)
def test_database_url_comes_from_the_highest_source_that_has_it(sources, present, winner):
    url = {source: f"postgresql+psycopg://vip:pw@{source}.example/vip" for source in present}
    if "instance" in url:
        sources.instance_config(DATABASE_URL=url["instance"])
    if "dotenv" in url:
        sources.dotenv(DATABASE_URL=url["dotenv"])
    if "env" in url:
        sources.environment(DATABASE_URL=url["env"])
    assert sources.app().config["SQLALCHEMY_DATABASE_URI"] == url[winner]


def test_database_url_in_instance_config_wins_over_its_sqlalchemy_key(sources):
    sources.instance_config(
        SQLALCHEMY_DATABASE_URI="sqlite:///old.db", DATABASE_URL="sqlite:///new.db"
    )
    assert sources.app().config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///new.db"


def test_an_empty_value_counts_as_unset(sources):
    sources.dotenv(MAIL_SERVER="smtp.dotenv.example", MAIL_PORT="")
    sources.environment(MAIL_SERVER="")
    app = sources.app()
    assert app.config["MAIL_SERVER"] == "smtp.dotenv.example"
    assert app.config["MAIL_PORT"] == 25


# --- where .env is, and what reading it does -----------------------------------------------


def test_env_file_is_the_project_folders_not_the_working_directorys(sources, tmp_path, monkeypatch):
    assert vip.ENV_FILE == ROOT / ".env" == Path(vip.__file__).resolve().parent.parent / ".env"
    assert (ROOT / "app.py").is_file()
    sources.dotenv(VIP_BASE_URL="https://project.example")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("VIP_BASE_URL=https://cwd.example\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(vip, "ENV_FILE", sources.env_file)
    app = create_app(instance_path=sources.instance)
    assert app.config["VIP_BASE_URL"] == "https://project.example"


def test_reading_env_file_leaves_the_environment_alone(sources):
    before = dict(os.environ)
    sources.dotenv(**texts())
    sources.app()
    assert dict(os.environ) == before


def test_the_tests_config_reads_no_source(sources):
    sources.instance_config(MAIL_SERVER="smtp.instance.example", VIP_PAGE_SIZE=50)
    sources.dotenv(VIP_BASE_URL="https://dotenv.example")
    sources.environment(DATABASE_URL="postgresql+psycopg://vip:pw@env.example/vip")
    app = create_app(
        {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True},
        env_file=sources.env_file,
        instance_path=sources.instance,
    )
    assert app.config["MAIL_SERVER"] is None
    assert app.config["VIP_PAGE_SIZE"] == Config.VIP_PAGE_SIZE
    assert app.config["VIP_BASE_URL"] == Config.VIP_BASE_URL
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://"


# --- invalid values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("MAIL_PORT", "smtp", "a whole number"),
        ("VIP_PA_ORDER_WINDOW_DAYS", "14 days", "a whole number"),
        ("MAIL_USE_TLS", "maybe", "1/true/yes/on"),
        ("VIP_TODAY", "15/12/2026", "YYYY-MM-DD"),
        ("VIP_BASE_URL", "vip.example.com", "https://"),
        ("VIP_CACHE_TYPE", "RedisCache", "SimpleCache or NullCache"),
    ],
)
def test_an_invalid_value_stops_the_app_naming_the_setting_and_file(sources, name, text, expected):
    sources.dotenv(**{name: text})
    with pytest.raises(StartupError) as raised:
        sources.app()
    message = str(raised.value)
    assert name in message and str(sources.env_file) in message and expected in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01", "3000-01-01", "1999-12-31"])
def test_s37_row14_vip_today_beyond_the_supported_dates_stops_the_app(sources, text):
    sources.dotenv(VIP_TODAY=text)
    with pytest.raises(StartupError) as raised:
        sources.app()
    message = str(raised.value)
    assert "VIP_TODAY" in message and "2000-01-01 to 2999-12-31" in message
    assert "\n" not in message


def test_an_invalid_value_in_the_environment_says_so(sources):
    sources.environment(MAIL_PORT="twenty-five")
    with pytest.raises(StartupError, match="MAIL_PORT in the environment"):
        sources.app()


# --- the documentation names every setting -------------------------------------------------


def test_env_example_explains_every_setting_and_sets_none():
    example = ROOT / "docs" / "deploy" / "env.example"
    text = example.read_text()
    for name in KEY:
        assert re.search(rf"^# {name}=", text, re.MULTILINE), name
    assert dotenv_values(example) == {}  # copied as it is, it changes nothing


def test_the_readmes_configuration_table_names_every_setting():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for name in KEY:
        assert f"`{name}`" in section, name
