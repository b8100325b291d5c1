"""VIP Reseller Console: the application factory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from vip import database
from vip.cli import vip_cli
from vip.config import Config, StartupError, load_settings
from vip.extensions import babel, cache, csrf, db, limiter, login_manager, migrate
from vip.services import change_count, pipeline_summary
from vip.web import (
    admin_console,
    api_keys,
    auth,
    authorizations,
    calendar_feed,
    commitments,
    customer_import,
    customers,
    home,
    htmx,
    i18n,
    invitations,
    orders,
    outbox,
    renewals,
    security,
    security_log,
    settings,
    team,
    template_helpers,
    throttling,
    webhooks,
)
from vip.web.api import resources as api_resources
from vip.web.auth import load_user, unauthorized

#: The project folder (of app.py): found from the package, so any working directory works.
ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / ".env"
INSTANCE = ROOT / "instance"
#: Without it the pages would be English under lang="sv"; `make install` compiles it.
SWEDISH_CATALOG = ROOT / "vip" / "translations" / "sv" / "LC_MESSAGES" / "messages.mo"


def create_app(
    test_config: dict | None = None,
    *,
    env_file: Path | None = None,
    instance_path: Path | None = None,
) -> Flask:
    """The app, configured from the environment, `.env` and `instance/config.py` (see
    vip.config), or from `test_config` alone. `env_file` and `instance_path` default to
    the project folder's `.env` and `instance/`."""
    instance = Path(instance_path or INSTANCE)
    if test_config is None:
        require_compiled_translations()
    app = Flask(
        __name__,
        instance_path=str(instance),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Config)
    if test_config is None:
        app.config.update(
            load_settings(
                environ=os.environ,
                env_file=Path(env_file or ENV_FILE),
                instance_config=instance / "config.py",
            )
        )
        app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
    else:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'vip.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))

    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    return app


def require_compiled_translations() -> None:
    """Refuse to start without the Swedish catalog rather than show English as Swedish."""
    if not SWEDISH_CATALOG.is_file():
        raise StartupError(
            f"The Swedish translations are not compiled: {SWEDISH_CATALOG} is missing. "
            f"Run `pybabel compile -d vip/translations` (or `make install`) in {ROOT}."
        )


def _instance_secret_key(instance: Path) -> str:
    """A random key kept in instance/ so sessions survive restarts of `make run`."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        os.chmod(key_file, 0o600)
    return key_file.read_text().strip()


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    database.configure_engine_events(app)
    pipeline_summary.keep_up_to_date(db.session)
    change_count.keep_up_to_date(db.session)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    cache.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"


def register_blueprints(app: Flask) -> None:
    security.init_app(app)
    throttling.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    template_helpers.init_app(app)
    for module in (
        auth,
        home,
        customer_import,
        customers,
        authorizations,
        orders,
        commitments,
        renewals,
        outbox,
        invitations,
        team,
        settings,
        webhooks,
        api_keys,
        admin_console,
        security_log,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(calendar_feed.bp)
    api_resources.register(app)


def register_cli(app: Flask) -> None:
    app.cli.add_command(vip_cli)
