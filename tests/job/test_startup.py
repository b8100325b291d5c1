"""The app refuses to start without the compiled Swedish catalog, with one line naming
the command, instead of showing English under lang="sv" (issue 13)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

import vip
from vip import create_app
from vip.config import StartupError

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "pybabel compile -d vip/translations"


@pytest.fixture
def no_catalog(tmp_path, monkeypatch):
    missing = tmp_path / "sv" / "LC_MESSAGES" / "messages.mo"
    monkeypatch.setattr(vip, "SWEDISH_CATALOG", missing)
    return missing


def test_the_catalog_checked_is_the_swedish_one_the_app_uses():
    assert vip.SWEDISH_CATALOG == ROOT / "vip/translations/sv/LC_MESSAGES/messages.mo"
    assert vip.SWEDISH_CATALOG.is_file()  # compiled by the suite's session fixture


def test_the_app_refuses_to_start_without_the_swedish_catalog(no_catalog, tmp_path):
    with pytest.raises(StartupError) as raised:
        create_app(env_file=tmp_path / ".env", instance_path=tmp_path / "instance")
    message = str(raised.value)
    assert COMMAND in message and "make install" in message and str(no_catalog) in message
    assert "\n" not in message


def test_app_py_exits_with_one_line_naming_the_command(no_catalog, capsys):
    """What `flask --app app` and gunicorn print: one line, and exit status 4, gunicorn's
    'App failed to load', which stops its master rather than restarting workers."""
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(ROOT / "app.py"))
    assert exited.value.code == 4
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("Error: ") and COMMAND in error


def test_the_app_starts_with_the_catalog(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app(env_file=tmp_path / ".env", instance_path=tmp_path / "instance")
    assert app.config["BABEL_DEFAULT_LOCALE"] == "sv"
