"""Every Flask extension is created here, and only here."""

from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
#: Throttling (docs/security.md S47-S49). Limits are declared where they apply, with
#: `limiter.limit(...)` and a key function of their own (a client address, an account, an
#: API key); none applies by default. Storage: RATELIMIT_STORAGE_URI (in-process memory
#: by default; a shared store such as redis:// when several servers serve the app).
limiter = Limiter(get_remote_address, headers_enabled=True)
#: Rendered regions of pages (vip/web/cached_regions.py), keyed by what they show: in each
#: process's memory by default (VIP_CACHE_TYPE).
cache = Cache()


class OpenApi(Api):
    """flask-smorest's Api (the OpenAPI document of vip/web/api), without its app-wide
    JSON error handler: the web pages keep their HTML error pages and the API answers
    problem+json from its own blueprints' handlers (vip/web/api/problems.py)."""

    DEFAULT_ERROR_RESPONSE_NAME = None  # each operation documents its problem responses

    def _register_error_handlers(self):
        return None

    def _register_responses(self):
        return None  # its JSON error responses are not ours: ours are problem details

    def _register_pagination_header(self):
        return None  # the API pages with `next` links, not flask-smorest's header


#: The document is built per app, in create_app (flask-smorest keeps it on the instance).
openapi = OpenApi()
